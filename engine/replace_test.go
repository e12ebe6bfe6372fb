package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

func replacePlanFixture(t *testing.T, version, steps string, rules ...string) *canary.Plan {
	t.Helper()
	return planOf(t, "web", version, steps, "{interval: 1s}", rules...)
}

// TestReplacePlanRekeysRules: a forced change keeps the memory of the rules
// that stay, starts changed or new ones afresh, drops removed ones, and
// records who changed what.
func TestReplacePlanRekeysRules(t *testing.T) {
	const steps = "[{weight: 5, hold: 10s}, {weight: 50, hold: 10s}, {weight: 100}]"
	keep := "{metric: latencyP95, above: 600ms, for: 5s, action: rollback-gradual}"
	old := replacePlanFixture(t, "v2", steps, keep, "{metric: errorRate, above: 5%, for: 1s, action: rollback-immediate}")
	p := replacePlanFixture(t, "v2", steps, "{metric: errorRate, above: 5%, for: 2s, action: rollback-immediate}", keep)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	st := engine.New(old, now)
	st.Phase, st.Step, st.Weight = canary.PhaseProgressing, 1, 50
	st.Rules[0].Streak, st.Rules[0].Verdict = 3, canary.VerdictBreach
	st.Rules[1].Streak = 1
	out, err := engine.ReplacePlan(old, p, st, "alice", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := out.State.Rules
	if len(got) != 2 || got[0].Name != p.Spec.Rules[0].DisplayName() || got[1].Name != old.Spec.Rules[0].DisplayName() {
		t.Fatalf("rule states %+v, want the new plan's names in its order", got)
	}
	if got[0].Streak != 0 || got[1].Streak != 3 || got[1].Verdict != canary.VerdictBreach {
		t.Errorf("streaks %d, %d (verdict %s): want the changed rule fresh and the kept one at 3, breach", got[0].Streak, got[1].Streak, got[1].Verdict)
	}
	if out.State.Step != 1 || out.State.Weight != 50 || out.State.Phase != canary.PhaseProgressing {
		t.Errorf("state moved: %+v", out.State)
	}
	if len(out.Events) != 1 || out.Events[0].Type != canary.EvCommand || out.Events[0].Actor != "alice" {
		t.Fatalf("events %+v, want one command by alice", out.Events)
	}
	msg := out.Events[0].Message
	for _, want := range []string{"plan replaced by alice", "rules: −" + old.Spec.Rules[1].DisplayName(), "+" + p.Spec.Rules[0].DisplayName()} {
		if !strings.Contains(msg, want) {
			t.Errorf("event %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "steps") {
		t.Errorf("event %q names steps, which did not change", msg)
	}

	// The version may not change, nor may the current step disappear.
	if _, err := engine.ReplacePlan(old, replacePlanFixture(t, "v3", steps, keep), st, "alice", now); canary.ErrorCode(err) != canary.ECONFLICT {
		t.Errorf("new version: %v, want conflict", err)
	}
	short := replacePlanFixture(t, "v2", "[{weight: 100}]", keep)
	if _, err := engine.ReplacePlan(old, short, st, "alice", now); canary.ErrorCode(err) != canary.ECONFLICT || !strings.Contains(err.Error(), "step 2") {
		t.Errorf("fewer steps than the current one: %v, want conflict naming step 2", err)
	}
	if ch := engine.SpecChanges(old, old); len(ch) != 0 {
		t.Errorf("SpecChanges of a plan with itself: %v", ch)
	}
}
