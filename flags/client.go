package flags

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// DefaultClientTimeout is the timeout of ClientConfig's default HTTPClient.
const DefaultClientTimeout = 10 * time.Second

// ClientConfig configures NewClient.
type ClientConfig struct {
	// URL is the flag service's base URL, e.g. http://admin.recoveryos.com:
	// flags are at URL/feature-flags/{name}. Required, http or https.
	URL string
	// Token references the bearer token sent as "Authorization: Bearer …"
	// (env:NAME or file:/path). It is read at every request, so a rotated
	// file is picked up. Default: no Authorization header.
	Token canary.SecretRef
	// Secrets reads Token. Default: canary.SecretRef.Resolve (env:NAME and
	// file:/path); canary operator passes one that also reads
	// secret:NAME/KEY from a Kubernetes Secret.
	Secrets SecretResolver
	// Environment is sent with every change. Default: production.
	Environment string
	// Rollout names the rollout making the changes ("namespace/name"); it
	// is part of the default reason sent in the X-Canary-Reason header.
	// Optional.
	Rollout string
	// HTTPClient makes the requests; redirects are never followed (a POST
	// turned into a GET would look like success). Default: a client with
	// a DefaultClientTimeout (10s) timeout.
	HTTPClient *http.Client
}

// Client is the http flag provider: it moves a flag on an external
// service speaking the runbook's API (POST and GET /feature-flags/{name})
// and reads every change back.
type Client struct {
	cfg  ClientConfig
	base *url.URL
	hc   *http.Client
}

var _ canary.FlagSetter = (*Client)(nil)

// NewClient checks cfg (the URL, and that the token can be read now) and
// returns a Client; ctx bounds the token's first read. Errors are code
// invalid.
func NewClient(ctx context.Context, cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, canary.Errorf(canary.EINVALID, "flag service URL %q is not an http(s) URL, e.g. http://admin.recoveryos.com", clipped(cfg.URL))
	}
	if u.User != nil {
		return nil, canary.Errorf(canary.EINVALID, "flag service URL: remove the user and password; give the token as featureFlag.token (env:NAME or file:/path)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, canary.Errorf(canary.EINVALID, "flag service URL %q: remove the query or fragment (give the base URL)", clipped(cfg.URL))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if cfg.Environment == "" {
		cfg.Environment = canary.DefaultFlagEnvironment
	}
	if _, err := resolveSecret(ctx, "featureFlag.token", cfg.Token, cfg.Secrets); err != nil {
		return nil, err
	}
	hc := http.Client{Timeout: DefaultClientTimeout}
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{cfg: cfg, base: u, hc: &hc}, nil
}

// SetFlag sets the flag absolutely (POST {"enabled", "rollout_percentage",
// "environment"}), then reads it back (GET) and returns an error (code
// unavailable) unless the service holds what was set: the runbook's
// "feature flag not taking effect" check. The reason goes in the
// X-Canary-Reason header: the context's (WithReason), else a description.
// A service that is down, refuses or answers an error fails with a
// message naming the URL and the status.
func (c *Client) SetFlag(ctx context.Context, name string, enabled bool, percent int) error {
	env := c.cfg.Environment
	u := Update{Enabled: &enabled, RolloutPercentage: &percent, Environment: &env}
	if err := canary.CheckFlagName(name); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	body, _ := json.Marshal(u) // pointers to plain values: cannot fail
	reason := ReasonFrom(ctx)
	if reason == "" {
		reason = describeSet(enabled, percent)
		if c.cfg.Rollout != "" {
			reason = "rollout " + c.cfg.Rollout + ": " + reason
		}
	}
	if _, err := c.do(ctx, http.MethodPost, name, body, reason); err != nil {
		return fmt.Errorf("set flag %s: %w", name, err)
	}
	f, err := c.GetFlag(ctx, name)
	if err != nil {
		return fmt.Errorf("read back flag %s after setting it: %w", name, err)
	}
	return confirm(f, name, u, c.flagURL(name))
}

// GetFlag reads a flag from the service. Fields canary does not know are
// ignored; enabled and rollout_percentage are required. A missing flag is
// code not_found.
func (c *Client) GetFlag(ctx context.Context, name string) (Flag, error) {
	if err := canary.CheckFlagName(name); err != nil {
		return Flag{}, err
	}
	b, err := c.do(ctx, http.MethodGet, name, nil, "")
	if err != nil {
		return Flag{}, err
	}
	var got struct {
		Enabled           *bool   `json:"enabled"`
		RolloutPercentage *int    `json:"rollout_percentage"`
		Environment       *string `json:"environment"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		return Flag{}, canary.Errorf(canary.EUNAVAILABLE, "flag service %s answered a body that is not a flag: %v", c.flagURL(name), err)
	}
	if got.Enabled == nil || got.RolloutPercentage == nil {
		return Flag{}, canary.Errorf(canary.EUNAVAILABLE,
			"flag service %s answered without enabled and rollout_percentage: %s", c.flagURL(name), snippet(b))
	}
	f := Flag{Name: name, Enabled: *got.Enabled, RolloutPercentage: *got.RolloutPercentage}
	if got.Environment != nil {
		f.Environment = *got.Environment
	} else {
		f.Environment = c.cfg.Environment // a service without environments
	}
	return f, nil
}

// flagURL is the flag's address on the service.
func (c *Client) flagURL(name string) string {
	u := *c.base
	u.Path += "/feature-flags/" + name
	return u.String()
}

// do sends one request and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, method, name string, body []byte, reason string) ([]byte, error) {
	token, err := resolveSecret(ctx, "featureFlag.token", c.cfg.Token, c.cfg.Secrets)
	if err != nil {
		return nil, err
	}
	target := c.flagURL(name)
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "flag service request %s %s: %v", method, target, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if reason != "" {
		req.Header.Set(ReasonHeader, strings.Map(printable, reason))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, canary.Errorf(canary.EUNAVAILABLE, "flag service unreachable: %s %s: %v", method, target, unwrapURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "flag service %s %s: reading the answer: %v", method, target, err)
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	return nil, statusError(method, target, resp, b)
}

// statusError describes a non-2xx answer with the code a person acts on.
func statusError(method, target string, resp *http.Response, b []byte) error {
	what := fmt.Sprintf("flag service answered %s to %s %s", resp.Status, method, target)
	switch {
	case resp.StatusCode == http.StatusNotFound && method == http.MethodGet:
		return canary.Errorf(canary.ENOTFOUND, "%s: the flag does not exist there", what)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return canary.Errorf(canary.EINVALID, "%s: check featureFlag.token (%s)", what, snippet(b))
	case resp.StatusCode/100 == 3:
		return canary.Errorf(canary.EINVALID, "%s: redirected to %q; set featureFlag.url to the final address", what, resp.Header.Get("Location"))
	case resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests:
		return canary.Errorf(canary.EINVALID, "%s: %s", what, snippet(b))
	}
	return canary.Errorf(canary.EUNAVAILABLE, "%s: %s", what, snippet(b))
}

// snippet is the start of a body for a message.
func snippet(b []byte) string {
	s := strings.TrimSpace(strings.Map(printable, string(b)))
	if s == "" {
		return "(empty body)"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// printable maps control characters to spaces.
func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}

// unwrapURL drops the *url.Error wrapper, whose message repeats the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
