package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/web/webtest"
)

func planErrors() error {
	return plan.ErrorList{
		{File: "plan", Line: 3, Col: 1, Path: "spec.a", Msg: "first"},
		{File: "plan", Line: 4, Col: 1, Path: "spec.b", Msg: "second"},
	}
}

func TestCtlEvents(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	e.api.Append("default/web", canary.Event{Type: canary.EvEvaluated, Time: webtest.T0.Add(10 * time.Second),
		Phase: canary.PhaseProgressing, Evaluations: []canary.Evaluation{{Rule: "r", Verdict: canary.VerdictPass}},
		Message: "evaluated 1 rules: 1 pass"})
	out := e.ok("events", "web")
	want := "+0s      created                    rollout of web v2 started: 3 steps, 2 rules\n"
	if !strings.HasPrefix(out, want) || strings.Contains(out, "evaluated") || strings.Contains(out, "issue set") {
		t.Errorf("events:\n%s", out)
	}
	if all := e.ok("events", "web", "--all"); !strings.Contains(all, "evaluated 1 rules") || !strings.Contains(all, "issue set the feature flag") {
		t.Errorf("events --all:\n%s", all)
	}
	lines := strings.Split(strings.TrimSpace(e.ok("events", "web", "-o", "json")), "\n")
	for i, l := range lines {
		var ev canary.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Seq != int64(i+1) {
			t.Errorf("json line %d: %q %v", i, l, err)
		}
	}
	if len(lines) != 4 {
		t.Errorf("%d JSON events, want 4", len(lines))
	}
	has(t, e.fails(ExitInvalid, "events", "nope"), "not found")
}

// TestCtlEventsWatch: -w prints the events so far, then each new one, and
// ends cleanly when interrupted.
func TestCtlEventsWatch(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errw canarytest.Buffer
	done := make(chan int, 1)
	go func() { done <- e.runCtx(ctx, &out, &errw, "events", "web", "-w") }()
	waitFor(t, &out, "rollout of web v2 started")
	e.api.Append("default/web", canary.Event{Type: canary.EvPaused, Time: webtest.T0.Add(90 * time.Second),
		Phase: canary.PhasePaused, Message: "⏸ paused at step 1 (10%): paused by bob", Actor: "bob"})
	waitFor(t, &out, "+1m30s   PAUSED       step 1    0%  ⏸ paused at step 1 (10%): paused by bob")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after interrupt: %s", code, errw.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("events -w did not end after the interrupt")
	}
	if n := strings.Count(out.String(), "started"); n != 1 {
		t.Errorf("the created event was printed %d times:\n%s", n, out.String())
	}
}

// waitFor waits up to 5s for s in b.
func waitFor(t *testing.T, b *canarytest.Buffer, s string) {
	t.Helper()
	canarytest.WaitUntil(t, 5*time.Second, fmt.Sprintf("%q printed", s), func() bool { return strings.Contains(b.String(), s) })
}

// TestCtlDescribe: a rollout rolling back after a rule fired shows its
// steps with marks, the rule table and the decision with its inputs.
func TestCtlDescribe(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	out := e.ok("describe", "web")
	has(t, out, "Name:        default/web\n", "Phase:       Progressing\n", "Created:     2025-08-14 09:00:00 UTC (5m ago)\n",
		"\nSteps:\n  ● 1   10%  hold 1m\n    2   50%  hold 1m  manual approval\n    3  100%\n",
		"\nDecisions:  none yet\n", "RULE")

	r, _ := e.api.Get(t.Context(), "default/web")
	at := webtest.T0.Add(4 * time.Minute)
	stable := 0.42
	firing := canary.Evaluation{Rule: "latencyP95 > 600ms for 20s", Metric: canary.MetricLatencyP95, Window: 10 * time.Second,
		Value: 0.742, Samples: 250, Threshold: 0.6, Op: "above", Verdict: canary.VerdictBreach, Stable: &stable,
		PendingFor: 20 * time.Second, Firing: true}
	pass := canary.Evaluation{Rule: "errorRate > 5% for 10s", Metric: canary.MetricErrorRate, Window: 10 * time.Second,
		Value: 0.002, Samples: 250, Threshold: 0.05, Op: "above", Verdict: canary.VerdictPass}
	r.State.Phase, r.State.Step, r.State.Weight = canary.PhaseRollingBack, 1, 0
	r.State.RollbackKind, r.State.RollbackReason = canary.ActionRollbackGradual, "latencyP95 742ms > 600ms for 20s"
	r.LastEvaluations = []canary.Evaluation{firing, pass}
	e.api.Put(r,
		canary.Event{Seq: 10, Time: at, Type: canary.EvRuleFiring, Phase: canary.PhaseProgressing, Step: 1, Weight: 50,
			Rule: firing.Rule, Message: "latencyP95 > 600ms for 20s firing: latencyP95 742ms > 600ms for 20s"},
		canary.Event{Seq: 11, Time: at, Type: canary.EvEvaluated, Phase: canary.PhaseProgressing, Step: 1, Weight: 50,
			Evaluations: []canary.Evaluation{firing, pass}},
		canary.Event{Seq: 12, Time: at, Type: canary.EvRollbackStarted, Phase: canary.PhaseRollingBack, Step: 1, Weight: 50,
			Rule: firing.Rule, Evaluations: []canary.Evaluation{firing, pass},
			Message: "🚨 ROLLBACK INITIATED (gradual): latencyP95 742ms > 600ms for 20s"})
	out = e.ok("describe", "web")
	has(t, out, "  ✓ 1   10%", "  ✗ 2   50%", "\nLast decisions (2 of 2):\n",
		"+4m      FIRING       step 2   50%  latencyP95 > 600ms for 20s firing",
		"↳ latencyP95 > 600ms for 20s: canary 742ms (stable 420ms), 250 requests over 10s; > 600ms → breach for 20s, firing\n",
		"↳ errorRate > 5% for 10s: canary 0.2%, 250 requests over 10s; > 5% → pass\n",
		"ROLLBACK     step 2   50%  🚨 ROLLBACK INITIATED (gradual)")
}
