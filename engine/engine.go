package engine

import (
	"fmt"
	"time"

	"github.com/canary-dev/canary"
)

// Input is what happened since the last call.
type Input struct {
	// Now is the current time, from the runner's clock.
	Now time.Time
	// Results of executed actions, in execution order.
	Results []canary.ActionResult
	// Observations answer the Queries the engine asked for. Pass them only
	// when Queries returned some; an evaluation happens when they are given.
	Observations []canary.Observation
}

// Output is the engine's decision.
type Output struct {
	// State to save.
	State canary.State
	// Actions to execute now, in order; stop at the first failure and
	// report the results in the next Input.
	Actions []canary.Action
	// Events to append to the log, in order.
	Events []canary.Event
	// WakeAt is when Next wants to be called again (zero: only on a
	// command; the rollout is terminal or waiting for a person).
	WakeAt time.Time
}

// New returns the initial state of a rollout of plan created at now.
func New(p *canary.Plan, now time.Time) canary.State {
	st := canary.State{
		Name:      p.Metadata.Name,
		Version:   p.Spec.Version,
		Phase:     canary.PhasePending,
		CreatedAt: now,
		UpdatedAt: now,
	}
	st.Rules = freshRules(p)
	return st
}

func freshRules(p *canary.Plan) []canary.RuleState {
	rs := make([]canary.RuleState, len(p.Spec.Rules))
	for i, r := range p.Spec.Rules {
		rs[i] = canary.RuleState{Name: r.DisplayName()}
	}
	return rs
}

// machine carries one call's working state.
type machine struct {
	p      *canary.Plan
	st     canary.State
	now    time.Time
	events []canary.Event
}

// Next advances the rollout. It never fails: problems become events,
// pauses or rollbacks in the returned state.
func Next(p *canary.Plan, st canary.State, in Input) Output {
	m := &machine{p: p, st: cloneState(st), now: in.Now}
	if len(m.st.Rules) != len(p.Spec.Rules) {
		m.st.Rules = freshRules(p)
	}
	if m.st.Phase == canary.PhasePending {
		m.startPreChecks()
	}
	m.applyResults(in.Results)
	if len(in.Observations) > 0 {
		m.observe(in.Observations)
	}
	m.progress()
	m.st.UpdatedAt = in.Now
	return m.output()
}

// output packages the machine's result. Its events carry no credential
// written in a URL (canary.RedactEventURLs): outputs and errors of checks,
// hooks and providers are untrusted text.
func (m *machine) output() Output {
	canary.RedactEventURLs(m.events)
	out := Output{State: m.st, Events: m.events}
	if len(m.st.Outstanding) > 0 && m.st.Phase != canary.PhasePaused {
		if m.st.RetryAt.After(m.now) {
			out.WakeAt = m.st.RetryAt
			if m.evaluating() && m.st.NextEvalAt.Before(out.WakeAt) {
				out.WakeAt = m.st.NextEvalAt
			}
			return out
		}
		out.Actions = append([]canary.Action(nil), m.st.Outstanding...)
		out.WakeAt = m.now
		return out
	}
	out.WakeAt = m.wakeAt()
	return out
}

// wakeAt is when the machine next has something to do on its own.
func (m *machine) wakeAt() time.Time {
	switch m.st.Phase {
	case canary.PhasePreChecks:
		return m.now // waiting for the baseline measurement
	case canary.PhaseRollingBack:
		if !m.st.DrainUntil.IsZero() {
			return m.st.DrainUntil
		}
		return m.now
	case canary.PhaseProgressing, canary.PhasePaused:
		if m.evaluating() {
			return m.st.NextEvalAt
		}
	case canary.PhasePromoting:
		return m.now
	}
	return time.Time{}
}

// retryDelay is how long to wait before re-issuing a failed action.
func (m *machine) retryDelay() time.Duration {
	d := m.interval()
	if d > 10*time.Second {
		d = 10 * time.Second
	}
	return d
}

func (m *machine) interval() time.Duration {
	if d := m.p.Spec.Analysis.Interval.D(); d > 0 {
		return d
	}
	return canary.DefaultInterval
}

func (m *machine) minRequests() int64 {
	if m.p.Spec.Analysis.MinRequests > 0 {
		return int64(m.p.Spec.Analysis.MinRequests)
	}
	return 0
}

// emit appends an event stamped with the current phase, step and weight.
func (m *machine) emit(ev canary.Event) {
	m.st.EventSeq++
	ev.Seq = m.st.EventSeq
	ev.Time = m.now
	ev.Rollout = m.st.Name
	ev.Phase = m.st.Phase
	ev.Step = m.st.Step
	ev.Weight = m.st.Weight
	m.events = append(m.events, ev)
}

func (m *machine) emitf(t canary.EventType, u canary.Urgency, format string, args ...any) {
	m.emit(canary.Event{Type: t, Urgency: u, Message: fmt.Sprintf(format, args...)})
}

// stepLabel is "step 2 (10%)", counting from 1 as people do.
func (m *machine) stepLabel(i int) string {
	if i < 0 || i >= len(m.p.Spec.Steps) {
		return fmt.Sprintf("step %d", i+1)
	}
	if r := canary.StepRoute(m.p.Spec.Steps[i]); !r.Plain() {
		return fmt.Sprintf("step %d (%s)", i+1, r)
	}
	return fmt.Sprintf("step %d (%d%%)", i+1, m.p.Spec.Steps[i].Weight)
}

func cloneState(st canary.State) canary.State {
	c := st
	c.Rules = append([]canary.RuleState(nil), st.Rules...)
	c.Outstanding = append([]canary.Action(nil), st.Outstanding...)
	if st.LastValues != nil {
		c.LastValues = make(map[string]float64, len(st.LastValues))
		for k, v := range st.LastValues {
			c.LastValues[k] = v
		}
	}
	if st.BaselineBurn != nil {
		v := *st.BaselineBurn
		c.BaselineBurn = &v
	}
	return c
}
