package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// checklist is the runbook's success criteria, each checked from the data
// where it can be and left open, with the reason, where it cannot.
func (rep *report) checklist(b *strings.Builder) {
	b.WriteString("## Success criteria\n\n")
	for _, c := range rep.checks() {
		box := " "
		if c.Passed {
			box = "x"
		}
		fmt.Fprintf(b, "- [%s] %s — %s\n", box, c.Text, c.Why)
	}
}

// checks are the success criteria checked, for both the Markdown and the
// data.
func (rep *report) checks() []Check {
	out := []Check{}
	item := func(text string, check func() (bool, string)) {
		ok, why := check()
		out = append(out, Check{Text: text, Passed: ok, Why: why})
	}
	item("All SLOs maintained throughout deployment", rep.slosMaintained)
	item("No customer-reported issues (manual)", func() (bool, string) {
		return false, "a person must check this with support; canary cannot know it"
	})
	item("Monitoring dashboards show healthy metrics", rep.healthyNow)
	item("Feature flag at 100% rollout", rep.flagAt100)
	return out
}

// sloLimit is one SLO threshold the canary's values are held to.
type sloLimit struct {
	metric canary.Metric
	limit  float64
	name   string
}

// slosMaintained holds every judged canary value of the SLO's metrics
// (latencyP95, errorRate) to the SLO, and wants no rule to have fired.
func (rep *report) slosMaintained() (bool, string) {
	slo := rep.p.Spec.SLO
	var limits []sloLimit
	if slo.LatencyP95 > 0 {
		limits = append(limits, sloLimit{canary.MetricLatencyP95, slo.LatencyP95.D().Seconds(), "P95"})
	}
	if slo.ErrorRate > 0 {
		limits = append(limits, sloLimit{canary.MetricErrorRate, float64(slo.ErrorRate), "error rate"})
	}
	if len(limits) == 0 {
		return false, "not checked: the plan's slo sets no latencyP95 or errorRate"
	}
	var worst []string
	for _, l := range limits {
		w, n, first := rep.worstOf(l)
		kind := l.metric.Kind()
		switch {
		case n == 0:
			return false, fmt.Sprintf("not verified: no judged measurement of the canary's %s", l.name)
		case first != nil:
			return false, fmt.Sprintf("**not met**: canary %s %s > SLO %s at %s in %s", l.name,
				canary.FormatValue(kind, first.Value), canary.FormatValue(kind, l.limit), rep.at(first.at),
				rep.stepLabel(first.step))
		}
		worst = append(worst, fmt.Sprintf("%s at most %s (SLO %s) in %d judged evaluations", l.name,
			canary.FormatValue(kind, w), canary.FormatValue(kind, l.limit), n))
	}
	if fired := rep.firstFiring(); fired != nil {
		return false, fmt.Sprintf("**not met**: rule %s fired at %s", esc(fired.Rule), rep.at(fired.Time))
	}
	return true, "canary " + strings.Join(worst, "; ") + "; no rule fired"
}

type violation struct {
	canary.Evaluation
	at   time.Time
	step int
}

// worstOf is the canary's worst judged value of l's metric, how many
// evaluations judged it, and the first one over the limit.
func (rep *report) worstOf(l sloLimit) (float64, int, *violation) {
	var worst float64
	n := 0
	var first *violation
	for _, ev := range rep.evals {
		for _, e := range ev.Evaluations {
			if e.Metric != l.metric || !e.Verdict.Judged() {
				continue
			}
			worst = max(worst, e.Value)
			n++
			if e.Value > l.limit && first == nil {
				first = &violation{Evaluation: e, at: ev.Time, step: ev.Step}
			}
			break // rules on one metric share the measurement
		}
	}
	return worst, n, first
}

func (rep *report) firstFiring() *canary.Event {
	for i, ev := range rep.events {
		if ev.Type == canary.EvRuleFiring {
			return &rep.events[i]
		}
	}
	return nil
}

// healthyNow looks at the last evaluation: every rule judged and passing.
func (rep *report) healthyNow() (bool, string) {
	if len(rep.evals) == 0 {
		return false, "not verified: no evaluation took place"
	}
	last := rep.evals[len(rep.evals)-1]
	var bad []string
	for _, e := range last.Evaluations {
		if e.Verdict != canary.VerdictPass {
			bad = append(bad, esc(e.Rule)+" "+string(e.Verdict))
		}
	}
	where := fmt.Sprintf("the last evaluation, at %s in %s,", rep.at(last.Time), rep.stepLabel(last.Step))
	if len(bad) > 0 {
		return false, "**not met**: " + where + " had " + strings.Join(bad, ", ")
	}
	return true, where + " passed every rule"
}

// flagAt100 checks the flag's confirmed state.
func (rep *report) flagAt100() (bool, string) {
	f := rep.p.Spec.FeatureFlag
	if f == nil {
		return false, "not applicable: the plan moves no feature flag"
	}
	st := rep.st
	switch {
	case st.FlagEnabled && st.FlagPercent == 100:
		return true, "flag " + esc(f.Name) + " on at 100%" + rep.confirmedAt(100)
	case !st.FlagEnabled:
		return false, "**not met**: flag " + esc(f.Name) + " is off"
	}
	return false, fmt.Sprintf("**not met**: flag %s is at %d%%", esc(f.Name), st.FlagPercent)
}

// confirmedAt is " (confirmed at +2h31m)": when a setFlag to percent last
// succeeded.
func (rep *report) confirmedAt(percent int) string {
	for i := len(rep.events) - 1; i >= 0; i-- {
		ev := rep.events[i]
		if ev.Type == canary.EvActionSucceeded && ev.Action != nil && ev.Action.Kind == canary.ActSetFlag &&
			ev.Action.FlagEnabled && ev.Action.Weight == percent {
			return " (confirmed at " + rep.at(ev.Time) + ")"
		}
	}
	return ""
}
