package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// Stages inside multi-stage phases.
const (
	stageChecks   = "checks"   // PreChecks: pre-checks and beforeRollout hooks
	stageStep     = "step"     // Progressing: the step's flag and weight are being set
	stagePromote  = "promote"  // Promoting: weight 100, promote, remove canary
	stageRevert   = "revert"   // RollingBack: the first rollback actions
	stageDrain    = "drain"    // RollingBack (gradual): waiting at weight 0
	stageRemove   = "remove"   // RollingBack (gradual): removing the canary
	stageCleanup  = "cleanup"  // the plan's cleanup list
	stageFinished = "finished" // terminal
)

// startPreChecks leaves Pending: pre-checks and beforeRollout hooks run
// before any traffic moves.
func (m *machine) startPreChecks() {
	m.st.Phase = canary.PhasePreChecks
	m.st.Stage = stageChecks
	m.emitf(canary.EvCreated, canary.UrgencyLow, "rollout of %s %s started: %d steps, %d rules",
		m.p.Metadata.Name, m.p.Spec.Version, len(m.p.Spec.Steps), len(m.p.Spec.Rules))
	for _, pc := range m.p.Spec.PreChecks {
		m.issue(canary.Action{Kind: canary.ActPreCheck, Name: pc.Name})
	}
	m.issue(m.hookActions(canary.HookBeforeRollout, 0, false)...)
}

// progress moves the rollout on once nothing is outstanding.
func (m *machine) progress() {
	if len(m.st.Outstanding) > 0 {
		return
	}
	switch m.st.Phase {
	case canary.PhasePreChecks:
		if m.needBaseline() && !m.st.BaselineTaken {
			return
		}
		m.startStep(0)
	case canary.PhaseProgressing:
		if m.st.Stage == stageStep {
			m.stepConfirmed()
			return
		}
		m.checkHold()
	case canary.PhasePromoting:
		if m.st.Stage == stagePromote {
			m.startCleanup(canary.PhaseSucceeded)
			return
		}
		m.finishIfCleaned()
	case canary.PhaseRollingBack:
		m.progressRollback()
	}
}

// startStep sets the flag, then the weight, of step i.
func (m *machine) startStep(i int) {
	w := m.p.Spec.Steps[i].Weight
	m.st.Phase = canary.PhaseProgressing
	m.st.Step = i
	m.st.Stage = stageStep
	m.issue(m.flagAction(true, w)...)
	m.issue(m.weightAction(canary.StepRoute(m.p.Spec.Steps[i])))
}

// stepConfirmed starts the step's hold once its weight is confirmed.
func (m *machine) stepConfirmed() {
	m.st.Stage = ""
	m.st.StepStartedAt = m.now
	m.st.NextEvalAt = m.now.Add(m.interval())
	m.st.Judged, m.st.Evaluations, m.st.JudgedTime = 0, 0, 0
	m.st.Tick, m.st.OutageTime, m.st.LastEvalAt = 0, 0, m.now
	for i := range m.st.Rules {
		// Pooling stays within a step, and ticks count from its start.
		m.st.Rules[i].Windows, m.st.Rules[i].StreakTick = nil, 0
	}
	m.st.HoldDone, m.st.Approved, m.st.Extended = false, false, false
	m.st.ApprovalSince, m.st.ApprovalAskAt = time.Time{}, time.Time{}
	m.emitf(canary.EvStepStarted, canary.UrgencyLow, "%s", m.stepStartedText(m.st.Step))
}

func (m *machine) maxExtension(hold time.Duration) time.Duration {
	if d := m.p.Spec.Analysis.MaxHoldExtension.D(); d > 0 {
		return d
	}
	return hold
}

// checkHold completes the step when its hold has its evidence, extends it
// when not, and pauses when the extension runs out. It counts on nominal
// time: the time of the last evaluation's tick since the step started.
// Outages of the metric source extend the hold by their own length on top
// of maxHoldExtension, and pause it only when they add up to more.
func (m *machine) checkHold() {
	s := m.p.Spec.Steps[m.st.Step]
	hold := m.holdOf(m.st.Step)
	elapsed := max(m.st.LastEvalAt.Sub(m.st.StepStartedAt), 0)
	ext := m.maxExtension(hold)
	if !m.st.HoldDone && elapsed >= hold && m.switchStep(m.st.Step) {
		// Blue/green keeps the old version for scaleDownDelay, judged
		// or not: the rules fire on a breach, but nothing waits for
		// evidence once the switch is done.
		m.st.HoldDone = true
	}
	if !m.st.HoldDone && elapsed >= hold {
		pending := m.pendingRules()
		switch {
		case m.st.JudgedTime >= hold && len(pending) == 0:
			m.st.HoldDone = true
		case m.st.OutageTime > ext && !m.aboutToFire():
			m.pause(canary.UrgencyMedium, fmt.Sprintf("%s: the metric source measured nothing for %s of this step, more than maxHoldExtension (%s): %s",
				m.stepLabel(m.st.Step), canary.FormatDuration(m.st.OutageTime), canary.FormatDuration(ext), m.evidenceGap(hold, pending)))
			return
		case elapsed >= hold+m.st.OutageTime+ext && !m.aboutToFire():
			m.pause(canary.UrgencyMedium, fmt.Sprintf("%s: not enough evidence after %s: %s",
				m.stepLabel(m.st.Step), canary.FormatDuration(elapsed), m.evidenceGap(hold, pending)))
			return
		case !m.st.Extended:
			m.st.Extended = true
			m.emitf(canary.EvHoldExtended, canary.UrgencyLow, "%s: hold extended: %s",
				m.stepLabel(m.st.Step), m.evidenceGap(hold, pending))
		}
	}
	if !m.st.HoldDone || !m.approved(s) {
		return
	}
	m.advance(canary.Event{Message: m.stepCompletedText()})
}

// evidenceGap says why a hold cannot complete yet.
func (m *machine) evidenceGap(hold time.Duration, pending []string) string {
	var parts []string
	if m.st.JudgedTime < hold {
		s := fmt.Sprintf("judged evaluations cover %s of the %s hold (%d of %d evaluations judged)",
			canary.FormatDuration(m.st.JudgedTime), canary.FormatDuration(hold), m.st.Judged, m.st.Evaluations)
		if v := m.lastVerdicts(); v != "" {
			s += " (" + v + ")"
		} else if why := m.coverageGap(); why != "" {
			s += ": " + why
		}
		parts = append(parts, s)
	}
	if len(pending) > 0 {
		parts = append(parts, "rule pending: "+strings.Join(pending, ", "))
	}
	return strings.Join(parts, "; ")
}

// coverageGap says why judged evaluations cover less than the time they
// span when the last evaluation leaves nothing to explain: evaluations
// that did not count (taken while the step was paused, or with a rule
// unjudged), or time between evaluations longer than one vouches for
// (evaluation times passed without one).
func (m *machine) coverageGap() string {
	if n := m.st.Evaluations - m.st.Judged; n > 0 {
		return fmt.Sprintf("%d of them did not count (taken while the step was paused, or with a rule not judged)", n)
	}
	if missed := m.st.Tick - m.st.Evaluations; missed > 0 {
		return fmt.Sprintf("every one was judged, but %d evaluation times passed without an evaluation "+
			"(the process was stopped or busy, or a query was slow) and one vouches for at most %s before it",
			missed, canary.FormatDuration(m.coverCap()))
	}
	return ""
}

// coverCap is the most time one judged evaluation vouches for.
func (m *machine) coverCap() time.Duration {
	c := time.Duration(1<<63 - 1)
	for _, r := range m.p.Spec.Rules {
		c = min(c, max(m.window(r), m.interval()))
	}
	return c
}

// lastVerdicts explains the unjudged rules of the last evaluation.
func (m *machine) lastVerdicts() string {
	var parts []string
	for _, rs := range m.st.Rules {
		if !rs.Verdict.Judged() && rs.Verdict != "" {
			part := fmt.Sprintf("%s: %s", rs.Name, rs.Verdict)
			if rs.Detail != "" {
				part += " (" + rs.Detail + ")"
			}
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("%d more", len(parts)-3))
	}
	s := strings.Join(parts, ", ")
	if m.st.LastError != "" {
		s += "; last error: " + m.st.LastError
	}
	return s
}

// aboutToFire reports whether a pending rule may still fire within its
// for: a rollout is not paused for lack of evidence while a breach is
// about to decide it.
func (m *machine) aboutToFire() bool {
	for i, rs := range m.st.Rules {
		if rs.Streak > 0 && m.st.LastEvalAt.Before(rs.ActiveAt.Add(m.forDuration(m.p.Spec.Rules[i])+m.interval())) {
			return true
		}
	}
	return false
}

func (m *machine) pendingRules() []string {
	var names []string
	for _, rs := range m.st.Rules {
		if rs.Streak > 0 {
			names = append(names, rs.Name)
		}
	}
	return names
}

// approved reports whether step s may advance, asking its approval
// webhook or announcing the wait as needed.
func (m *machine) approved(s canary.Step) bool {
	a := s.Approval
	if a == nil || m.st.Approved {
		return true
	}
	if m.st.ApprovalSince.IsZero() {
		m.st.ApprovalSince = m.now
		how := "a person's approval (canary promote)"
		if a.Webhook != "" {
			how = "the approval webhook"
		}
		m.emitf(canary.EvAwaitingApproval, canary.UrgencyMedium, "%s held successfully; waiting for %s",
			m.stepLabel(m.st.Step), how)
	}
	if t := a.Timeout.D(); t > 0 && m.now.Sub(m.st.ApprovalSince) >= t {
		m.pause(canary.UrgencyMedium, fmt.Sprintf("%s: no approval after %s", m.stepLabel(m.st.Step), canary.FormatDuration(t)))
		return false
	}
	if a.Webhook != "" && !m.now.Before(m.st.ApprovalAskAt) {
		m.st.ApprovalAskAt = m.now.Add(m.interval())
		m.issue(canary.Action{Kind: canary.ActApproval, Step: m.st.Step})
	}
	return false
}

// approvalAnswer applies the approval webhook's answer.
func (m *machine) approvalAnswer(answer string) {
	switch answer {
	case "approved":
		m.st.Approved = true
		m.emitf(canary.EvApproved, canary.UrgencyLow, "%s approved by the approval webhook", m.stepLabel(m.st.Step))
	case "rejected":
		m.pause(canary.UrgencyMedium, fmt.Sprintf("%s: the approval webhook rejected the next step", m.stepLabel(m.st.Step)))
	}
}

// advance completes the current step and starts the next (or promotes).
// advance completes the current step with the stepCompleted event done
// (its message and, for a person's promote, its actor) and starts the
// next step or the promotion.
func (m *machine) advance(done canary.Event) {
	done.Type, done.Urgency = canary.EvStepCompleted, canary.UrgencyLow
	m.emit(done)
	m.issue(m.hookActions(canary.HookAfterStep, m.st.Step, true)...)
	next := m.st.Step + 1
	if next == len(m.p.Spec.Steps)-1 && m.blueGreen() {
		m.startStep(next) // the switch, held for scaleDownDelay
		return
	}
	if next >= len(m.p.Spec.Steps)-1 {
		m.startPromotion()
		return
	}
	m.startStep(next)
}

// stepCompletedText is the runbook's "✅ Canary deployment Phase 1 (5%)
// successful. P95: 450ms, Error rate: 0.1%".
func (m *machine) stepCompletedText() string {
	s := fmt.Sprintf("✅ Canary %s successful.", m.stepLabel(m.st.Step))
	var parts []string
	for _, k := range []string{"canary:" + string(canary.MetricLatencyP95), "canary:" + string(canary.MetricErrorRate)} {
		v, ok := m.st.LastValues[k]
		if !ok {
			continue
		}
		if strings.HasSuffix(k, "P95") {
			parts = append(parts, "P95: "+canary.FormatValue(canary.KindDuration, v))
		} else {
			parts = append(parts, "Error rate: "+canary.FormatValue(canary.KindPercent, v))
		}
	}
	if len(parts) > 0 {
		s += " " + strings.Join(parts, ", ")
	}
	return s
}

// startPromotion sends all traffic and the flag to the new version, makes
// it the stable one and removes the canary.
func (m *machine) startPromotion() {
	m.st.Phase = canary.PhasePromoting
	m.st.Step = len(m.p.Spec.Steps) - 1
	m.st.Stage = stagePromote
	m.st.NextEvalAt = time.Time{}
	m.emitf(canary.EvPromoting, canary.UrgencyLow, "promoting %s: 100%% of traffic", m.p.Spec.Version)
	m.issue(m.flagAction(true, 100)...)
	m.issue(m.weightAction(canary.Route{Weight: 100}))
	// promote hooks (e.g. deploy the new version into the stable slot)
	// run at 100% before the router moves traffic back to the stable slot.
	m.issue(m.hookActions(canary.HookPromote, m.st.Step, false)...)
	m.issue(canary.Action{Kind: canary.ActPromote}, canary.Action{Kind: canary.ActRemoveCanary})
	m.issue(m.hookActions(canary.HookAfterPromotion, m.st.Step, true)...)
}

// startRollback begins a rollback of kind (rollback-immediate or
// rollback-gradual). An immediate rollback overrides a gradual one in
// progress; anything else during a rollback is ignored.
func (m *machine) startRollback(kind, reason string, u canary.Urgency, rule string, evals []canary.Evaluation) {
	if m.st.Phase == canary.PhaseRollingBack {
		if kind != canary.ActionRollbackImmediate || m.st.RollbackKind == canary.ActionRollbackImmediate || m.st.Stage == stageCleanup {
			return
		}
	}
	m.st.Phase = canary.PhaseRollingBack
	m.st.PausedFrom, m.st.PauseReason = "", ""
	m.st.RollbackKind, m.st.RollbackReason, m.st.RollbackUrgency = kind, reason, u
	m.st.Outstanding = nil
	m.st.FailingSince, m.st.RetryAt, m.st.Escalated = time.Time{}, time.Time{}, false
	m.st.NextEvalAt, m.st.DrainUntil = time.Time{}, time.Time{}
	grade := "immediate"
	if kind == canary.ActionRollbackGradual {
		grade = "gradual"
	}
	m.emit(canary.Event{Type: canary.EvRollbackStarted, Urgency: u, Rule: rule, Evaluations: evals,
		Message: fmt.Sprintf("🚨 ROLLBACK INITIATED (%s): %s", grade, reason)})
	m.st.Stage = stageRevert
	if kind == canary.ActionRollbackImmediate {
		m.issue(m.flagAction(false, 0)...)
		m.issue(m.weightAction(canary.Route{Weight: 0}), canary.Action{Kind: canary.ActRemoveCanary})
		m.issue(m.hookActions(canary.HookOnRollback, m.st.Step, true)...)
		return
	}
	m.issue(m.weightAction(canary.Route{Weight: 0}))
	m.issue(m.flagAction(false, 0)...)
}

// progressRollback walks a rollback's stages once their actions are done.
func (m *machine) progressRollback() {
	switch m.st.Stage {
	case stageRevert:
		if m.st.RollbackKind == canary.ActionRollbackImmediate {
			m.startCleanup(canary.PhaseRolledBack)
			return
		}
		m.st.Stage = stageDrain
		m.st.DrainUntil = m.now.Add(m.drain())
	case stageDrain:
		if m.now.Before(m.st.DrainUntil) {
			return
		}
		m.st.Stage = stageRemove
		m.st.DrainUntil = time.Time{}
		m.issue(canary.Action{Kind: canary.ActRemoveCanary})
		m.issue(m.hookActions(canary.HookOnRollback, m.st.Step, true)...)
	case stageRemove:
		m.startCleanup(canary.PhaseRolledBack)
	default:
		m.finishIfCleaned()
	}
}

func (m *machine) drain() time.Duration {
	if d := m.p.Spec.Rollback.Drain.D(); d > 0 {
		return d
	}
	return canary.DefaultDrain
}

// startCleanup runs the plan's cleanup list before the rollout ends in
// outcome.
func (m *machine) startCleanup(outcome canary.Phase) {
	m.st.Stage = stageCleanup
	m.st.Outcome = outcome
	for _, c := range m.p.Spec.Cleanup {
		m.issue(canary.Action{Kind: canary.ActCleanup, Name: c.Name, BestEffort: true})
	}
	m.finishIfCleaned()
}

// finishIfCleaned ends the rollout once cleanup is done.
func (m *machine) finishIfCleaned() {
	if m.st.Stage != stageCleanup || len(m.st.Outstanding) > 0 {
		return
	}
	m.st.Stage = stageFinished
	m.st.Phase = m.st.Outcome
	m.st.FinishedAt = m.now
	if m.st.Outcome == canary.PhaseSucceeded {
		m.emitf(canary.EvPromoted, canary.UrgencyLow, "🎉 %s promoted: it now serves 100%% of traffic (%s after the start)",
			m.p.Spec.Version, canary.FormatDuration(m.now.Sub(m.st.CreatedAt).Round(time.Second)))
		return
	}
	m.emit(canary.Event{Type: canary.EvRolledBack, Urgency: m.st.RollbackUrgency,
		Message: fmt.Sprintf("↩️ %s rolled back (%s): %s; the stable version serves all traffic",
			m.p.Spec.Version, strings.TrimPrefix(m.st.RollbackKind, "rollback-"), m.st.RollbackReason)})
}

// pause stops the rollout where it is; rules keep being evaluated while
// traffic is on the canary, so a firing rollback rule still acts.
func (m *machine) pause(u canary.Urgency, reason string) {
	if m.st.Phase == canary.PhasePaused {
		return
	}
	m.st.PausedFrom = m.st.Phase
	m.st.Phase = canary.PhasePaused
	m.st.PausedAt = m.now
	m.st.PauseReason = reason
	m.emitf(canary.EvPaused, u, "⏸ paused at %s: %s", m.stepLabel(m.st.Step), reason)
}
