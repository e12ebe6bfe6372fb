package main

import (
	"fmt"
	"github.com/canary-dev/canary/canarytest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// policyPlan is a plan named name whose spec gets extra (indented YAML
// under spec) besides a proxy on a port of its own.
func policyPlan(name, proxy, extra string) []byte {
	if proxy == "" {
		proxy = `{listen: "127.0.0.1:0", stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}`
	}
	return fmt.Appendf(nil, `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: sec}
spec:
  version: v2
  traffic: {proxy: %s}
  steps: [{weight: 10, hold: 1h}, {weight: 100}]
  analysis: {interval: 1m, minRequests: 10}
  rules:
    - {metric: errorRate, above: 5%%, window: 5m, for: 1m, action: rollback-immediate}
%s`, name, proxy, extra)
}

// waitEvents polls a rollout's events until they contain want.
func waitEvents(t *testing.T, srv *serveProc, name, want string) string {
	t.Helper()
	var body string
	canarytest.WaitFor(t, 10*time.Second, fmt.Sprintf("events of %s containing %q", name, want), func() (bool, string) {
		_, body = srv.do("GET", "/api/v1/rollouts/sec/"+name+"/events?limit=1000", nil)
		return strings.Contains(body, want), body + "\n" + srv.logTail()
	})
	return body
}

// TestServeRefusesWhatTheOwnerDidNotAllow: a real canary serve with its
// defaults refuses, at apply (400, each field named with the flag that
// allows it), plans whose hooks or cleanup run commands, whose secrets
// are outside CANARY_SECRET_*, whose proxy listens off loopback or sends
// traffic to a metadata address; a pre-check URL on the metadata address
// is refused by the dialer when the rollout runs.
func TestServeRefusesWhatTheOwnerDidNotAllow(t *testing.T) {
	srv := startServe(t, t.TempDir()+"/s.db")
	refused := []struct {
		name, proxy, extra string
		want               []string
	}{
		{"cmd", "", "  hooks: [{name: who, at: beforeRollout, command: [id]}]\n  cleanup: [{name: env, command: [/usr/bin/env]}]\n",
			[]string{"spec.hooks[0].command", "spec.cleanup[0].command", "--allow-commands"}},
		{"secret", "", "  notify: [{audience: eng, slack: {webhookURL: \"env:CANARY_TOKENS\"}, \"on\": [all]}]\n",
			[]string{"spec.notify[0].slack.webhookURL", "env:CANARY_TOKENS", "starting with CANARY_SECRET_", "--secret-env"}},
		{"secretfile", "", "  analysis: {interval: 1m, minRequests: 10, metrics: {prometheus: {address: \"http://127.0.0.1:9\", bearerToken: \"file:/etc/hostname\"}}}\n",
			[]string{"spec.analysis.metrics.prometheus.bearerToken", "--secret-dir"}},
		{"listen", `{listen: "0.0.0.0:0", stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}`, "",
			[]string{"spec.traffic.proxy.listen", "--proxy-listen"}},
		{"upstream", `{listen: "127.0.0.1:0", stable: "http://169.254.169.254/", canary: "http://127.0.0.1:2"}`, "",
			[]string{"spec.traffic.proxy.stable", "metadata"}},
	}
	for _, tt := range refused {
		body := policyPlan(tt.name, tt.proxy, tt.extra)
		if tt.name == "secretfile" { // analysis given twice otherwise
			body = []byte(strings.Replace(string(body), "  analysis: {interval: 1m, minRequests: 10}\n", "", 1))
		}
		st, out := srv.do("POST", "/api/v1/rollouts", body)
		if st != http.StatusBadRequest {
			t.Errorf("%s: apply = %d, want 400\n%s", tt.name, st, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the refusal does not say %q:\n%s", tt.name, w, out)
			}
		}
	}

	st, out := srv.do("POST", "/api/v1/rollouts", policyPlan("imds", "",
		"  preChecks: [{name: metadata, url: \"http://169.254.169.254/latest/meta-data/\"}]\n"))
	if st != http.StatusCreated {
		t.Fatalf("apply imds = %d\n%s", st, out)
	}
	waitEvents(t, srv, "imds", "refused by the outbound policy")
}

// TestServeCommandEnvironment: with --allow-commands the listed executable
// runs, with the documented minimal environment only (the server's own
// variables, its token list included, are not inherited), and a resolved
// secret value that comes back in a pre-check's answer is redacted from
// the events viewers read.
func TestServeCommandEnvironment(t *testing.T) { // not parallel: t.Setenv
	const secret = "prom-token-4f2a9c"
	t.Setenv("CANARY_SERVER_ONLY_MARKER", "server-private-value")
	t.Setenv("CANARY_SECRET_PROM", secret)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/") { // Prometheus: no data
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
			return
		}
		_, _ = fmt.Fprintf(w, `{"leaked": %q}`, secret) // a server reflecting the token
	}))
	defer echo.Close()
	srv := startServe(t, t.TempDir()+"/s.db", "--allow-commands", "/usr/bin/env")
	st, out := srv.do("POST", "/api/v1/rollouts", []byte(strings.Replace(string(policyPlan("env", "",
		fmt.Sprintf("  preChecks: [{name: reflect, url: %q, jq: .leaked}]\n  hooks: [{name: env, at: beforeRollout, command: [env]}]\n", echo.URL+"/x"))),
		"  analysis: {interval: 1m, minRequests: 10}\n",
		fmt.Sprintf("  analysis: {interval: 1m, minRequests: 10, metrics: {prometheus: {address: %q, bearerToken: \"env:CANARY_SECRET_PROM\"}}}\n", echo.URL), 1)))
	if st != http.StatusCreated {
		t.Fatalf("apply = %d\n%s", st, out)
	}
	events := waitEvents(t, srv, "env", "LANG=C.UTF-8")
	for _, want := range []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=", "[redacted]"} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %q", want)
		}
	}
	for _, leak := range []string{"server-private-value", "CANARY_TOKENS", secret, "CANARY_SECRET_PROM"} {
		if strings.Contains(events, leak) {
			t.Errorf("events show %q:\n%s", leak, events)
		}
	}
}
