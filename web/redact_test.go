package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

// TestURLCredentialsRedacted: credentials written in URLs, in a plan (a
// pre-check URL with ?api_key=, a Prometheus address with user:password)
// and in an event's message and error, never reach a viewer: not in the
// rollout's JSON, its events, the event stream or the report. The rest of
// each URL still shows where it points.
func TestURLCredentialsRedacted(t *testing.T) {
	e := newEnv(t)
	plan := strings.Replace(testPlan, "  analysis: {interval: 10s, minRequests: 20}",
		"  analysis: {interval: 10s, minRequests: 20, metrics: {prometheus: {address: \"http://prom:hunter2@127.0.0.1:9090\"}}}\n"+
			"  preChecks:\n    - {name: up, url: \"http://127.0.0.1:9001/health?api_key=k3y-s3cr3t&env=prod\", jq: \".ok\"}", 1)
	if r := e.do("POST", "/api/v1/rollouts", opToken, plan); r.status != http.StatusCreated {
		t.Fatalf("apply: %d %s", r.status, r.body)
	}
	e.api.Append("default/web", canary.Event{Type: canary.EvPreChecksFailed,
		Message: "pre-check up: GET http://admin:pa55w0rd@10.0.0.5/status?token=t0k3n: 503",
		Error:   "Get \"https://ci.example.com/x?password=pw-value\": EOF"})
	secrets := []string{"hunter2", "k3y-s3cr3t", "pa55w0rd", "t0k3n", "pw-value"}
	check := func(what string, body []byte) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(string(body), s) {
				t.Errorf("%s shows %q:\n%s", what, s, body)
			}
		}
	}
	get := e.do("GET", "/api/v1/rollouts/default/web", viewToken, "")
	check("GET rollout", get.body)
	for _, want := range []string{"http://prom:redacted@127.0.0.1:9090", "api_key=redacted&env=prod"} {
		if !strings.Contains(string(get.body), want) {
			t.Errorf("GET rollout lacks %s:\n%s", want, get.body)
		}
	}
	evs := e.do("GET", "/api/v1/rollouts/default/web/events", viewToken, "")
	check("events", evs.body)
	if !strings.Contains(string(evs.body), "http://admin:redacted@10.0.0.5/status?token=redacted") {
		t.Errorf("events: the redacted URL is missing:\n%s", evs.body)
	}
	check("list", e.do("GET", "/api/v1/rollouts", viewToken, "").body)
	check("report", e.do("GET", "/api/v1/rollouts/default/web/report", viewToken, "").body)
	s := e.openStream("/api/v1/rollouts/default/web/events/stream")
	old, _ := e.api.Events(t.Context(), "default/web", 0, 0)
	for range old {
		ev := s.next()
		check("stream", []byte(ev.data))
	}
}
