package helm_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/runner"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// TestRunbookSequences runs the example plan (examples/k8s/helm.yaml)
// through the engine and the runner on a clock that jumps to each
// deadline, and reads what the runbook's procedure leaves behind: the
// releases' histories. Metrics see the weight the canary release really
// rendered (its Service's canary.dev/weight annotation).
func TestRunbookSequences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		svc        kubetest.Service
		phase      canary.Phase
		grade      string
		canaryHist []string
		mainHist   []string // prefixes
		drain      time.Duration
	}{
		{"promotion", kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}, canary.PhaseSucceeded, "",
			[]string{
				"1 superseded canary weight 5% tag=v1.0.0-elite weight=5 enabled=true replicas=1",
				"2 superseded canary weight 10% tag=v1.0.0-elite weight=10 enabled=true replicas=1",
				"3 superseded canary weight 25% tag=v1.0.0-elite weight=25 enabled=true replicas=1",
				"4 superseded canary weight 50% tag=v1.0.0-elite weight=50 enabled=true replicas=1",
				"5 uninstalled canary removed tag=v1.0.0-elite weight=100 enabled=true replicas=1",
			},
			[]string{"1 superseded Install complete tag=v0.9.0", "2 deployed canary: promoted v1.0.0-elite from recoveryos-canary"}, 0},
		// The main release was not changed before the rollback, so there is
		// nothing to `helm rollback`: weight 0, then uninstall, at once.
		{"immediate rollback", kubetest.Service{RPS: 400, CanaryErrors: 0.2, CanaryLatency: 0.2}, canary.PhaseRolledBack, canary.ActionRollbackImmediate,
			[]string{
				"1 superseded canary weight 5% tag=v1.0.0-elite weight=5 enabled=true replicas=1",
				"2 uninstalled canary removed tag=v1.0.0-elite weight=0 enabled=true replicas=1",
			},
			[]string{"1 deployed Install complete tag=v0.9.0"}, 0},
		// Weight 0 (the release kept), the plan's 1m drain, then uninstall.
		{"gradual rollback", kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.7}, canary.PhaseRolledBack, canary.ActionRollbackGradual,
			[]string{
				"1 superseded canary weight 5% tag=v1.0.0-elite weight=5 enabled=true replicas=1",
				"2 uninstalled canary removed tag=v1.0.0-elite weight=0 enabled=true replicas=1",
			},
			[]string{"1 deployed Install complete tag=v0.9.0"}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			store := &canarytest.Store{}
			r, err := runner.New(runner.Config{Plan: f.plan, Router: f.router, Metrics: kubetest.Metrics(tt.svc, f.renderedWeight),
				Checks: &canarytest.Checker{}, Store: store, Clock: canarytest.NewClock(t0), StopWhenPaused: true}, engine.New(f.plan, t0))
			must(t, err)
			st, err := r.Run(t.Context())
			if err != nil || st.Phase != tt.phase || st.RollbackKind != tt.grade {
				t.Fatalf("Run = %s %q (%s), %v; want %s %q", st.Phase, st.RollbackKind, st.PauseReason, err, tt.phase, tt.grade)
			}
			equal(t, "helm history recoveryos-canary", f.history(t, "recoveryos-canary"), tt.canaryHist)
			main := f.history(t, "recoveryos")
			if len(main) != len(tt.mainHist) {
				t.Fatalf("helm history recoveryos:\n%s\nwant %d revisions", strings.Join(main, "\n"), len(tt.mainHist))
			}
			for i, want := range tt.mainHist {
				if !strings.HasPrefix(main[i], want) {
					t.Errorf("helm history recoveryos revision %d: %s, want %s…", i+1, main[i], want)
				}
			}
			if tt.grade != "" {
				if got := drained(store.Events()); got != tt.drain {
					t.Errorf("weight 0 to canary removed: %s of plan time, want %s", got, tt.drain)
				}
			}
		})
	}
}

// renderedWeight is the weight the canary release's objects carry, 0
// when it is not installed.
func (f *fixture) renderedWeight(ctx context.Context) (int, error) {
	var s corev1.Service
	err := f.env.Client.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "recoveryos-canary"}, &s)
	if apierrors.IsNotFound(err) || (err == nil && s.DeletionTimestamp != nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s.Annotations["canary.dev/weight"])
}

// drained is the plan time between the weight-0 and the remove-canary
// results.
func drained(evs []canary.Event) time.Duration {
	var w0, removed time.Time
	for _, e := range evs {
		if e.Type != canary.EvActionSucceeded || e.Action == nil {
			continue
		}
		switch {
		case e.Action.Kind == canary.ActSetWeight && e.Action.Weight == 0:
			w0 = e.Time
		case e.Action.Kind == canary.ActRemoveCanary:
			removed = e.Time
		}
	}
	return removed.Sub(w0)
}
