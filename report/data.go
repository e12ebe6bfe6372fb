package report

import (
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"
)

// Data is the post-deployment report as data (`canary report -o json`,
// GET .../report with Accept: application/json): the same facts as
// Markdown, from the same state and events, with no clock read.
type Data struct {
	Name       string `json:"name"`
	Generation int    `json:"generation"`
	Version    string `json:"version"`
	// Phase is the rollout's phase; Finished is true once it is terminal.
	Phase    canary.Phase `json:"phase"`
	Finished bool         `json:"finished"`
	// Reason is why it ended (or stands) where it is: the rollback's
	// reason, the pause's, the failure's; empty for a promotion.
	Reason string `json:"reason,omitempty"`
	// Started is the rollout's start; Ended its end (or its last event
	// while under way); Duration is Ended - Started.
	Started  time.Time       `json:"started"`
	Ended    time.Time       `json:"ended"`
	Duration canary.Duration `json:"duration"`
	// Evaluations counts evaluations, Judged those with every rule judged.
	Evaluations int `json:"evaluations"`
	Judged      int `json:"judged"`
	// Timeline are the events people care about (Markdown's timeline,
	// without its cut): no per-interval evaluation, no action record.
	Timeline []canary.Event `json:"timeline"`
	// Decisions are every decision with the inputs it was taken on.
	Decisions []Decision `json:"decisions"`
	// Checks are the runbook's success criteria, checked from the data.
	Checks []Check `json:"checks"`
}

// Check is one success criterion: Passed when the data shows it holds,
// Why either way.
type Check struct {
	Text   string `json:"text"`
	Passed bool   `json:"passed"`
	Why    string `json:"why"`
}

// JSON returns the report of r, whose events (in Seq order) are given,
// as data. Credentials written in URLs are redacted from the messages.
func JSON(r api.Rollout, events []canary.Event) Data {
	rep := newReport(r, events)
	name := r.Name
	if name == "" {
		name = rep.st.Name
	}
	end, done := rep.end()
	d := Data{Name: name, Generation: r.Generation, Version: rep.version(), Phase: rep.st.Phase, Finished: done,
		Reason: rep.reason(), Started: rep.start, Ended: end, Duration: canary.Duration(end.Sub(rep.start)),
		Evaluations: len(rep.evals), Timeline: []canary.Event{}, Decisions: Decisions(events), Checks: rep.checks()}
	for _, ev := range rep.evals {
		if allJudged(ev.Evaluations) {
			d.Judged++
		}
	}
	for _, ev := range events {
		if important(ev) {
			ev.Message = canary.RedactURLCredentials(ev.Message)
			d.Timeline = append(d.Timeline, ev)
		}
	}
	if d.Decisions == nil {
		d.Decisions = []Decision{}
	}
	return d
}

// reason is why the rollout is where it is, unescaped.
func (rep *report) reason() string {
	switch st := rep.st; st.Phase {
	case canary.PhaseRolledBack, canary.PhaseRollingBack:
		return st.RollbackReason
	case canary.PhasePaused:
		return st.PauseReason
	case canary.PhaseFailed:
		for i := len(rep.events) - 1; i >= 0; i-- {
			if ev := rep.events[i]; ev.Type == canary.EvPreChecksFailed || ev.Type == canary.EvFailed {
				return canary.RedactURLCredentials(message(ev))
			}
		}
	}
	return ""
}
