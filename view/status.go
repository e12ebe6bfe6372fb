package view

import (
	"fmt"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// Options say how the status block is drawn.
type Options struct {
	// Color adds ANSI colors and bold. Default: off; the plain block reads
	// the same, only without color.
	Color bool
	// Width is the number of columns no line of the block may exceed. For
	// Render, 0 means no limit. For Live, 0 means the terminal's width when
	// the writer is a terminal, else 80.
	Width int
	// Height is the number of rows of the terminal (Live only): a block
	// taller than Height−1 lines is cut so that the cursor can still reach
	// its top to redraw it. 0 means the terminal's height when the writer is
	// a terminal, else no limit.
	Height int
}

// labelWidth is the width of the label column ("steps", "hold", ...).
const labelWidth = 9

// maxReasonLines bounds a wrapped pause or rollback reason.
const maxReasonLines = 3

// Status renders the live status block of a rollout as plain text, every
// line at most width columns (width ≤ 0: no limit) and ending in "\n".
// last are the evaluations of the latest evaluation (the Evaluations of
// the latest "evaluated" event), nil before the first; now is the time the
// block is drawn at, which moves the hold and pending timers between
// evaluations.
func Status(plan *canary.Plan, st canary.State, last []canary.Evaluation, now time.Time, width int) string {
	return Render(plan, st, last, now, Options{Width: width})
}

// Render is Status with options: colors when opts.Color is set, lines at
// most opts.Width columns (0: no limit). Height is ignored.
//
// The block is, from the top: a header (rollout, version, phase, how long
// it has run), the pause or rollback reason when there is one, the steps
// as a track (5% ✓ → 10% ● → 25% → 50% → 100%), the current step's hold
// (time held and left, judged evaluations, extended, awaiting approval) or
// a rollback's drain, the canary weight beside the feature flag, the
// action in flight and its last error, and a table with one row per rule:
// canary value against the threshold, the stable value, samples and the
// verdict, pending timer or FIRING.
func Render(plan *canary.Plan, st canary.State, last []canary.Evaluation, now time.Time, opts Options) string {
	b := &block{p: plan, st: st, last: last, now: now, width: opts.Width}
	b.header()
	b.reason()
	b.track()
	b.progress()
	b.traffic()
	b.inflight()
	b.rules()
	var out strings.Builder
	for _, l := range b.lines {
		out.WriteString(l.trimRight().fit(opts.Width).render(opts.Color))
		out.WriteByte('\n')
	}
	return out.String()
}

// block builds the lines of one status block.
type block struct {
	p     *canary.Plan
	st    canary.State
	last  []canary.Evaluation
	now   time.Time
	width int
	lines []line
}

func (b *block) emit(l line) { b.lines = append(b.lines, l) }

// labeled starts a line with a label in the label column.
func labeled(label string) line {
	return line{{padRight(label, labelWidth-1) + " ", dim}}
}

// dur formats d to the second, never negative: 12m30s, 2h, 0s.
func dur(d time.Duration) string {
	return canary.FormatDuration(shownDur(d)) // a live view has no use for µs
}

// shownDur is d as dur shows it (truncated to the second, or to 100ms
// under a second), so "X of Y, Z left" is computed from the X shown and
// always adds up.
func shownDur(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d >= time.Second:
		return d.Truncate(time.Second)
	}
	return d.Truncate(100 * time.Millisecond)
}

// shownPart is part of whole as "X of whole, Y left" shows it: to the
// second when whole is a second or more (so Y is whole seconds too).
func shownPart(part, whole time.Duration) time.Duration {
	if whole >= time.Second {
		return max(part, 0).Truncate(time.Second)
	}
	return shownDur(part)
}

// phaseStyle colors a phase by what it means for the canary.
func phaseStyle(ph canary.Phase) style {
	switch ph {
	case canary.PhaseProgressing, canary.PhasePreChecks, canary.PhasePending:
		return bCyan
	case canary.PhasePaused:
		return bYel
	case canary.PhasePromoting, canary.PhaseSucceeded:
		return bGreen
	}
	return bRed
}

// header is "recoveryos-elite v1.0.0-elite · Progressing · running 1h12m".
func (b *block) header() {
	var l line
	l.add(b.st.Name, bold)
	if b.st.Version != "" {
		l.add(" "+b.st.Version, plain)
	}
	l.add(" · ", dim)
	l.add(string(b.st.Phase), phaseStyle(b.st.Phase))
	switch {
	case b.st.Phase.Terminal() && !b.st.FinishedAt.IsZero() && !b.st.CreatedAt.IsZero():
		l.add(" · took "+dur(b.st.FinishedAt.Sub(b.st.CreatedAt)), dim)
	case !b.st.CreatedAt.IsZero():
		l.add(" · running "+dur(b.now.Sub(b.st.CreatedAt)), dim)
	}
	b.emit(l)
}

// reason explains a pause, a rollback or the end of the rollout.
func (b *block) reason() {
	var label, text string
	st := red
	switch b.st.Phase {
	case canary.PhasePaused:
		label, st = "paused", yellow
		text = b.st.PauseReason
		if !b.st.PausedAt.IsZero() {
			text = "for " + dur(b.now.Sub(b.st.PausedAt)) + ": " + text
		}
	case canary.PhaseRollingBack:
		label, text = "rollback", rollbackGrade(b.st.RollbackKind)+": "+b.st.RollbackReason
	case canary.PhaseRolledBack:
		label = "rollback"
		text = rollbackGrade(b.st.RollbackKind) + ": " + b.st.RollbackReason + "; done, the stable version serves all traffic"
	case canary.PhaseFailed:
		label, text = "failed", "stopped before any traffic moved; nothing was changed (the events say why)"
	case canary.PhaseSucceeded:
		label, st = "promoted", green
		text = b.st.Version + " serves 100% of traffic"
	default:
		return
	}
	w := 0
	if b.width > 0 {
		w = b.width - labelWidth
	}
	for i, t := range wrap(text, w, maxReasonLines) {
		l := labeled("")
		if i == 0 {
			l = labeled(label)
		}
		l.add(t, st)
		b.emit(l)
	}
}

// rollbackGrade is "gradual" or "immediate".
func rollbackGrade(kind string) string {
	if g := strings.TrimPrefix(kind, "rollback-"); g != "" {
		return g
	}
	return "rollback"
}

// current is the index of the step the track marks as current, -1 before
// traffic moves, len(steps) once promoted.
func (b *block) current() int {
	switch b.st.Phase {
	case canary.PhasePending, canary.PhasePreChecks, canary.PhaseFailed:
		return -1
	case canary.PhasePaused:
		if b.st.PausedFrom == canary.PhasePreChecks || b.st.PausedFrom == canary.PhasePending {
			return -1
		}
	case canary.PhaseSucceeded:
		return len(b.p.Spec.Steps)
	}
	return b.st.Step
}

// track is "steps    5% ✓ → 10% ● → 25% → 50% → 100%", elided on the left,
// then on the right of the current step, when too wide.
func (b *block) track() {
	cur := b.current()
	mark, markStyle := "●", cyan
	switch b.st.Phase {
	case canary.PhasePaused:
		markStyle = yellow
	case canary.PhaseRollingBack, canary.PhaseRolledBack:
		mark, markStyle = "✗", bRed
	}
	items := make([]line, len(b.p.Spec.Steps))
	for i, s := range b.p.Spec.Steps {
		var it line
		switch {
		case i < cur:
			it.add(fmt.Sprintf("%d%% ", s.Weight), plain)
			it.add("✓", green)
		case i == cur:
			it.add(fmt.Sprintf("%d%% ", s.Weight), bold)
			it.add(mark, markStyle)
		default:
			it.add(fmt.Sprintf("%d%%", s.Weight), dim)
		}
		items[i] = it
	}
	from, to := 0, len(items)
	for {
		l := labeled("steps")
		if from > 0 {
			l.add(ellipsis+" → ", dim)
		}
		for i, it := range items[from:to] {
			if i > 0 {
				l.add(" → ", dim)
			}
			l = append(l, it...)
		}
		if to < len(items) {
			l.add(" → "+ellipsis, dim)
		}
		switch {
		case b.width <= 0 || l.width() <= b.width:
		case from < cur && from < to-1:
			from++
			continue
		case to > max(cur+1, from+1):
			to--
			continue
		}
		b.emit(l)
		return
	}
}

// progress is the current step's hold, the promotion, the pre-checks or a
// rollback's drain.
func (b *block) progress() {
	st := b.st
	phase := st.Phase
	if phase == canary.PhasePaused {
		phase = st.PausedFrom
	}
	switch phase {
	case canary.PhasePending, canary.PhasePreChecks:
		if !st.Phase.Terminal() {
			l := labeled("checks")
			l.add(fmt.Sprintf("%d running before any traffic moves", len(st.Outstanding)), plain)
			b.emit(l)
		}
	case canary.PhaseProgressing:
		b.hold()
	case canary.PhasePromoting:
		l := labeled("promote")
		l.add("100% of traffic to "+st.Version+", then the canary is removed", green)
		b.emit(l)
	case canary.PhaseRollingBack:
		if st.DrainUntil.IsZero() {
			return
		}
		drain := b.drain()
		left := st.DrainUntil.Sub(b.now)
		l := labeled("drain")
		done := shownPart(max(drain-left, 0), drain)
		l.add(fmt.Sprintf("%s of %s, %s left, then the canary is removed", dur(done), dur(drain), dur(drain-done)), plain)
		b.emit(l)
	}
}

// hold is "hold     12m30s of 30m, 17m30s left · 25/60 judged".
func (b *block) hold() {
	st := b.st
	if st.Step < 0 || st.Step >= len(b.p.Spec.Steps) {
		return
	}
	step := b.p.Spec.Steps[st.Step]
	l := labeled("hold")
	if st.StepStartedAt.IsZero() || st.Weight != step.Weight {
		l.add(fmt.Sprintf("starts once the canary weight is %d%%", step.Weight), plain)
		b.emit(l)
		return
	}
	ref := b.now
	if st.Phase == canary.PhasePaused && !st.PausedAt.IsZero() {
		ref = st.PausedAt // the hold clock stops while paused
	}
	in, hold := ref.Sub(st.StepStartedAt), step.Hold.D()
	var parts line
	sep := func() {
		if len(parts) > 0 {
			parts.add(" · ", dim)
		}
	}
	switch {
	case st.HoldDone:
		parts.add(dur(hold)+" done", green)
	case in < hold:
		shown := shownPart(in, hold) // "3s of 6s, 3s left": what is shown adds up
		parts.add(fmt.Sprintf("%s of %s, %s left", dur(shown), dur(hold), dur(hold-shown)), plain)
	default:
		parts.add(fmt.Sprintf("%s of %s", dur(in), dur(hold)), plain)
	}
	if !st.HoldDone {
		sep()
		parts.add(fmt.Sprintf("%d/%d judged", st.Judged, b.neededJudged(hold)), plain)
	}
	if st.Extended && !st.HoldDone {
		sep()
		parts.add("extended", yellow)
		if st.Phase != canary.PhasePaused {
			parts.add(", pauses in "+dur(hold+b.maxExtension(hold)-in)+" without evidence", yellow)
		}
	}
	if !st.ApprovalSince.IsZero() && !st.Approved {
		sep()
		parts.add(b.approvalText(step, ref), bYel)
	}
	if st.Phase == canary.PhasePaused {
		sep()
		parts.add("stopped while paused", yellow)
	}
	b.emit(append(l, parts...))
}

// approvalText is "awaiting approval 3m (manual), pauses in 27m".
func (b *block) approvalText(step canary.Step, ref time.Time) string {
	waited := ref.Sub(b.st.ApprovalSince)
	s := "awaiting approval " + dur(waited)
	a := step.Approval
	if a == nil {
		return s
	}
	if a.Webhook != "" {
		s += " (webhook)"
	} else {
		s += " (manual)"
	}
	if t := a.Timeout.D(); t > 0 && b.st.Phase != canary.PhasePaused {
		s += ", pauses in " + dur(t-waited)
	}
	return s
}

// traffic is "traffic  canary 25% · stable 75%   flag release_20250814 on 25%".
func (b *block) traffic() {
	l := labeled("traffic")
	l.add(fmt.Sprintf("canary %d%%", b.st.Weight), bold)
	l.add(fmt.Sprintf(" · stable %d%%", 100-b.st.Weight), plain)
	if f := b.p.Spec.FeatureFlag; f != nil {
		l.add("   flag "+f.Name+" ", plain)
		if b.st.FlagEnabled {
			l.add(fmt.Sprintf("on %d%%", b.st.FlagPercent), bold)
		} else {
			l.add("off", dim)
		}
	}
	b.emit(l)
}

// inflight shows the action being carried out and why it keeps failing.
func (b *block) inflight() {
	st := b.st
	if len(st.Outstanding) == 0 || st.Phase.Terminal() {
		return
	}
	if st.Phase == canary.PhasePreChecks && st.LastError == "" {
		return // the checks line says it
	}
	l := labeled("doing")
	l.add(describe(st.Outstanding[0]), plain)
	if n := len(st.Outstanding) - 1; n > 0 {
		l.add(fmt.Sprintf(" (+%d more)", n), dim)
	}
	b.emit(l)
	if st.LastError == "" {
		return
	}
	e := labeled("error")
	msg := st.LastError
	if !st.FailingSince.IsZero() {
		msg += " (failing for " + dur(b.now.Sub(st.FailingSince))
		if st.RetryAt.After(b.now) {
			msg += ", retry in " + dur(st.RetryAt.Sub(b.now))
		}
		msg += ")"
	}
	if st.Escalated {
		msg += "; a person is needed"
	}
	e.add(msg, red)
	b.emit(e)
}

// describe is a short human form of an action, as the engine writes it.
func describe(a canary.Action) string { return a.Describe() }

// The plan's analysis settings with the engine's defaults.

func (b *block) interval() time.Duration {
	if d := b.p.Spec.Analysis.Interval.D(); d > 0 {
		return d
	}
	return canary.DefaultInterval
}

func (b *block) neededJudged(hold time.Duration) int {
	iv := b.interval()
	return int((hold + iv - 1) / iv)
}

func (b *block) maxExtension(hold time.Duration) time.Duration {
	if d := b.p.Spec.Analysis.MaxHoldExtension.D(); d > 0 {
		return d
	}
	return hold
}

func (b *block) drain() time.Duration {
	if d := b.p.Spec.Rollback.Drain.D(); d > 0 {
		return d
	}
	return canary.DefaultDrain
}

func (b *block) forDuration(r canary.Rule) time.Duration {
	if f := r.For.D(); f > 0 {
		return f
	}
	return b.interval()
}
