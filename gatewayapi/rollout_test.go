package gatewayapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/gatewayapi"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"
)

var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// rollout drives the example plan (examples/k8s/gatewayapi.yaml) through
// the engine and the runner against a real HTTPRoute, on a clock that
// jumps to each deadline. Metrics see the canary share the route really
// has.
type rollout struct {
	env    *kubetest.Env
	ns     string
	plan   *canary.Plan
	router *gatewayapi.Router
	rec    *kubetest.Router
	store  *canarytest.Store
	clock  *canarytest.Clock
	routes []string // the route's weights read back after each successful call
}

func newRollout(t *testing.T, env *kubetest.Env) *rollout {
	t.Helper()
	p, err := plan.Load("../examples/k8s/gatewayapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ro := &rollout{env: env, ns: env.Namespace(t), plan: p, store: &canarytest.Store{}, clock: canarytest.NewClock(t0)}
	p.Metadata.Namespace = ro.ns
	newRoute(t, env, ro.ns)
	ro.router, err = gatewayapi.New(gatewayapi.Config{Client: env.Client, Namespace: ro.ns, Traffic: *p.Spec.Traffic.GatewayAPI})
	if err != nil {
		t.Fatal(err)
	}
	ro.rec = &kubetest.Router{Inner: ro.router, After: func(action string, err error) {
		if err == nil {
			ro.routes = append(ro.routes, action+" "+weights(getRoute(t, env, ro.ns)))
		}
	}}
	return ro
}

// runner returns a runner from state st with metrics of svc.
func (ro *rollout) runner(t *testing.T, svc kubetest.Service, st canary.State) *runner.Runner {
	t.Helper()
	canaryWeight := func(ctx context.Context) (int, error) {
		_, c, err := ro.router.Weights(ctx)
		return max(c, 0), err
	}
	r, err := runner.New(runner.Config{Plan: ro.plan, Router: ro.rec, Metrics: kubetest.Metrics(svc, canaryWeight),
		Checks: &canarytest.Checker{}, Store: ro.store, Clock: ro.clock, StopWhenPaused: true, CallTimeout: 10 * time.Second}, st)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRollout(t *testing.T) {
	t.Parallel()
	env := kubetest.Shared(t, kubetest.Options{GatewayAPI: true})
	healthy := kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}
	tests := []struct {
		name   string
		svc    kubetest.Service
		phase  canary.Phase
		grade  string
		routes []string
	}{
		{"healthy canary is promoted", healthy, canary.PhaseSucceeded, "", []string{
			"w5 recoveryos:80=95 recoveryos-canary:80=5",
			"w10 recoveryos:80=90 recoveryos-canary:80=10",
			"w25 recoveryos:80=75 recoveryos-canary:80=25",
			"w50 recoveryos:80=50 recoveryos-canary:80=50",
			"w100 recoveryos:80=0 recoveryos-canary:80=100",
			"promote recoveryos:80=0 recoveryos-canary:80=100",
			"removeCanary recoveryos:80=0 recoveryos-canary:80=100",
		}},
		// 20% 5xx breaks "errorRate above 5% for 15s": immediate.
		{"failing canary rolls back immediately", kubetest.Service{RPS: 400, CanaryErrors: 0.2, CanaryLatency: 0.2},
			canary.PhaseRolledBack, canary.ActionRollbackImmediate, []string{
				"w5 recoveryos:80=95 recoveryos-canary:80=5",
				"w0 recoveryos:80=100 recoveryos-canary:80=0",
				"removeCanary recoveryos:80=100",
			}},
		// P95 700ms breaks "latencyP95 above 600ms for 1m" only: gradual,
		// with a drain at weight 0 before the canary is removed.
		{"slow canary rolls back gradually", kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.7},
			canary.PhaseRolledBack, canary.ActionRollbackGradual, []string{
				"w5 recoveryos:80=95 recoveryos-canary:80=5",
				"w0 recoveryos:80=100 recoveryos-canary:80=0",
				"removeCanary recoveryos:80=100",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ro := newRollout(t, env)
			st, err := ro.runner(t, tt.svc, engine.New(ro.plan, t0)).Run(t.Context())
			if err != nil || st.Phase != tt.phase || st.RollbackKind != tt.grade {
				t.Fatalf("Run = %s %q (%s), %v; want %s %q", st.Phase, st.RollbackKind, st.PauseReason, err, tt.phase, tt.grade)
			}
			if !slices.Equal(ro.routes, tt.routes) {
				t.Errorf("route after each call:\ngot  %s\nwant %s", strings.Join(ro.routes, "\n     "), strings.Join(tt.routes, "\n     "))
			}
			if tt.grade != "" && !rolledBackFor(ro.store.Events(), tt.grade) {
				t.Errorf("no rollbackStarted event of grade %s", tt.grade)
			}
		})
	}
}

func rolledBackFor(evs []canary.Event, grade string) bool {
	want := fmt.Sprintf("ROLLBACK INITIATED (%s)", strings.TrimPrefix(grade, "rollback-"))
	for _, e := range evs {
		if e.Type == canary.EvRollbackStarted && strings.Contains(e.Message, want) {
			return true
		}
	}
	return false
}
