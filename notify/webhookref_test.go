package notify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
)

// TestWebhookURLReference: a webhook url written as a secret reference is
// read through Options.Secrets at send time; errors show the reference,
// never the URL (which embeds a token); the message carries the
// operator's UID as the PagerDuty incident and in the webhook body.
func TestWebhookURLReference(t *testing.T) {
	rec := newReceiver(t)
	url := rec.URL + "/hooks/T0KEN-abcdef"
	secrets := map[canary.SecretRef]string{"secret:hooks/url": url, "secret:hooks/signing": "sign-key"}
	o := Options{Clock: canarytest.NewClock(time.Unix(1700000000, 0)), Secrets: func(ref canary.SecretRef) (string, error) {
		if v, ok := secrets[ref]; ok {
			return v, nil
		}
		return "", errors.New("secret " + ref.String() + ": not found")
	}}
	a := canary.Audience{Audience: "ops", Webhook: &canary.WebhookChannel{URL: "secret:hooks/url", Secret: "secret:hooks/signing"}}
	s, err := o.New(a, ChannelWebhook)
	if err != nil {
		t.Fatal(err)
	}
	m := Message{Key: KeyUID("uid-1", 3, "ops", ChannelWebhook), UID: "uid-1", Namespace: "shop", Audience: "ops", Channel: ChannelWebhook,
		Event: canary.Event{Seq: 3, Rollout: "web", Type: canary.EvPromoted, Message: "promoted"}}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 1 || reqs[0].Path != "/hooks/T0KEN-abcdef" {
		t.Fatalf("requests = %+v", reqs)
	}
	if err := VerifySignature([]byte("sign-key"), reqs[0].Header, reqs[0].Body, time.Unix(1700000000, 0), 0); err != nil {
		t.Errorf("signature: %v", err)
	}
	if got := reqs[0].Header.Get(HeaderDelivery); got != "rollout/uid-1/event/3/ops/webhook" {
		t.Errorf("delivery key %q", got)
	}
	if !strings.Contains(string(reqs[0].Body), `"uid":"uid-1"`) {
		t.Errorf("body lacks the rollout's UID: %s", reqs[0].Body)
	}
	if got := m.Incident(); got != "canary/shop/web/uid-1" {
		t.Errorf("Incident() = %q", got)
	}

	rec.Answer = func(int, *http.Request) (int, string) { return 500, "boom at " + url }
	err = s.Send(t.Context(), m)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "webhook secret:hooks/url answered 500") || strings.Contains(err.Error(), "T0KEN") {
		t.Errorf("500 from a referenced URL: %v; want a retryable error naming the reference, without the token", err)
	}
	a.Webhook.URL = "secret:hooks/gone"
	s, _ = o.New(a, ChannelWebhook)
	if err := s.Send(t.Context(), m); err == nil || !strings.Contains(err.Error(), "webhook url: secret secret:hooks/gone") {
		t.Errorf("unreadable URL reference: %v", err)
	}
}
