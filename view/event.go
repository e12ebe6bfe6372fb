package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// tagWidth is the width of the event tag column.
const tagWidth = 11

// tags are the short tags of the event types, capitals for those that need
// a person's attention.
var tags = map[canary.EventType]string{
	canary.EvCreated:          "created",
	canary.EvPreCheckPassed:   "check ok",
	canary.EvPreChecksFailed:  "CHECKS FAIL",
	canary.EvStepStarted:      "step",
	canary.EvStepCompleted:    "step done",
	canary.EvEvaluated:        "eval",
	canary.EvRulePending:      "pending",
	canary.EvRuleFiring:       "FIRING",
	canary.EvRuleCleared:      "cleared",
	canary.EvHoldExtended:     "extended",
	canary.EvAwaitingApproval: "APPROVAL?",
	canary.EvApproved:         "approved",
	canary.EvPaused:           "PAUSED",
	canary.EvResumed:          "resumed",
	canary.EvRollbackStarted:  "ROLLBACK",
	canary.EvRolledBack:       "ROLLED BACK",
	canary.EvPromoting:        "promoting",
	canary.EvPromoted:         "PROMOTED",
	canary.EvActionIssued:     "action",
	canary.EvActionSucceeded:  "done",
	canary.EvActionFailed:     "ACTION FAIL",
	canary.EvHookFailed:       "hook failed",
	canary.EvFailed:           "FAILED",
	canary.EvRetried:          "retried",
	canary.EvCommand:          "command",
}

// tagStyles color the tags when colors are on.
var tagStyles = map[canary.EventType]style{
	canary.EvPreChecksFailed:  bRed,
	canary.EvStepCompleted:    green,
	canary.EvEvaluated:        dim,
	canary.EvRulePending:      yellow,
	canary.EvRuleFiring:       bRed,
	canary.EvRuleCleared:      green,
	canary.EvHoldExtended:     yellow,
	canary.EvAwaitingApproval: bYel,
	canary.EvPaused:           bYel,
	canary.EvRollbackStarted:  bRed,
	canary.EvRolledBack:       bRed,
	canary.EvPromoted:         bGreen,
	canary.EvActionIssued:     dim,
	canary.EvActionSucceeded:  dim,
	canary.EvActionFailed:     red,
	canary.EvHookFailed:       red,
	canary.EvFailed:           bRed,
}

// tag is ev's short tag; an unknown type is shown as itself.
func tag(t canary.EventType) string {
	if s, ok := tags[t]; ok {
		return s
	}
	return string(t)
}

// EventLine is one line for a person about ev:
//
//	+12m30s  ROLLBACK     step 2  10%  🚨 ROLLBACK INITIATED (gradual): …
//
// the time since start, a short tag of the event type, the step (counted
// from 1) and the canary weight at the time, and the message, with the
// actor and the error added when the message does not already hold them.
// Before traffic moves (Pending, PreChecks, Failed) the step and weight are
// blank. It skips nothing: the caller decides which events to show (see
// Filter).
func EventLine(ev canary.Event, start time.Time) string {
	return StyledEventLine(ev, start, Options{})
}

// StyledEventLine is EventLine with the tag colored when opts.Color is
// set. Width and Height are ignored: an event line is permanent, so a
// long one wraps rather than losing its end.
func StyledEventLine(ev canary.Event, start time.Time, opts Options) string {
	var l line
	l.add(padRight(elapsed(ev.Time.Sub(start)), 9), plain)
	t := tag(ev.Type)
	l.add(t, tagStyles[ev.Type])
	l.add(padRight("", tagWidth-textWidth(t)+2), plain)
	l.add(position(ev)+"  ", dim)
	l.add(message(ev), plain)
	return l.render(opts.Color)
}

// elapsed is "+12m30s", to the second.
func elapsed(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d < 0 {
		return "-" + dur(-d)
	}
	return "+" + dur(d)
}

// position is "step 2  10%", blank before traffic moves.
func position(ev canary.Event) string {
	switch ev.Phase {
	case canary.PhasePending, canary.PhasePreChecks, canary.PhaseFailed:
		return strings.Repeat(" ", 12)
	}
	return fmt.Sprintf("step %-2d %3d%%", ev.Step+1, ev.Weight)
}

// message is ev's message with the actor and error when not already in it.
func message(ev canary.Event) string {
	m := ev.Message
	if ev.Actor != "" && !strings.Contains(m, ev.Actor) {
		m += " (by " + ev.Actor + ")"
	}
	if ev.Error != "" && !strings.Contains(m, ev.Error) {
		m += ": " + ev.Error
	}
	return m
}

// EventJSON encodes ev as one line of JSON ending in "\n", so consecutive
// events form a JSON Lines stream (for `-o json` and for output that is not
// a terminal). The field names are canary.Event's JSON names, which are
// part of the API; times are RFC 3339 with nanoseconds, durations
// (Evaluation.Window, PendingFor) integer nanoseconds. <, > and & are
// written as themselves, so "742ms > 600ms" stays readable.
func EventJSON(ev canary.Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("encode event %d (%s) as JSON: %w", ev.Seq, ev.Type, err)
	}
	return buf.Bytes(), nil
}

// Filter reports whether ev is worth a line for a person by default. It
// drops the per-interval evaluations (an "evaluated" event with
// Evaluations; the one-off baseline measurement, which has none, is kept)
// and the "actionIssued" intent records; it keeps everything else,
// including every action result.
func Filter(ev canary.Event) bool {
	switch ev.Type {
	case canary.EvEvaluated:
		return len(ev.Evaluations) == 0
	case canary.EvActionIssued:
		return false
	}
	return true
}
