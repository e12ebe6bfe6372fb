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

// Decision is one decision of the event log with the rule evaluations
// it was taken on.
type Decision struct {
	// Event is the decision: a step completed, a rule fired, a rollback, a
	// pause, a resume, an approval, a person's command, a promotion, an
	// escalated action failure.
	Event canary.Event `json:"event"`
	// Inputs are every rule's evaluation for a rollback started by a rule,
	// the rule's own for a rule firing or a pause by a rule, else none.
	Inputs []canary.Evaluation `json:"inputs,omitempty"`
}

// Decisions picks the decisions out of events (in Seq order), with their
// inputs.
func Decisions(events []canary.Event) []Decision {
	var out []Decision
	for i, ev := range events {
		if !decision(ev) {
			continue
		}
		d := Decision{Event: ev}
		switch ev.Type {
		case canary.EvRollbackStarted:
			d.Inputs = ev.Evaluations
		case canary.EvRuleFiring, canary.EvPaused:
			if e, ok := inputAt(events, i, ev.Rule); ok {
				d.Inputs = []canary.Evaluation{e}
			}
		}
		out = append(out, d)
	}
	return out
}

// decisions lists every decision with why: its message and the inputs
// it was taken on.
func (rep *report) decisions(b *strings.Builder) {
	b.WriteString("## Decisions\n\n")
	ds := Decisions(rep.events)
	for n, d := range ds {
		ev := d.Event
		fmt.Fprintf(b, "%d. **%s · %s** — %s\n", n+1, rep.at(ev.Time), rep.heading(ev), esc(message(ev)))
		for _, e := range d.Inputs {
			fmt.Fprintf(b, "   - %s\n", input(e))
		}
		if ev.Type == canary.EvStepCompleted {
			fmt.Fprintf(b, "   - %s\n", rep.evidence(ev.Step))
		}
	}
	if len(ds) == 0 {
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

// inputAt finds rule's evaluation (any firing rule's when rule is "") in
// the evaluation that produced the event at index i: the engine records a
// rule firing just before its evaluation and a pause or rollback just
// after, at the same time.
func inputAt(events []canary.Event, i int, rule string) (canary.Evaluation, bool) {
	at := events[i].Time
	lo, hi := i, i
	for lo > 0 && events[lo-1].Time.Equal(at) {
		lo--
	}
	for hi+1 < len(events) && events[hi+1].Time.Equal(at) {
		hi++
	}
	if lo < i && events[i-1].Type == canary.EvCommand {
		return canary.Evaluation{}, false // a person's decision, not a rule's
	}
	for _, ev := range events[lo : hi+1] {
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
