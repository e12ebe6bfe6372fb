package report

import (
	"fmt"
	"strings"

	"github.com/canary-dev/canary"
)

// maxTimeline bounds the timeline's rows; the middle of a longer one is
// left out (the event log has it all).
const maxTimeline = 300

// labels name the event types in the timeline and the decisions.
var labels = map[canary.EventType]string{
	canary.EvCreated:          "started",
	canary.EvPreCheckPassed:   "pre-check passed",
	canary.EvPreChecksFailed:  "pre-checks failed",
	canary.EvStepStarted:      "step started",
	canary.EvStepCompleted:    "step completed",
	canary.EvEvaluated:        "evaluated",
	canary.EvRulePending:      "rule pending",
	canary.EvRuleFiring:       "rule fired",
	canary.EvRuleCleared:      "rule cleared",
	canary.EvHoldExtended:     "hold extended",
	canary.EvAwaitingApproval: "awaiting approval",
	canary.EvApproved:         "approved",
	canary.EvPaused:           "paused",
	canary.EvResumed:          "resumed",
	canary.EvRollbackStarted:  "rollback started",
	canary.EvRolledBack:       "rolled back",
	canary.EvPromoting:        "promoting",
	canary.EvPromoted:         "promoted",
	canary.EvActionIssued:     "action issued",
	canary.EvActionSucceeded:  "action done",
	canary.EvActionFailed:     "action failed",
	canary.EvHookFailed:       "hook failed",
	canary.EvFailed:           "failed",
	canary.EvRetried:          "retried",
	canary.EvCommand:          "command",
}

func label(t canary.EventType) string {
	if l, ok := labels[t]; ok {
		return l
	}
	return string(t)
}

// important reports whether ev belongs in the timeline: everything but the
// per-interval evaluations and the actions' intent and success records.
func important(ev canary.Event) bool {
	switch ev.Type {
	case canary.EvEvaluated:
		return len(ev.Evaluations) == 0
	case canary.EvActionIssued, canary.EvActionSucceeded:
		return false
	}
	return true
}

// timeline is a table of the important events.
func (rep *report) timeline(b *strings.Builder) {
	var rows []canary.Event
	for _, ev := range rep.events {
		if important(ev) {
			rows = append(rows, ev)
		}
	}
	b.WriteString("## Timeline\n\n")
	if len(rows) == 0 {
		b.WriteString("No events were recorded.\n\n")
		return
	}
	b.WriteString("| time (UTC) | since start | step | event | what happened |\n")
	b.WriteString("|---|---|---|---|---|\n")
	omitted := 0
	if len(rows) > maxTimeline {
		omitted = len(rows) - maxTimeline
		rows = append(rows[:maxTimeline/2:maxTimeline/2], rows[len(rows)-maxTimeline/2:]...)
	}
	for i, ev := range rows {
		if omitted > 0 && i == maxTimeline/2 {
			fmt.Fprintf(b, "| … | | | | %d more events (the event log has them all) |\n", omitted)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", ev.Time.UTC().Format("15:04:05"), rep.at(ev.Time),
			position(ev), label(ev.Type), esc(message(ev)))
	}
	b.WriteString("\n")
}

// position is "2 · 10%", blank before traffic moves.
func position(ev canary.Event) string {
	switch ev.Phase {
	case canary.PhasePending, canary.PhasePreChecks, canary.PhaseFailed:
		return ""
	}
	return fmt.Sprintf("%d · %d%%", ev.Step+1, ev.Weight)
}
