package engine

import (
	"fmt"
	"time"

	"github.com/canary-dev/canary"
)

// CommandKind names a manual control.
type CommandKind string

// The manual controls.
const (
	CmdPause   CommandKind = "pause"   // stop advancing; rules still protect
	CmdResume  CommandKind = "resume"  // continue a paused rollout
	CmdPromote CommandKind = "promote" // complete the current step now (Full: promote to 100%)
	CmdApprove CommandKind = "approve" // give the current step's approval
	CmdAbort   CommandKind = "abort"   // roll back (Immediate, or gradually)
	CmdRetry   CommandKind = "retry"   // start a rolled-back or failed rollout again
)

// Command is a person's (or an API client's) instruction.
type Command struct {
	Kind CommandKind `json:"kind"`
	// Full promotes straight to 100% (promote only).
	Full bool `json:"full,omitempty"`
	// Immediate selects an immediate rollback (abort only); otherwise the
	// rollback is gradual.
	Immediate bool `json:"immediate,omitempty"`
	// Actor is who gave the command, for the audit trail.
	Actor string `json:"actor,omitempty"`
	// Reason is free text recorded with the command.
	Reason string `json:"reason,omitempty"`
}

// Control applies cmd at now. A command that does not apply in the
// rollout's phase returns a *canary.Error with code conflict and the state
// unchanged.
func Control(p *canary.Plan, st canary.State, cmd Command, now time.Time) (Output, error) {
	m := &machine{p: p, st: cloneState(st), now: now}
	if len(m.st.Rules) != len(p.Spec.Rules) {
		m.st.Rules = freshRules(p)
	}
	if err := m.allowed(cmd); err != nil {
		return Output{State: st}, err
	}
	m.emit(canary.Event{Type: canary.EvCommand, Actor: cmd.Actor, Message: commandText(cmd)})
	m.apply(cmd)
	m.progress()
	m.st.UpdatedAt = now
	return m.output(), nil
}

func commandText(cmd Command) string {
	s := string(cmd.Kind)
	switch {
	case cmd.Kind == CmdPromote && cmd.Full:
		s += " --full"
	case cmd.Kind == CmdAbort && cmd.Immediate:
		s += " --immediate"
	case cmd.Kind == CmdAbort:
		s += " --gradual"
	}
	if cmd.Actor != "" {
		s += " by " + cmd.Actor
	}
	if cmd.Reason != "" {
		s += ": " + cmd.Reason
	}
	return s
}

// allowed says whether cmd applies in the current phase, and why not.
func (m *machine) allowed(cmd Command) error {
	ph := m.st.Phase
	from := ph
	if ph == canary.PhasePaused {
		from = m.st.PausedFrom
	}
	ok := false
	switch cmd.Kind {
	case CmdPause:
		ok = ph == canary.PhasePending || ph == canary.PhasePreChecks || ph == canary.PhaseProgressing
	case CmdResume:
		ok = ph == canary.PhasePaused
	case CmdPromote:
		ok = from == canary.PhaseProgressing
	case CmdApprove:
		ok = from == canary.PhaseProgressing && m.p.Spec.Steps[m.st.Step].Approval != nil && !m.st.Approved
	case CmdAbort:
		ok = !ph.Terminal() && ph != canary.PhasePromoting &&
			!(ph == canary.PhaseRollingBack && (!cmd.Immediate || m.st.RollbackKind == canary.ActionRollbackImmediate || m.st.Stage == stageCleanup))
	case CmdRetry:
		ok = ph == canary.PhaseRolledBack || ph == canary.PhaseFailed
	default:
		return canary.Errorf(canary.EINVALID, "unknown command %q (use pause, resume, promote, approve, abort or retry)", cmd.Kind)
	}
	if ok {
		return nil
	}
	return canary.Errorf(canary.ECONFLICT, "cannot %s rollout %s: it is %s%s", cmd.Kind, m.st.Name, ph, m.whyNot(cmd))
}

// whyNot adds a hint to a refused command.
func (m *machine) whyNot(cmd Command) string {
	switch {
	case cmd.Kind == CmdPause && m.st.Phase == canary.PhasePaused:
		return " already (resume it with canary resume)"
	case cmd.Kind == CmdApprove && m.st.Phase == canary.PhaseProgressing:
		return fmt.Sprintf(" and %s needs no approval", m.stepLabel(m.st.Step))
	case cmd.Kind == CmdAbort && m.st.Phase == canary.PhaseRollingBack:
		return " (" + m.st.RollbackKind + " already under way)"
	case m.st.Phase.Terminal():
		return " (finished; only retry applies to a rolled-back or failed rollout)"
	}
	return ""
}

// apply carries out an allowed command.
func (m *machine) apply(cmd Command) {
	reason := "by " + actor(cmd)
	if cmd.Reason != "" {
		// The person's reason goes with the outcome it causes ("paused by
		// ops: waiting for the DB team"), and so into notifications.
		reason += ": " + cmd.Reason
	}
	switch cmd.Kind {
	case CmdPause:
		if m.st.Phase == canary.PhasePending {
			m.startPreChecks()
		}
		m.pause(canary.UrgencyLow, "paused "+reason)
	case CmdResume:
		m.resume(cmd)
	case CmdPromote:
		m.promote(cmd)
	case CmdApprove:
		m.st.Approved = true
		m.emitf(canary.EvApproved, canary.UrgencyLow, "%s approved %s", m.stepLabel(m.st.Step), reason)
	case CmdAbort:
		kind := canary.ActionRollbackGradual
		if cmd.Immediate {
			kind = canary.ActionRollbackImmediate
		}
		m.abort(kind, "aborted "+reason)
	case CmdRetry:
		m.retry(cmd)
	}
}

func actor(cmd Command) string {
	if cmd.Actor == "" {
		return "a person"
	}
	return cmd.Actor
}

// abort rolls back; aborting during pre-checks fails the rollout instead,
// since no traffic has moved.
func (m *machine) abort(kind, reason string) {
	from := m.st.Phase
	if from == canary.PhasePaused {
		from = m.st.PausedFrom
	}
	if from == canary.PhasePending || from == canary.PhasePreChecks {
		m.st.Outstanding = nil
		m.st.Phase = canary.PhaseFailed
		m.st.FinishedAt = m.now
		m.emitf(canary.EvFailed, canary.UrgencyLow, "%s before any traffic moved; nothing was changed", reason)
		return
	}
	m.startRollback(kind, reason, canary.UrgencyMedium, "", nil)
}

// resume continues from a pause. The hold clock stopped while paused, so
// the step keeps the hold time and the judged time it had; a step already
// past its hold (a pause for lack of evidence) gets a fresh extension.
func (m *machine) resume(cmd Command) {
	paused := m.now.Sub(m.st.PausedAt)
	m.st.Phase = m.st.PausedFrom
	m.st.PausedFrom, m.st.PauseReason, m.st.PausedAt = "", "", time.Time{}
	m.st.FailingSince, m.st.RetryAt, m.st.Escalated = time.Time{}, time.Time{}, false
	for i, r := range m.p.Spec.Rules {
		if r.Action == canary.ActionPause {
			rs := &m.st.Rules[i]
			rs.ActiveAt, rs.Firing, rs.Streak, rs.StreakTick = time.Time{}, false, 0, 0
		}
	}
	if m.st.Phase == canary.PhaseProgressing && !m.st.StepStartedAt.IsZero() && !m.st.HoldDone {
		m.st.StepStartedAt = m.st.StepStartedAt.Add(paused)
		// The paused time is not vouched for: the next evaluation covers
		// one interval, from the grid's last tick.
		m.st.LastEvalAt = m.st.NextEvalAt.Add(-m.interval())
		if at := m.dueAt(); !at.After(m.now) {
			m.st.LastEvalAt = at
		}
		if hold := m.holdOf(m.st.Step); m.now.Sub(m.st.StepStartedAt) >= hold {
			// Past the hold already (a pause for lack of evidence or for
			// an outage of the metric source): the judged time is kept,
			// the step holds for the evidence it still lacks, then gets a
			// fresh extension, and outages before the resume no longer
			// count against it.
			m.st.StepStartedAt = m.now.Add(-min(m.st.JudgedTime, hold))
			m.st.Extended, m.st.OutageTime = false, 0
		}
	}
	if !m.st.ApprovalSince.IsZero() {
		m.st.ApprovalSince = m.now
	}
	m.emitf(canary.EvResumed, canary.UrgencyLow, "▶ resumed at %s by %s", m.stepLabel(m.st.Step), actor(cmd))
}

// promote completes the current step now, or promotes fully.
func (m *machine) promote(cmd Command) {
	done := canary.Event{Actor: cmd.Actor, Message: m.promotedText(cmd)}
	if m.st.Phase == canary.PhasePaused {
		m.st.Phase = canary.PhaseProgressing
		m.st.PausedFrom, m.st.PauseReason, m.st.PausedAt = "", "", time.Time{}
	}
	m.st.Outstanding = nil
	m.st.FailingSince, m.st.RetryAt, m.st.Escalated = time.Time{}, time.Time{}, false
	if cmd.Full {
		m.startPromotion()
		return
	}
	m.st.Stage = ""
	m.advance(done)
}

// promotedText is the stepCompleted message of a person's promote: the
// step's own "successful" line only when its hold had its evidence,
// else that a person cut the hold short and how much of it was held.
func (m *machine) promotedText(cmd Command) string {
	if m.st.HoldDone {
		return m.stepCompletedText() + " Promoted by " + actor(cmd) + "."
	}
	ref, held := m.now, time.Duration(0)
	if m.st.Phase == canary.PhasePaused && !m.st.PausedAt.IsZero() {
		ref = m.st.PausedAt // the hold clock stops while paused
	}
	if !m.st.StepStartedAt.IsZero() {
		held = max(ref.Sub(m.st.StepStartedAt), 0).Truncate(time.Second)
	}
	return fmt.Sprintf("⏩ %s promoted by %s before its hold completed: %s of the %s hold, judged evaluations cover %s (%d of %d judged)",
		m.stepLabel(m.st.Step), actor(cmd), canary.FormatDuration(held), canary.Duration(m.holdOf(m.st.Step)), canary.FormatDuration(m.st.JudgedTime),
		m.st.Judged, m.st.Evaluations)
}

// retry starts a finished rollout again from the beginning.
func (m *machine) retry(cmd Command) {
	old := m.st
	fresh := New(m.p, m.now)
	fresh.EventSeq, fresh.ActionSeq = old.EventSeq, old.ActionSeq
	// The rollout keeps its start: the events before the retry stay at
	// their offsets from it (none negative) in every view and report.
	fresh.CreatedAt = old.CreatedAt
	m.st = fresh
	m.emitf(canary.EvRetried, canary.UrgencyLow, "retry by %s: starting %s again (it ended %s)", actor(cmd), m.p.Spec.Version, old.Phase)
	m.startPreChecks()
}
