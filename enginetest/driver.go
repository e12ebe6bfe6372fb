package enginetest

import (
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

// Driver drives the engine the way a runner would, on a stepped clock:
// it answers the engine's queries with Observe, executes every action at
// once (succeeding unless Fail says otherwise, stopping at the first
// failure; an approval's output from Answer) and passes the results to
// the next cycle. The engine's own tests, view's and cmd/canary's golden
// outputs drive it.
type Driver struct {
	Plan  *canary.Plan
	State canary.State
	// Now is the driver's clock; RunTo moves it.
	Now time.Time
	// Observe answers a query (required for Cycle).
	Observe func(canary.Query) canary.Observation
	// Fail, when set, returns an action's error text ("" for success).
	Fail func(canary.Action) string
	// Answer, when set, returns the output of an approval that succeeded
	// (what the approval hook printed).
	Answer func(canary.Action) string
	// After, when set, is called at the end of Absorb with the output
	// absorbed (checks a test makes after every cycle).
	After func(engine.Output)
	// Events is every event so far; Last the latest evaluations.
	Events []canary.Event
	Last   []canary.Evaluation
	// Results are the results of the actions executed since the last
	// cycle.
	Results []canary.ActionResult
	// Executed is every action carried out without error, in order.
	Executed []Executed
}

// Executed is an action the driver carried out, and when.
type Executed struct {
	At     time.Time
	Action canary.Action
}

// NewDriver starts p at start.
func NewDriver(p *canary.Plan, start time.Time, observe func(canary.Query) canary.Observation) *Driver {
	return &Driver{Plan: p, State: engine.New(p, start), Now: start, Observe: observe}
}

// Cycle makes one call to engine.Next at Now and executes its actions.
func (d *Driver) Cycle() engine.Output {
	out := Cycle(d.Plan, d.State, d.Now, d.Results, d.Observe)
	d.Results = nil
	d.Absorb(out)
	return out
}

// Absorb takes an output of the engine (of Next or Control): its state,
// its events and the results of its actions, executed at Now.
func (d *Driver) Absorb(out engine.Output) {
	d.State = out.State
	for _, ev := range out.Events {
		if ev.Type == canary.EvEvaluated && len(ev.Evaluations) > 0 {
			d.Last = ev.Evaluations
		}
	}
	d.Events = append(d.Events, out.Events...)
	for _, a := range out.Actions {
		r := canary.ActionResult{ID: a.ID, At: d.Now}
		if d.Fail != nil {
			r.Err = d.Fail(a)
		}
		if r.Err == "" && a.Kind == canary.ActApproval && d.Answer != nil {
			r.Output = d.Answer(a)
		}
		d.Results = append(d.Results, r)
		if r.Err != "" {
			break
		}
		d.Executed = append(d.Executed, Executed{At: d.Now, Action: a})
	}
	if d.After != nil {
		d.After(out)
	}
}

// Control applies a person's command at Now.
func (d *Driver) Control(cmd engine.Command) error {
	out, err := engine.Control(d.Plan, d.State, cmd, d.Now)
	if err != nil {
		return err
	}
	d.Absorb(out)
	return nil
}

// StepElapsed is how long the current step has held its weight.
func (d *Driver) StepElapsed() time.Duration {
	if d.State.StepStartedAt.IsZero() {
		return 0
	}
	return d.Now.Sub(d.State.StepStartedAt)
}

// RunTo drives the rollout through every wake-up at or before at, at
// most cycles cycles, and leaves the clock at at; false when the
// rollout was still busy after cycles.
func (d *Driver) RunTo(at time.Time, cycles int) bool {
	for range cycles {
		out := d.Cycle()
		if len(d.Results) > 0 {
			continue
		}
		switch {
		case out.WakeAt.IsZero() || d.State.Phase.Terminal() || out.WakeAt.After(at):
			d.Now = at
			return true
		case out.WakeAt.After(d.Now):
			d.Now = out.WakeAt
		}
	}
	return false
}
