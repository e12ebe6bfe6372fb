package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// Headers of a webhook request.
const (
	// HeaderDelivery carries the message's key: the same on every retry of
	// one message, so a receiver drops a key it has seen.
	HeaderDelivery = "X-Canary-Delivery"
	// HeaderEvent is the event type (stepCompleted, rolledBack, …).
	HeaderEvent = "X-Canary-Event"
	// HeaderTimestamp is when the request was signed, in Unix seconds.
	HeaderTimestamp = "X-Canary-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// channel's secret, of the timestamp, a dot and the body.
	HeaderSignature = "X-Canary-Signature"
)

// DefaultReplayWindow is how far a webhook's timestamp may be from the
// receiver's clock, either way, for VerifySignature to accept it. Each
// retry is signed afresh, so a late retry still verifies.
const DefaultReplayWindow = 5 * time.Minute

// Webhook posts each message as JSON (WebhookBody) to a URL. With a secret
// the request is signed: HeaderSignature is the HMAC-SHA256 of
// "<HeaderTimestamp>.<body>", which receivers check with VerifySignature.
type Webhook struct {
	// URL to post to, or a secret reference (env:NAME, file:/path or,
	// under canary operator, secret:NAME/KEY) to it, read at every send,
	// for a URL that embeds a token. Required. A URL is shown in errors
	// with credentials and query values redacted; a referenced URL is
	// shown as its reference.
	URL string
	// Secret references the HMAC key. Default: none, and the request is
	// not signed (receivers cannot tell it from a forgery).
	Secret canary.SecretRef
	Options
}

var _ Sender = (*Webhook)(nil)

// WebhookBody is the JSON a webhook receives.
type WebhookBody struct {
	// Delivery is the message's key, as in HeaderDelivery.
	Delivery string `json:"delivery"`
	// Audience is the plan's audience the message is for.
	Audience string `json:"audience"`
	// Rollout says which rollout.
	Rollout WebhookRollout `json:"rollout"`
	// Event is the event, as in the rollout's event log.
	Event canary.Event `json:"event"`
	// Evaluations are, for stepCompleted, the step's last evaluation.
	Evaluations []canary.Evaluation `json:"evaluations,omitempty"`
	// Test is set on a message from `canary notify test`.
	Test bool `json:"test,omitempty"`
}

// WebhookRollout identifies a rollout in a WebhookBody.
type WebhookRollout struct {
	// ID is the store's rollout ID (0 for a test).
	ID int64 `json:"id,omitempty"`
	// UID is the Rollout object's Kubernetes UID under canary operator.
	UID string `json:"uid,omitempty"`
	// Name is namespace/name.
	Name string `json:"name"`
	// Version is the canary version.
	Version string `json:"version,omitempty"`
	// URL is the rollout's page, when canary's base URL is configured.
	URL string `json:"url,omitempty"`
}

// webhookBody renders m's body.
func webhookBody(m Message, link string) ([]byte, error) {
	return marshal(WebhookBody{
		Delivery: m.Key, Audience: m.Audience,
		Rollout: WebhookRollout{ID: m.RolloutID, UID: m.UID, Name: m.Name(), Version: m.Version, URL: link},
		Event:   m.Event, Evaluations: m.Evaluations, Test: m.Test,
	})
}

// Send posts m, signed when a secret is configured. Any 2xx answer is
// success; a 4xx other than 408, 425 and 429 is permanent.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	target, what, err := w.target()
	if err != nil {
		return err
	}
	secrets := urlSecrets(target)
	var key string
	if w.Secret != "" {
		if key, err = w.secret(w.Secret); err != nil {
			return err
		}
		secrets = append(secrets, key)
	}
	body, err := webhookBody(m, w.link(m))
	if err != nil {
		return Permanent(fmt.Errorf("encode webhook body: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: %s", what, scrub(err.Error(), secrets...)))
	}
	ts := w.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "canary-notify/1")
	req.Header.Set(HeaderDelivery, m.Key)
	req.Header.Set(HeaderEvent, string(m.Event.Type))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if key != "" {
		req.Header.Set(HeaderSignature, "sha256="+sign([]byte(key), ts, body))
	}
	resp, err := w.httpClient().Do(req)
	if err != nil {
		return transportError("post to "+what, err, secrets...)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return statusError(what, resp, secrets...)
}

// target is the URL to post to and how errors name it: the URL redacted,
// or the reference it was read from.
func (w *Webhook) target() (target, what string, err error) {
	ref := canary.SecretRef(w.URL)
	if !IsSecretRef(w.URL) {
		return w.URL, "webhook " + RedactURL(w.URL), nil
	}
	what = "webhook " + ref.String()
	if target, err = w.secret(ref); err != nil {
		return "", what, fmt.Errorf("webhook url: %w", err)
	}
	return target, what, nil
}

// IsSecretRef reports whether s is written as a secret reference (env:,
// file: or secret:) rather than a URL.
func IsSecretRef(s string) bool {
	for _, p := range []string{"env:", "file:", "secret:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// sign is the hex HMAC-SHA256 of "<ts>.<body>".
func sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks a webhook request from canary: header's
// X-Canary-Signature must be the HMAC-SHA256, keyed with secret, of
// X-Canary-Timestamp, a dot and body, and the timestamp must be within
// window of now either way (window ≤ 0: DefaultReplayWindow). It returns
// ErrNoSignature, ErrBadSignature or ErrStale (test with errors.Is), or nil.
// Within the window a captured request can be replayed: receivers that
// must not act twice also drop X-Canary-Delivery keys they have seen.
func VerifySignature(secret []byte, header http.Header, body []byte, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = DefaultReplayWindow
	}
	sig, tsText := header.Get(HeaderSignature), header.Get(HeaderTimestamp)
	if sig == "" || tsText == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrBadSignature, truncate(tsText, 20))
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
	if err != nil || !strings.HasPrefix(sig, "sha256=") {
		return fmt.Errorf("%w: not sha256=<hex>", ErrBadSignature)
	}
	want, _ := hex.DecodeString(sign(secret, ts, body))
	if !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > window || d < -window {
		return fmt.Errorf("%w: signed %s from now, window %s", ErrStale, canary.FormatDuration(d.Abs()), canary.FormatDuration(window))
	}
	return nil
}
