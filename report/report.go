// Package report writes the post-deployment report of a rollout in
// Markdown, from its state and its event log: the outcome, version and
// duration; a timeline of the events people care about; the canary's and
// the stable's metrics per step; every decision (a rule firing, a
// rollback, a pause, an approval, a person's command with its actor) with
// the numbers behind it; and the runbook's success-criteria checklist,
// each item checked from the data where the data can say.
//
// Invariants: Markdown reads no clock and judges nothing: every time,
// value and verdict comes from the events (the engine's judgements), so the
// same rollout always gives the same report, byte for byte. Text from the
// log is escaped so it cannot break a table or open an HTML tag.
package report

import (
	"fmt"
	"github.com/canary-dev/canary/api"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// Markdown returns the post-deployment report of r, whose events (in Seq
// order, all of them for the full report) are given. It works on a
// rollout still under way too: the report then says so. Credentials
// written in URLs are redacted (canary.RedactURLCredentials).
func Markdown(r api.Rollout, events []canary.Event) string {
	rep := newReport(r, events)
	var b strings.Builder
	rep.summary(&b)
	rep.timeline(&b)
	rep.metrics(&b)
	rep.decisions(&b)
	rep.checklist(&b)
	return canary.RedactURLCredentials(b.String())
}

// report carries what the sections share.
type report struct {
	r      api.Rollout
	p      *canary.Plan
	st     canary.State
	events []canary.Event
	start  time.Time
	evals  []canary.Event // evaluated events with evaluations, in order
	// vsBaseline holds the names of the burn rules relative to the baseline.
	vsBaseline map[string]bool
}

func newReport(r api.Rollout, events []canary.Event) *report {
	rep := &report{r: r, p: r.Plan, st: r.State, events: events}
	if rep.p == nil {
		rep.p = &canary.Plan{}
	}
	rep.start = r.State.CreatedAt
	if rep.start.IsZero() {
		rep.start = r.CreatedAt
	}
	if rep.start.IsZero() && len(events) > 0 {
		rep.start = events[0].Time
	}
	rep.vsBaseline = map[string]bool{}
	for _, r := range rep.p.Spec.Rules {
		if r.Vs == "baseline" {
			rep.vsBaseline[r.DisplayName()] = true
		}
	}
	for _, ev := range events {
		if ev.Type == canary.EvEvaluated && len(ev.Evaluations) > 0 {
			rep.evals = append(rep.evals, ev)
		}
	}
	return rep
}

// summary is the title, the outcome and the facts.
func (rep *report) summary(b *strings.Builder) {
	name := rep.r.Name
	if name == "" {
		name = rep.st.Name
	}
	fmt.Fprintf(b, "# Rollout report: %s %s\n\n", esc(name), esc(rep.version()))
	head, why := rep.outcome()
	fmt.Fprintf(b, "**Outcome: %s** — %s.\n\n", head, why)
	fmt.Fprintf(b, "- **Rollout:** %s, generation %d\n", esc(name), rep.r.Generation)
	fmt.Fprintf(b, "- **Version:** %s\n", esc(rep.version()))
	fmt.Fprintf(b, "- **Started:** %s\n", stamp(rep.start))
	if end, done := rep.end(); done {
		fmt.Fprintf(b, "- **Finished:** %s\n", stamp(end))
		fmt.Fprintf(b, "- **Duration:** %s\n", dur(end.Sub(rep.start)))
	} else {
		fmt.Fprintf(b, "- **Duration:** %s so far (last event %s)\n", dur(end.Sub(rep.start)), stamp(end))
	}
	fmt.Fprintf(b, "- **Steps:** %s\n", rep.track())
	fmt.Fprintf(b, "- **Traffic:** %s\n", rep.traffic())
	if slo := rep.sloText(); slo != "" {
		fmt.Fprintf(b, "- **SLO:** %s\n", slo)
	}
	judged := 0
	for _, ev := range rep.evals {
		if allJudged(ev.Evaluations) {
			judged++
		}
	}
	fmt.Fprintf(b, "- **Evaluations:** %d (%d with every rule judged), %d rules\n", len(rep.evals), judged, len(rep.p.Spec.Rules))
	for _, ev := range rep.events {
		if ev.Type == canary.EvEvaluated && len(ev.Evaluations) == 0 {
			fmt.Fprintf(b, "- **Baseline:** %s\n", esc(ev.Message))
		}
	}
	b.WriteString("\n")
}

func (rep *report) version() string {
	if rep.st.Version != "" {
		return rep.st.Version
	}
	return rep.p.Spec.Version
}

// end is when the rollout finished, or its last event while under way.
func (rep *report) end() (time.Time, bool) {
	if rep.st.Phase.Terminal() && !rep.st.FinishedAt.IsZero() {
		return rep.st.FinishedAt, true
	}
	end := rep.st.UpdatedAt
	if n := len(rep.events); n > 0 && rep.events[n-1].Time.After(end) {
		end = rep.events[n-1].Time
	}
	if end.IsZero() {
		end = rep.start
	}
	return end, false
}

// outcome is the headline and why: "✅ promoted", "v2 serves 100% of
// traffic".
func (rep *report) outcome() (string, string) {
	st := rep.st
	switch st.Phase {
	case canary.PhaseSucceeded:
		return "✅ promoted", esc(rep.version()) + " serves 100% of traffic"
	case canary.PhaseRolledBack:
		return "↩️ rolled back (" + grade(st.RollbackKind) + ")",
			esc(st.RollbackReason) + "; the stable version serves all traffic"
	case canary.PhaseFailed:
		return "❌ failed before any traffic moved", "nothing was changed" + rep.failure()
	case canary.PhasePaused:
		return "⏸ paused, not finished", esc(st.PauseReason)
	case canary.PhaseRollingBack:
		return "🚨 rolling back (" + grade(st.RollbackKind) + "), not finished", esc(st.RollbackReason)
	}
	return "⏳ under way, not finished", fmt.Sprintf("%s at %s", st.Phase, rep.stepLabel(st.Step))
}

// failure is why a rollout failed, from its last failure event.
func (rep *report) failure() string {
	for i := len(rep.events) - 1; i >= 0; i-- {
		ev := rep.events[i]
		if ev.Type == canary.EvPreChecksFailed || ev.Type == canary.EvFailed {
			return ": " + esc(message(ev))
		}
	}
	return ""
}

func grade(kind string) string {
	if g := strings.TrimPrefix(kind, "rollback-"); g != "" {
		return g
	}
	return "rollback"
}

// track is "5% ✓ → 10% ✓ → 25% ✗ → 50% → 100%".
func (rep *report) track() string {
	steps := rep.p.Spec.Steps
	if len(steps) == 0 {
		return "none in the plan"
	}
	done := map[int]bool{}
	for _, ev := range rep.events {
		if ev.Type == canary.EvStepCompleted {
			done[ev.Step] = true
		}
	}
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprintf("%d%%", s.Weight)
		switch {
		case done[i] || rep.st.Phase == canary.PhaseSucceeded:
			parts[i] += " ✓"
		case i == rep.st.Step && rollingBack(rep.st.Phase):
			parts[i] += " ✗"
		case i == rep.st.Step && rep.moved():
			parts[i] += " ●"
		}
	}
	return strings.Join(parts, " → ")
}

func rollingBack(ph canary.Phase) bool {
	return ph == canary.PhaseRollingBack || ph == canary.PhaseRolledBack
}

// moved reports whether traffic reached the canary, and the rollout is not
// finished.
func (rep *report) moved() bool {
	switch rep.st.Phase {
	case canary.PhasePending, canary.PhasePreChecks, canary.PhaseFailed, canary.PhaseSucceeded:
		return false
	case canary.PhasePaused:
		return rep.st.PausedFrom == canary.PhaseProgressing
	}
	return true
}

func (rep *report) traffic() string {
	s := rep.p.Spec.Traffic.Provider()
	if s == "" {
		s = "unknown"
	}
	if m := rep.p.Spec.Analysis.Metrics.Provider(); m != "" {
		s += ", metrics from " + m
	}
	if f := rep.p.Spec.FeatureFlag; f != nil {
		s += ", feature flag " + esc(f.Name)
	}
	return s
}

// sloText is "availability 99.9% · P95 600ms · error rate 1%".
func (rep *report) sloText() string {
	slo := rep.p.Spec.SLO
	var parts []string
	if slo.Objective > 0 {
		parts = append(parts, "availability "+slo.Objective.String())
	}
	if slo.LatencyP95 > 0 {
		parts = append(parts, "P95 "+slo.LatencyP95.String())
	}
	if slo.ErrorRate > 0 {
		parts = append(parts, "error rate "+slo.ErrorRate.String())
	}
	return strings.Join(parts, " · ")
}

// stepLabel is "step 2 (10%)", counting from 1.
func (rep *report) stepLabel(i int) string {
	if i < 0 || i >= len(rep.p.Spec.Steps) {
		return fmt.Sprintf("step %d", i+1)
	}
	return fmt.Sprintf("step %d (%d%%)", i+1, rep.p.Spec.Steps[i].Weight)
}

// at is "+12m30s", the time since the start.
func (rep *report) at(t time.Time) string {
	d := t.Sub(rep.start)
	if d < 0 {
		return "-" + dur(-d)
	}
	return "+" + dur(d)
}

// stamp is "2025-08-14 09:00:00 UTC".
func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// dur is a duration to the second: "2h31m", "45s", "0s".
func dur(d time.Duration) string {
	if d >= time.Second {
		d = d.Truncate(time.Second)
	}
	return canary.FormatDuration(d)
}

func allJudged(evals []canary.Evaluation) bool {
	for _, e := range evals {
		if !e.Verdict.Judged() {
			return false
		}
	}
	return len(evals) > 0
}

// message is ev's message with the actor and error when not in it.
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

// esc makes text from the log safe in Markdown, in a table cell too: no
// line breaks, no cell separators, no HTML tags.
func esc(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '<' && i+1 < len(s) && (isLetter(s[i+1]) || strings.IndexByte("/!?", s[i+1]) >= 0) {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
