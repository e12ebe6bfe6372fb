package report

import (
	"fmt"
	"strings"

	"github.com/canary-dev/canary"
)

// decision reports whether ev is a decision the report explains: the
// engine's (advance, rule fired, rollback, pause, promotion, escalation)
// and people's (commands, approvals).
func decision(ev canary.Event) bool {
	switch ev.Type {
	case canary.EvStepCompleted, canary.EvRuleFiring, canary.EvRollbackStarted, canary.EvRolledBack,
		canary.EvPaused, canary.EvResumed, canary.EvAwaitingApproval, canary.EvApproved, canary.EvCommand,
		canary.EvRetried, canary.EvHoldExtended, canary.EvPreChecksFailed, canary.EvFailed, canary.EvPromoted:
		return true
	case canary.EvActionFailed:
		return ev.Urgency.Rank() >= canary.UrgencyMedium.Rank() // an escalation, not a routine retry
	}
	return false
}

// decisions lists every decision with why: its message and the inputs
// it was taken on.
func (rep *report) decisions(b *strings.Builder) {
	b.WriteString("## Decisions\n\n")
	n := 0
	for i, ev := range rep.events {
		if !decision(ev) {
			continue
		}
		n++
		fmt.Fprintf(b, "%d. **%s · %s** — %s\n", n, rep.at(ev.Time), rep.heading(ev), esc(message(ev)))
		for _, line := range rep.why(i) {
			fmt.Fprintf(b, "   - %s\n", line)
		}
	}
	if n == 0 {
		b.WriteString("No decisions were taken yet.\n")
	}
	b.WriteString("\n")
}

// heading is "step 2 (10%) · rollback started (urgency high)".
func (rep *report) heading(ev canary.Event) string {
	var parts []string
	if position(ev) != "" {
		parts = append(parts, rep.stepLabel(ev.Step))
	}
	l := label(ev.Type)
	if ev.Actor != "" {
		l += " by " + esc(ev.Actor)
	}
	if (ev.Type == canary.EvRuleFiring || ev.Type == canary.EvRollbackStarted) && ev.Urgency != "" {
		l += " (urgency " + string(ev.Urgency) + ")"
	}
	return strings.Join(append(parts, l), " · ")
}

// why are the inputs of the decision at index i, one line each.
func (rep *report) why(i int) []string {
	ev := rep.events[i]
	switch ev.Type {
	case canary.EvRollbackStarted:
		if len(ev.Evaluations) == 0 {
			return nil
		}
		lines := make([]string, len(ev.Evaluations))
		for j, e := range ev.Evaluations {
			lines[j] = input(e)
		}
		return lines
	case canary.EvRuleFiring, canary.EvPaused:
		if e, ok := rep.inputAt(i, ev.Rule); ok {
			return []string{input(e)}
		}
	case canary.EvStepCompleted:
		return []string{rep.evidence(ev.Step)}
	}
	return nil
}

// inputAt finds rule's evaluation (any firing rule's when rule is "") in
// the evaluation that produced the event at index i: the engine records a
// rule firing just before its evaluation and a pause or rollback just
// after, at the same time.
func (rep *report) inputAt(i int, rule string) (canary.Evaluation, bool) {
	at := rep.events[i].Time
	lo, hi := i, i
	for lo > 0 && rep.events[lo-1].Time.Equal(at) {
		lo--
	}
	for hi+1 < len(rep.events) && rep.events[hi+1].Time.Equal(at) {
		hi++
	}
	if lo < i && rep.events[i-1].Type == canary.EvCommand {
		return canary.Evaluation{}, false // a person's decision, not a rule's
	}
	for _, ev := range rep.events[lo : hi+1] {
		if ev.Type != canary.EvEvaluated {
			continue
		}
		for _, e := range ev.Evaluations {
			if e.Rule == rule || (rule == "" && e.Firing) {
				return e, true
			}
		}
	}
	return canary.Evaluation{}, false
}

// evidence is "held 2m with 4 of 4 evaluations judged", for step.
func (rep *report) evidence(step int) string {
	total, judged := 0, 0
	for _, ev := range rep.evals {
		if ev.Step == step && ev.Phase == canary.PhaseProgressing {
			total++
			if allJudged(ev.Evaluations) {
				judged++
			}
		}
	}
	s := fmt.Sprintf("evidence: %d of %d evaluations with every rule judged", judged, total)
	if step >= 0 && step < len(rep.p.Spec.Steps) {
		s = "hold " + rep.p.Spec.Steps[step].Hold.String() + "; " + s
	}
	return s
}

// input is one rule's judgement with its numbers: "latencyP95 > 600ms
// for 1m: canary **742ms** (stable 450ms), 2400 requests over 30s;
// threshold > 600ms → **breach** for 1m, firing".
func input(e canary.Evaluation) string {
	kind := e.Metric.Kind()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", esc(e.Rule))
	if e.Verdict.Judged() {
		who := "canary"
		if e.Metric == canary.MetricBurnRate {
			who = "service" // burn is the whole service's
		}
		fmt.Fprintf(&b, "%s **%s**", who, value(kind, e.Value, true))
		if e.Stable != nil {
			fmt.Fprintf(&b, " (stable %s)", value(kind, *e.Stable, true))
		}
		b.WriteString(", ")
	}
	fmt.Fprintf(&b, "%d requests over %s; threshold %s %s → **%s**", e.Samples, canary.FormatDuration(e.Window),
		opSymbol(e.Op), canary.FormatValue(kind, e.Threshold), e.Verdict)
	if e.PendingFor > 0 {
		fmt.Fprintf(&b, " for %s", dur(e.PendingFor))
	}
	if e.Firing {
		b.WriteString(", firing")
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", esc(e.Detail))
	}
	return b.String()
}
