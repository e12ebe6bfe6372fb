package web_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/web"
)

// limited starts the API with a rate limit of perSecond and burst on a
// fake clock.
func limited(t *testing.T, perSecond float64, burst int, mod ...func(*web.Config)) (*env, *canarytest.Clock) {
	t.Helper()
	clock := canarytest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e := newEnv(t, append([]func(*web.Config){func(c *web.Config) {
		c.RateLimit, c.RateBurst, c.Clock = perSecond, burst, clock
		c.MetricsPublic = true // scrapes stay out of the buckets counted here
	}}, mod...)...)
	return e, clock
}

// wantLimited checks a 429: code rate_limited, Retry-After retry, a
// message that says what to do and holds no secret.
func wantLimited(t *testing.T, r response, retry string) {
	t.Helper()
	want(t, r, http.StatusTooManyRequests, web.CodeRateLimited)
	if got := r.header.Get("Retry-After"); got != retry {
		t.Errorf("Retry-After %q, want %q", got, retry)
	}
	msg := errorOf(t, r).Message
	if !strings.Contains(msg, "retry in "+retry+"s") || !strings.Contains(msg, "--rate-limit") {
		t.Errorf("message %q: want when to retry and the flag that sets the limit", msg)
	}
	for _, secret := range []string{opToken, viewToken} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("the 429 body holds a token: %s", r.body)
		}
	}
}

// TestRateLimitPerToken: a token gets its burst, then 429 with
// Retry-After; another token is unaffected; probes and public scrapes are
// never limited; the bucket refills as the (injected) time passes; the refusals
// are counted by token name.
func TestRateLimitPerToken(t *testing.T) {
	e, clock := limited(t, 1, 3)
	e.applied() // alice: 1 of 3
	for range 2 {
		want(t, e.do("GET", "/api/v1/rollouts/default/web", opToken, ""), http.StatusOK, "")
	}
	wantLimited(t, e.do("GET", "/api/v1/rollouts/default/web", opToken, ""), "1")
	wantLimited(t, e.do("POST", "/api/v1/rollouts/default/web/pause", opToken, ""), "1")

	// Another token has its own bucket.
	for range 3 {
		want(t, e.do("GET", "/api/v1/rollouts", viewToken, ""), http.StatusOK, "")
	}
	wantLimited(t, e.do("GET", "/api/v1/rollouts", viewToken, ""), "1")

	// Probes and scrapes: never limited.
	for range 10 {
		want(t, e.do("GET", "/healthz", "", ""), http.StatusOK, "")
		want(t, e.do("GET", "/readyz", "", ""), http.StatusOK, "")
		e.metrics()
	}

	// Half a second refills half a request: still refused, retry in 1s.
	clock.Advance(500 * time.Millisecond)
	wantLimited(t, e.do("GET", "/api/v1/rollouts/default/web", opToken, ""), "1")
	clock.Advance(500 * time.Millisecond)
	want(t, e.do("GET", "/api/v1/rollouts/default/web", opToken, ""), http.StatusOK, "")
	wantLimited(t, e.do("GET", "/api/v1/rollouts/default/web", opToken, ""), "1")
	// A long pause refills the whole burst, no more.
	clock.Advance(time.Hour)
	for range 3 {
		want(t, e.do("GET", "/api/v1/rollouts/default/web", opToken, ""), http.StatusOK, "")
	}
	wantLimited(t, e.do("GET", "/api/v1/rollouts/default/web", opToken, ""), "1")

	m := e.metrics()
	for _, line := range []string{
		`canary_http_rate_limited_total{token="alice"} 5`,
		`canary_http_rate_limited_total{token="ci"} 1`,
		`canary_http_requests_total{code="429",route="GET /api/v1/rollouts/{namespace}/{name}"} 4`,
	} {
		if !strings.Contains(m, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if calls := e.api.Calls(); strings.Contains(strings.Join(calls, "\n"), "Control") {
		t.Errorf("a refused control reached the manager: %q", calls)
	}
}

// TestRateLimitRetryAfter: Retry-After is the time until one request is
// allowed, rounded up to whole seconds.
func TestRateLimitRetryAfter(t *testing.T) {
	e, clock := limited(t, 0.25, 1) // one request every 4s
	want(t, e.do("GET", "/api/v1/whoami", viewToken, ""), http.StatusOK, "")
	wantLimited(t, e.do("GET", "/api/v1/whoami", viewToken, ""), "4")
	clock.Advance(2500 * time.Millisecond)
	wantLimited(t, e.do("GET", "/api/v1/whoami", viewToken, ""), "2")
	clock.Advance(1500 * time.Millisecond)
	want(t, e.do("GET", "/api/v1/whoami", viewToken, ""), http.StatusOK, "")
}

// TestRateLimitWithoutToken: requests without a valid token share their
// client address's bucket, so guessing tokens is limited too, and a valid
// token's bucket is not theirs; a token whose role is too low spends its
// own bucket.
func TestRateLimitWithoutToken(t *testing.T) {
	e, _ := limited(t, 1, 2)
	want(t, e.do("GET", "/api/v1/rollouts", "", ""), http.StatusUnauthorized, web.CodeUnauthenticated)
	want(t, e.do("GET", "/api/v1/rollouts", "wrong-secret-0123456789abcdef", ""), http.StatusUnauthorized, web.CodeUnauthenticated)
	r := e.do("GET", "/api/v1/rollouts", "another-wrong-0123456789abcdef", "")
	wantLimited(t, r, "1")
	if msg := errorOf(t, r).Message; !strings.Contains(msg, "client address") || strings.Contains(msg, "another-wrong") {
		t.Errorf("message %q: want the client address named, never the token sent", msg)
	}
	wantLimited(t, e.do("GET", "/no/such/route", "", ""), "1")
	want(t, e.do("GET", "/api/v1/rollouts", viewToken, ""), http.StatusOK, "")

	// ci (viewer) may not apply: the 403s spend ci's bucket.
	want(t, e.do("POST", "/api/v1/rollouts", viewToken, testPlan), http.StatusForbidden, web.CodeForbidden)
	wantLimited(t, e.do("POST", "/api/v1/rollouts", viewToken, testPlan), "1")
	want(t, e.do("GET", "/api/v1/rollouts", opToken, ""), http.StatusOK, "")

	m := e.metrics()
	for _, line := range []string{`canary_http_rate_limited_total{token="(none)"} 2`, `canary_http_rate_limited_total{token="ci"} 1`} {
		if !strings.Contains(m, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestRateLimitInsecure: without tokens every request is limited by its
// client address.
func TestRateLimitInsecure(t *testing.T) {
	e, _ := limited(t, 1, 2, func(c *web.Config) { c.Tokens, c.Insecure = nil, true })
	want(t, e.do("GET", "/api/v1/whoami", "", ""), http.StatusOK, "")
	want(t, e.do("GET", "/api/v1/rollouts", "", ""), http.StatusOK, "")
	wantLimited(t, e.do("GET", "/api/v1/rollouts", "", ""), "1")
}

// TestRateLimitStreamCountsOnce: an event stream takes one request from
// the bucket when it opens, however many events it then carries.
func TestRateLimitStreamCountsOnce(t *testing.T) {
	e, _ := limited(t, 1, 3)
	e.applied()                                                     // alice, not ci
	s := e.openStream("/api/v1/rollouts/default/web/events/stream") // ci: 1 of 3
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", s.resp.StatusCode)
	}
	old, _ := e.api.Events(t.Context(), "default/web", 0, 0)
	for range old {
		s.nextEvent()
	}
	for range 50 {
		e.api.Append("default/web", canary.Event{Type: canary.EvEvaluated, Message: "live"})
	}
	for range 50 {
		s.nextEvent()
	}
	want(t, e.do("GET", "/api/v1/rollouts/default/web", viewToken, ""), http.StatusOK, "") // 2 of 3
	want(t, e.do("GET", "/api/v1/rollouts/default/web", viewToken, ""), http.StatusOK, "") // 3 of 3
	// Opened like the others (an unlimited stream would never end).
	refused := e.openStream("/api/v1/rollouts/default/web/events/stream")
	if refused.resp.StatusCode != http.StatusTooManyRequests || refused.resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("4th request: %d, Retry-After %q, want 429 and 1", refused.resp.StatusCode, refused.resp.Header.Get("Retry-After"))
	}
}

// TestRateLimitOff: 0 is no limit.
func TestRateLimitOff(t *testing.T) {
	e := newEnv(t)
	for range 200 {
		want(t, e.do("GET", "/api/v1/whoami", viewToken, ""), http.StatusOK, "")
	}
}

func TestRateLimitConfigRefused(t *testing.T) {
	for _, cfg := range []web.Config{{RateLimit: -1}, {RateLimit: 1, RateBurst: -1}} {
		cfg.API, cfg.Tokens = newEnv(t).api, tokens(t)
		if _, err := web.New(cfg); canary.ErrorCode(err) != canary.EINVALID {
			t.Errorf("RateLimit %v RateBurst %d: %v, want invalid", cfg.RateLimit, cfg.RateBurst, err)
		}
	}
}

// TestRateLimitMount: handlers mounted beside the API (the flag service,
// OFREP) spend the same buckets as the API: a token's flag requests and
// its API requests share its burst, requests without a valid token are
// limited per client address, and the mounted handler is not reached once
// the bucket is empty.
func TestRateLimitMount(t *testing.T) {
	var reached atomic.Int64
	flagsLike := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	e, _ := limited(t, 0.001, 2, func(c *web.Config) {
		c.Mount = map[string]http.Handler{"/ofrep/": flagsLike, "/feature-flags/": flagsLike}
	})
	want(t, e.do("GET", "/api/v1/whoami", viewToken, ""), http.StatusOK, "")
	want(t, e.do("POST", "/ofrep/v1/evaluate/flags/x", viewToken, ""), http.StatusNoContent, "")
	wantLimited(t, e.do("GET", "/feature-flags/x", viewToken, ""), "1000")
	wantLimited(t, e.do("POST", "/ofrep/v1/evaluate/flags/x", viewToken, ""), "1000")
	want(t, e.do("GET", "/feature-flags/x", opToken, ""), http.StatusNoContent, "")
	// Without a token (or with a wrong one): the client address's bucket.
	want(t, e.do("GET", "/feature-flags/x", "", ""), http.StatusNoContent, "")
	want(t, e.do("GET", "/feature-flags/x", "wrong-0123456789abcdef0123456789abcdef", ""), http.StatusNoContent, "")
	wantLimited(t, e.do("POST", "/ofrep/v1/evaluate/flags/x", "", ""), "1000")
	if got := reached.Load(); got != 4 {
		t.Errorf("the mounted handler served %d requests; want 4 (the refused ones never reach it)", got)
	}
	m := e.metrics()
	for _, line := range []string{
		`canary_http_rate_limited_total{token="ci"} 2`,
		`canary_http_requests_total{code="429",route="mount /ofrep/"} 2`,
		`canary_http_requests_total{code="204",route="mount /feature-flags/"} 3`,
	} {
		if !strings.Contains(m, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
