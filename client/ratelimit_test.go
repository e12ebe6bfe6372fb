package client_test

import (
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/canarytest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary/client"
	"github.com/canary-dev/canary/web"
	"github.com/canary-dev/canary/web/webtest"
)

// TestRateLimited: a request over the server's rate limit is an *Error
// with code rate_limited, status 429, the server's Retry-After and a
// message that says when to retry; other tokens go on.
func TestRateLimited(t *testing.T) {
	tk, err := web.ParseTokens("alice:operator:" + opToken + ",ci:viewer:" + viewToken)
	if err != nil {
		t.Fatal(err)
	}
	clock := canarytest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) // never moves: no refill
	h, err := web.New(web.Config{API: webtest.New(), Tokens: tk, RateLimit: 0.5, RateBurst: 2, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, viewToken)
	for range 2 {
		if _, err := c.Whoami(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.Whoami(t.Context())
	code, ce := codeOf(err)
	if code != client.CodeRateLimited || ce == nil || ce.Status != http.StatusTooManyRequests || ce.RetryAfter != 2*time.Second {
		t.Fatalf("over the limit: code %q, %+v (%v); want rate_limited, 429, RetryAfter 2s", code, ce, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "token ci made more requests than the server allows") || !strings.Contains(msg, "retry in 2s") {
		t.Errorf("message %q: want who and when to retry", msg)
	}
	if _, err := newClient(t, srv.URL, opToken).Whoami(t.Context()); err != nil {
		t.Errorf("another token: %v", err)
	}
}

// TestRateLimitedByAProxy: a bare 429 (a proxy in front of the server)
// is rate_limited too, with its Retry-After, not an invalid request.
func TestRateLimitedByAProxy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	_, err := newClient(t, srv.URL, viewToken).List(t.Context(), api.ListOptions{})
	code, ce := codeOf(err)
	if code != client.CodeRateLimited || ce == nil || ce.RetryAfter != 7*time.Second {
		t.Fatalf("code %q, %+v, want rate_limited with RetryAfter 7s", code, ce)
	}
	if msg := err.Error(); !strings.Contains(msg, "slow down") || !strings.Contains(msg, "retry later (in 7s)") {
		t.Errorf("message %q", msg)
	}
}
