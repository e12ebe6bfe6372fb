package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
)

// genPlan is a plan that promotes in a fraction of a second on healthy
// fake metrics.
const genPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: %s
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: %s}, {weight: 100}]
  analysis: {interval: 50ms, minRequests: 10}
  rules:
    - {metric: errorRate, above: 5%%, window: 50ms, for: 100ms, action: rollback-immediate}
`

// newManagedCtl is the client commands against canary serve's API on a
// real manager and store, with fake providers that always measure a
// healthy canary.
func newManagedCtl(t *testing.T) (*ctlEnv, *manager.Manager) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	providers := func(context.Context, *canary.Plan) (manager.Providers, error) {
		metrics := canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
			return canary.Measurement{Value: 0.001, Samples: 1000}, nil
		})
		return manager.Providers{Router: &canarytest.Router{}, Metrics: metrics, Flags: &flags.Memory{}, Checks: &canarytest.Checker{}}, nil
	}
	m, err := manager.New(manager.Config{Store: st, Providers: providers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); m.Wait() })
	return newCtlEnvOn(t, m), m
}

// finish waits until the latest generation of name is finished.
func finish(t *testing.T, m *manager.Manager, name string) {
	t.Helper()
	canarytest.WaitUntil(t, 20*time.Second, name+" finished", func() bool {
		r, err := m.Get(t.Context(), name)
		return err == nil && r.State.Phase.Terminal()
	})
}

// TestCtlGenerations: through canary serve's API and the client,
// NAME@GEN and --generation read one generation with get, describe,
// events and report, and delete removes what it names and says how many.
func TestCtlGenerations(t *testing.T) {
	e, m := newManagedCtl(t)
	for _, v := range []string{"v1", "v2", "v3"} {
		e.ok("apply", "-f", e.file(v+".yaml", fmt.Sprintf(genPlan, v, "50ms")))
		finish(t, m, "default/web")
	}
	has(t, e.ok("describe", "web@1"), "Generation:  1\n", "Version:     v1\n")
	has(t, e.ok("describe", "web", "--generation", "2"), "Generation:  2\n", "Version:     v2\n")
	has(t, e.ok("describe", "web"), "Generation:  3\n")
	has(t, e.ok("report", "default/web@2"), "# Rollout report: default/web v2\n")
	has(t, e.ok("report", "web", "--generation", "1"), "# Rollout report: default/web v1\n")
	has(t, e.ok("get", "web@1", "-o", "json"), `"generation": 1,`, `"version": "v1"`)
	if ev1, ev3 := e.ok("events", "web@1", "-o", "json"), e.ok("events", "web", "-o", "json"); ev1 == ev3 || !strings.Contains(ev1, "rollout of web v1 started") {
		t.Errorf("events web@1 and events web print the same, or not v1's:\n%s", ev1)
	}
	has(t, e.fails(ExitInvalid, "describe", "web@9"), "rollout default/web has no generation 9 (it has generations 1, 2 and 3)")
	has(t, e.fails(ExitInvalid, "describe", "web@two"), "the generation after '@' must be a whole number from 1")
	has(t, e.fails(ExitInvalid, "describe", "web@1", "--generation", "2"), "name two different generations")
	has(t, e.fails(ExitInvalid, "describe", "web@1", "--kube"), "a Rollout resource keeps one state", "generations are kept by canary serve")
	has(t, e.fails(ExitInvalid, "retry", "web@1"), "commands act on the latest generation only")

	if out := e.ok("delete", "web@2"); out != "rollout default/web deleted (1 generation: 2)\n" {
		t.Errorf("delete web@2: %q", out)
	}
	if out := e.ok("get", "-o", "name"); out != "default/web@3\ndefault/web@1\n" {
		t.Errorf("get -o name after deleting generation 2:\n%s", out)
	}
	if out := e.ok("delete", "web"); out != "rollout default/web deleted (2 generations: 1, 3)\n" {
		t.Errorf("delete web: %q", out)
	}
	if _, errs, _ := e.run("get"); errs != "no rollouts\n" {
		t.Errorf("get after deleting every generation: %q", errs)
	}
}
