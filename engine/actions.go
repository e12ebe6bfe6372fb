package engine

import (
	"fmt"
	"time"

	"github.com/canary-dev/canary"
)

// issue queues actions, each recorded by an actionIssued event (the
// runner's intent record).
func (m *machine) issue(acts ...canary.Action) {
	for _, a := range acts {
		m.st.ActionSeq++
		a.ID = m.st.ActionSeq
		m.st.Outstanding = append(m.st.Outstanding, a)
		ac := a
		m.emit(canary.Event{Type: canary.EvActionIssued, Action: &ac, Message: "issue " + describe(a)})
	}
}

// describe is a short human form of an action.
func describe(a canary.Action) string { return a.Describe() }

// flagAction returns the flag action for percent, or nothing when the plan
// has no feature flag.
func (m *machine) flagAction(enabled bool, percent int) []canary.Action {
	if m.p.Spec.FeatureFlag == nil {
		return nil
	}
	return []canary.Action{{Kind: canary.ActSetFlag, FlagEnabled: enabled, Weight: percent}}
}

// hookActions returns the plan's hooks at point, as actions.
func (m *machine) hookActions(at string, step int, bestEffort bool) []canary.Action {
	var acts []canary.Action
	for _, h := range m.p.Spec.Hooks {
		if h.At == at {
			acts = append(acts, canary.Action{Kind: canary.ActHook, Name: h.Name, Step: step, BestEffort: bestEffort})
		}
	}
	return acts
}

// applyResults matches results to outstanding actions by ID.
func (m *machine) applyResults(results []canary.ActionResult) {
	for _, r := range results {
		i := m.outstandingIndex(r.ID)
		if i < 0 {
			continue // a stale or repeated result: already applied
		}
		a := m.st.Outstanding[i]
		if r.Err == "" {
			m.succeeded(i, a, r)
			continue
		}
		m.failed(i, a, r)
	}
}

func (m *machine) outstandingIndex(id int64) int {
	for i, a := range m.st.Outstanding {
		if a.ID == id {
			return i
		}
	}
	return -1
}

func (m *machine) remove(i int) {
	m.st.Outstanding = append(m.st.Outstanding[:i:i], m.st.Outstanding[i+1:]...)
}

// succeeded applies an action's effect to the confirmed state.
func (m *machine) succeeded(i int, a canary.Action, r canary.ActionResult) {
	m.remove(i)
	m.st.FailingSince, m.st.RetryAt = time.Time{}, time.Time{}
	m.st.LastError = ""
	m.st.Escalated = false
	switch a.Kind {
	case canary.ActSetWeight:
		m.st.Weight = a.Weight
	case canary.ActSetFlag:
		m.st.FlagEnabled, m.st.FlagPercent = a.FlagEnabled, a.Weight
	case canary.ActApproval:
		m.approvalAnswer(r.Output)
		return
	}
	ac := a
	msg := describe(a) + ": done"
	if r.Output != "" {
		msg += " (" + r.Output + ")"
	}
	t := canary.EvActionSucceeded
	if a.Kind == canary.ActPreCheck {
		t = canary.EvPreCheckPassed
		msg = fmt.Sprintf("pre-check %q passed", a.Name)
		if r.Output != "" {
			msg += ": " + r.Output
		}
	}
	m.emit(canary.Event{Type: t, Action: &ac, Message: msg})
}

// failed handles a failed action: pre-checks and blocking hooks fail the
// rollout, best-effort ones are recorded, the rest are retried until the
// action timeout pauses the rollout.
func (m *machine) failed(i int, a canary.Action, r canary.ActionResult) {
	ac := a
	switch {
	case a.Kind == canary.ActPreCheck || (a.Kind == canary.ActHook && !a.BestEffort && m.st.Phase == canary.PhasePreChecks):
		m.st.Outstanding = nil
		m.st.Phase = canary.PhaseFailed
		m.st.FinishedAt = m.now
		m.emit(canary.Event{Type: canary.EvPreChecksFailed, Urgency: canary.UrgencyMedium, Action: &ac, Error: r.Err,
			Message: fmt.Sprintf("❌ %s failed: %s; nothing was changed", describeCheck(a), r.Err)})
		return
	case a.BestEffort:
		m.remove(i)
		m.emit(canary.Event{Type: canary.EvHookFailed, Urgency: canary.UrgencyLow, Action: &ac, Error: r.Err,
			Message: fmt.Sprintf("%s failed: %s (the rollout goes on)", describe(a), r.Err)})
		return
	case a.Kind == canary.ActApproval:
		m.remove(i)
		m.emit(canary.Event{Type: canary.EvActionFailed, Action: &ac, Error: r.Err,
			Message: fmt.Sprintf("%s failed: %s (asking again)", describe(a), r.Err)})
		return
	}
	m.retryFailed(a, r)
}

// retryFailed records a failed action that is retried, and once it has failed
// for the action timeout calls for a person: a rollback keeps retrying
// (never paused), anything else pauses the rollout.
func (m *machine) retryFailed(a canary.Action, r canary.ActionResult) {
	ac := a
	if m.st.FailingSince.IsZero() {
		m.st.FailingSince = r.At
		if r.At.IsZero() {
			m.st.FailingSince = m.now
		}
	}
	m.st.LastError = r.Err
	m.st.RetryAt = m.now.Add(m.retryDelay())
	m.emit(canary.Event{Type: canary.EvActionFailed, Urgency: canary.UrgencyMedium, Action: &ac, Error: r.Err,
		Message: fmt.Sprintf("%s failed: %s (retrying)", describe(a), r.Err)})
	failingFor := m.now.Sub(m.st.FailingSince)
	switch {
	case failingFor < m.actionTimeout() || m.st.Escalated:
	case m.st.Phase == canary.PhaseRollingBack:
		// A rollback is never paused: it keeps retrying and calls for help once.
		m.st.Escalated = true
		m.emit(canary.Event{Type: canary.EvActionFailed, Urgency: canary.UrgencyCritical, Action: &ac, Error: r.Err,
			Message: fmt.Sprintf("🚨 rollback is stuck: %s has failed for %s: %s (still retrying; a person is needed)",
				describe(a), canary.FormatDuration(failingFor), r.Err)})
	case m.st.Phase != canary.PhasePaused:
		m.st.Escalated = true
		m.pause(canary.UrgencyHigh, fmt.Sprintf("%s has failed for %s: %s", describe(a),
			canary.FormatDuration(failingFor), r.Err))
	}
}

func describeCheck(a canary.Action) string {
	if a.Kind == canary.ActPreCheck {
		return fmt.Sprintf("pre-check %q", a.Name)
	}
	return fmt.Sprintf("hook %q", a.Name)
}

func (m *machine) actionTimeout() time.Duration {
	if t := m.p.Spec.ActionTimeout.D(); t > 0 {
		return t
	}
	return canary.DefaultActionTimeout
}
