package helm_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/releaseutil"
)

// TestAPIServerStopsMidRollout stops the real kube-apiserver just before
// the 25% step of a Helm rollout: the upgrade fails and is retried, the
// rollout pauses at 10% with the reason, and once the API server is back
// and the rollout resumed, the same router (its cached clients survive
// the restart) continues at 25%; the canary release's history has every
// step once.
func TestAPIServerStopsMidRollout(t *testing.T) {
	t.Parallel()
	env := kubetest.Start(t, kubetest.Options{Restartable: true})
	p, err := plan.Load("../examples/k8s/helm.yaml")
	must(t, err)
	f := &fixture{env: env, ns: env.Namespace(t), plan: p}
	p.Metadata.Namespace = f.ns
	p.Spec.Traffic.Helm.Chart = chartDir
	p.Spec.ActionTimeout = canary.Duration(60e9)
	f.ac, err = helm.ActionConfig(env.Config, f.ns, nil)
	must(t, err)
	f.install(t, "recoveryos", map[string]any{"image": map[string]any{"tag": "v0.9.0"}})
	inner, err := helm.New(helm.Config{RESTConfig: env.Config, Namespace: f.ns, Traffic: *p.Spec.Traffic.Helm, Version: p.Spec.Version})
	must(t, err)
	f.router = inner

	var once sync.Once
	rec := &kubetest.Router{Inner: inner, Before: func(a string) {
		if a == "w25" {
			once.Do(func() {
				if err := env.StopAPIServer(); err != nil {
					t.Errorf("stop the API server: %v", err)
				}
			})
		}
	}}
	healthy := kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}
	clock := canarytest.NewClock(t0)
	newRunner := func(st canary.State) *runner.Runner {
		r, err := runner.New(runner.Config{Plan: p, Router: rec, Metrics: kubetest.Metrics(healthy, f.renderedWeight),
			Checks: &canarytest.Checker{}, Clock: clock, StopWhenPaused: true}, st)
		must(t, err)
		return r
	}
	st, err := newRunner(engine.New(p, t0)).Run(t.Context())
	must(t, err)
	if st.Phase != canary.PhasePaused || st.Weight != 10 || !strings.Contains(st.PauseReason, "set canary weight to 25% has failed for") {
		t.Fatalf("after the outage: %s at weight %d: %q; want Paused at 10", st.Phase, st.Weight, st.PauseReason)
	}
	t.Logf("paused: %s", st.PauseReason)

	must(t, env.StartAPIServer())
	out, err := engine.Control(p, st, engine.Command{Kind: engine.CmdResume, Actor: "test"}, clock.Now())
	must(t, err)
	st, err = newRunner(out.State).Run(t.Context())
	if err != nil || st.Phase != canary.PhaseSucceeded {
		t.Fatalf("after resuming: %s (%s), %v; want Succeeded", st.Phase, st.PauseReason, err)
	}
	h, err := action.NewHistory(f.ac).Run("recoveryos-canary")
	must(t, err)
	releaseutil.SortByRevision(h)
	var weights []string
	for _, r := range h {
		weights = append(weights, r.Info.Description)
	}
	if got, want := strings.Join(weights, ", "), "canary weight 5%, canary weight 10%, canary weight 25%, canary weight 50%, canary removed"; got != want {
		t.Errorf("canary revisions: %s, want %s", got, want)
	}
}
