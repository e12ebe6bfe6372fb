package operator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/operator"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// hostsPlan has hooks and a cleanup entry with `timeout: 2s` that answer
// after hookDelay, longer than hostCallTimeout: a host that bounded them
// by its call timeout would fail them.
const hostsPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: hosts, namespace: NS}
spec:
  version: v2
  traffic: {gatewayAPI: {httpRoute: web, stableService: web, canaryService: web-canary}}
  steps: [{weight: 20, hold: 1m}, {weight: 100}]
  analysis: {interval: 30s, minRequests: 10, metrics: {prometheus: {address: "http://prometheus.invalid:9090"}}}
  rules: [{metric: errorRate, above: 5%, for: 1m, action: rollback-immediate}]
  hooks:
    - {name: smoke, at: beforeRollout, http: {url: "URL/smoke"}, timeout: 2s}
    - {name: step, at: afterStep, http: {url: "URL/step"}, timeout: 2s}
  cleanup:
    - {name: tidy, http: {url: "URL/tidy"}, timeout: 2s}
`

const (
	hostCallTimeout = 100 * time.Millisecond
	hookDelay       = 300 * time.Millisecond
)

// journal records what one host did through its providers, in order:
// router calls, hooks with their outcome and the payload's namespace.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
}

func (j *journal) log() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// journalChecks runs the real checks.Runner and records each hook's
// outcome and the namespace of the payload it was sent.
type journalChecks struct {
	checks.Runner
	j *journal
}

func (c *journalChecks) Hook(ctx context.Context, h canary.Hook, payload []byte) (string, error) {
	out, err := c.Runner.Hook(ctx, h, payload)
	var body struct{ Namespace string }
	_ = json.Unmarshal(payload, &body)
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	c.j.add("hook %s %s (namespace %q)", h.Name, outcome, body.Namespace)
	return out, err
}

// journalRouter records the router calls in the journal.
type journalRouter struct {
	canarytest.Router
	j *journal
}

func (r *journalRouter) SetWeight(ctx context.Context, w int) error {
	r.j.add("w%d", w)
	return r.Router.SetWeight(ctx, w)
}

func (r *journalRouter) Promote(ctx context.Context) error {
	r.j.add("promote")
	return r.Router.Promote(ctx)
}

func (r *journalRouter) RemoveCanary(ctx context.Context) error {
	r.j.add("removeCanary")
	return r.Router.RemoveCanary(ctx)
}

// healthy answers every query with a healthy service's numbers.
var healthy = canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
	if q.Metric == canary.MetricErrorRate {
		return canary.Measurement{Value: 0.001, Samples: 5000}, nil
	}
	return canary.Measurement{Value: 0.2, Samples: 5000}, nil
})

// slowHooks is a hook receiver that answers after hookDelay.
func slowHooks(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(hookDelay): // a hook that takes its time, within its 2s
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestHostsAgree runs one plan through the runner (canary run, canary
// serve) and through the operator's reconcile, both with a call timeout of
// 100ms, and checks they make the same provider calls with the same
// outcomes: the hooks' `timeout: 2s` is the plan's in both (a hook answering
// after 300ms succeeds), and hooks receive the namespace in both.
func TestHostsAgree(t *testing.T) {
	t.Parallel()
	hooks := slowHooks(t)
	planIn := func(ns string) string { return strings.NewReplacer("NS", ns, "URL", hooks).Replace(hostsPlan) }
	want := func(ns string) []string {
		hook := func(name string) string { return fmt.Sprintf("hook %s ok (namespace %q)", name, ns) }
		return []string{hook("smoke"), "w20", hook("step"), "w100", "promote", "removeCanary", hook("tidy")}
	}
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

	// The runner's half needs no API server.
	viaRunner := &journal{}
	p, err := plan.Parse("hosts.yaml", []byte(planIn("shop")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{Plan: p, Router: &journalRouter{j: viaRunner}, Metrics: healthy,
		Checks: &journalChecks{j: viaRunner}, Clock: canarytest.NewClock(t0), CallTimeout: hostCallTimeout}, engine.New(p, t0))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := r.Run(t.Context()); err != nil || st.Phase != canary.PhaseSucceeded {
		t.Fatalf("runner: %s, %v; want Succeeded", st.Phase, err)
	}
	if got := viaRunner.log(); !slices.Equal(got, want("shop")) {
		t.Errorf("runner:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want("shop"), "\n"))
	}

	env := operatorEnv(t)
	viaOperator := &journal{}
	g := newSteppedRig(t, env)
	g.clock = canarytest.NewClock(t0)
	g.r, err = operator.New(operator.Config{Client: env.Client, Clock: g.clock, Recorder: g.rec, CallTimeout: hostCallTimeout,
		Router: func(context.Context, *canary.Plan) (canary.TrafficRouter, error) {
			return &journalRouter{j: viaOperator}, nil
		},
		Metrics: func(context.Context, *canary.Plan) (canary.MetricSource, error) { return healthy, nil },
		Checks:  &journalChecks{j: viaOperator}})
	if err != nil {
		t.Fatal(err)
	}
	u := rolloutObject(t, planIn(g.ns))
	u.SetLabels(map[string]string{testShard: "direct"})
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	g.key = types.NamespacedName{Namespace: g.ns, Name: u.GetName()}
	if s := g.run(t); s.Phase != string(canary.PhaseSucceeded) {
		t.Fatalf("operator: %s (%s); want Succeeded", s.Phase, s.Message)
	}
	if got := viaOperator.log(); !slices.Equal(got, want(g.ns)) {
		t.Errorf("operator:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want(g.ns), "\n"))
	}
}

// rolloutObject is a plan's YAML text as a Rollout object.
func rolloutObject(t *testing.T, text string) *unstructured.Unstructured {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	return u
}
