package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// metrics scrapes /metrics.
func (e *env) metrics() string {
	e.t.Helper()
	r := e.do("GET", "/metrics", "", "")
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
