package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/enginetest"
	"github.com/canary-dev/canary/plan"
)

// TestHoldExtendedSaysWhy: every evaluation of the step is judged, but
// the process missed evaluation times (the clock jumps 5s, as after a
// stop): the hold is extended and its event says why the judged
// evaluations fall short, instead of only "(N of N evaluations judged)".
func TestHoldExtendedSaysWhy(t *testing.T) {
	p, err := plan.Parse("plan.yaml", []byte(`apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: 10s}, {weight: 100}]
  analysis: {interval: 1s, minRequests: 10}
  rules:
    - {metric: errorRate, above: 5%, window: 1s, for: 2s, action: rollback-immediate}
`))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)
	st, now := engine.New(p, t0), t0
	var results []canary.ActionResult
	jumped := false
	var extended []string
	for i := 0; i < 1000 && !st.Phase.Terminal(); i++ {
		out := enginetest.Cycle(p, st, now, results, func(q canary.Query) canary.Observation {
			return enginetest.Observe(q, st.Weight, 1000, enginetest.Served{ErrRate: 0.001, P95: 300 * time.Millisecond})
		})
		st, results = out.State, nil
		for _, a := range out.Actions {
			results = append(results, canary.ActionResult{ID: a.ID, At: now})
		}
		for _, ev := range out.Events {
			if ev.Type == canary.EvHoldExtended {
				extended = append(extended, ev.Message)
			}
		}
		switch {
		case len(out.Actions) > 0:
		case !jumped && !st.StepStartedAt.IsZero() && now.Sub(st.StepStartedAt) >= 3*time.Second:
			now, jumped = out.WakeAt.Add(5*time.Second), true // 5 evaluation times missed
		case out.WakeAt.After(now):
			now = out.WakeAt
		default:
			now = now.Add(time.Second)
		}
	}
	if st.Phase != canary.PhaseSucceeded {
		t.Fatalf("phase %s, want Succeeded once the hold had its evidence", st.Phase)
	}
	if len(extended) != 1 || !strings.Contains(extended[0], "every one was judged, but 5 evaluation times passed without an evaluation") {
		t.Errorf("hold extended events %q: want one saying 5 evaluation times were missed", extended)
	}
}
