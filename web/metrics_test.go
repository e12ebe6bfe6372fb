package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canary-dev/canary/web"
)

// metrics scrapes /metrics as the scraper (token prom).
func (e *env) metrics() string {
	e.t.Helper()
	r := e.do("GET", "/metrics", promToken, "")
	if r.status != http.StatusOK {
		e.t.Fatalf("/metrics: %d", r.status)
	}
	return string(r.body)
}

func TestMetricsCount(t *testing.T) {
	e := newEnv(t)
	e.applied()
	e.do("GET", "/api/v1/rollouts/default/web", viewToken, "")
	e.do("GET", "/api/v1/rollouts/default/web", viewToken, "")
	e.do("GET", "/api/v1/rollouts/default/nope", viewToken, "")
	e.do("GET", "/api/v1/rollouts/default/web", "", "")
	e.do("GET", "/api/v1/rollouts/default/"+strings.Repeat("x", 500), viewToken, "")
	e.do("GET", "/no/such/thing", "", "")
	m := e.metrics()
	for _, line := range []string{
		`canary_http_requests_total{code="201",route="POST /api/v1/rollouts"} 1`,
		`canary_http_requests_total{code="200",route="GET /api/v1/rollouts/{namespace}/{name}"} 2`,
		`canary_http_requests_total{code="404",route="GET /api/v1/rollouts/{namespace}/{name}"} 1`,
		`canary_http_requests_total{code="401",route="GET /api/v1/rollouts/{namespace}/{name}"} 1`,
		`canary_http_requests_total{code="400",route="GET /api/v1/rollouts/{namespace}/{name}"} 1`,
		`canary_http_requests_total{code="404",route="other"} 1`,
		`canary_http_request_duration_seconds_count{code="200",route="GET /api/v1/rollouts/{namespace}/{name}"} 2`,
	} {
		if !strings.Contains(m, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if strings.Contains(m, "xxxxxxxx") || strings.Contains(m, "/no/such") {
		t.Error("/metrics has a raw path as a label")
	}
}

// TestLogsHoldNoSecrets: the access log names the actor, never a token.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t)
	e.applied()
	e.do("GET", "/api/v1/rollouts", viewToken, "")
	e.do("GET", "/api/v1/rollouts", "wrong-secret-0123456789abcdef", "")
	e.do("POST", "/api/v1/rollouts", viewToken, testPlan)
	log := e.log.String()
	for _, secret := range []string{opToken, viewToken, "wrong-secret"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds a token:\n%s", log)
		}
	}
	for _, want := range []string{`"actor":"alice"`, `"actor":"ci"`, `"status":401`, `"status":403`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
}

// TestMetricsNeedToken: /metrics lists rollout names, so it needs a
// viewer token (401 without one, as every API route) unless
// MetricsPublic; a token's scrapes are rate limited like its other
// requests, public scrapes never.
func TestMetricsNeedToken(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
	r := e.do("GET", "/metrics", "", "")
	want(t, r, http.StatusUnauthorized, web.CodeUnauthenticated)
	if r.header.Get("WWW-Authenticate") == "" || strings.Contains(string(r.body), "canary_http_requests_total") {
		t.Errorf("/metrics without a token: %v %s", r.header, r.body)
	}
	want(t, e.do("GET", "/metrics", viewToken, ""), http.StatusOK, "")
	want(t, e.do("GET", "/metrics", viewToken, ""), http.StatusOK, "")
	wantLimited(t, e.do("GET", "/metrics", viewToken, ""), "1000")

	pub, _ := limited(t, 0.001, 2, func(c *web.Config) { c.MetricsPublic = true })
	for range 5 {
		if r := pub.do("GET", "/metrics", "", ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "canary_http_event_streams") {
			t.Fatalf("public /metrics: %d %s", r.status, r.body)
		}
	}
}
