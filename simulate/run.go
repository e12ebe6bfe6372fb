package simulate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

// Start is the simulated time a rollout starts at.
var Start = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// Options configure one simulated rollout.
type Options struct {
	// Sampled draws requests, errors, latencies and the scenario's noise
	// at random; otherwise every value is its expectation and the run is
	// the same every time.
	Sampled bool
	// Seed and Stream select the random numbers of a sampled run: the
	// same pair gives the same run.
	Seed, Stream uint64
	// Limit of simulated time. Default: the scenario's, else twice the
	// plan's holds plus an hour.
	Limit time.Duration
	// Events keeps the run's events (all but evaluations) in the result.
	Events bool
}

// Result is how one simulated rollout ended.
type Result struct {
	// Phase at the end: Succeeded, RolledBack, or (when the time limit
	// came first) where it stood, e.g. Paused.
	Phase canary.Phase
	// RolledBack is set when a rollback started; RollbackAt is when
	// (since the start), Rule the rule that fired it and Kind its kind.
	RolledBack bool
	RollbackAt time.Duration
	Rule, Kind string
	// Paused is set when the rollout paused at some point; PausedAt is
	// the first time and PauseReason why.
	Paused      bool
	PausedAt    time.Duration
	PauseReason string
	// End is the simulated time the run took.
	End time.Duration
	// Events are the run's events but evaluations (Options.Events).
	Events []canary.Event
}

// Run drives the real engine through a rollout of p over scenario sc on
// a simulated clock: every action succeeds at once (approvals are given,
// pre-checks pass), and measurements come from the scenario's traffic at
// the weights the engine set. p must be validated and defaulted (as
// plan.Load returns it).
func Run(p *canary.Plan, sc *Scenario, opt Options) (Result, error) {
	if p == nil || sc == nil {
		return Result{}, errors.New("simulate: no plan or scenario")
	}
	var rng *rand.Rand
	if opt.Sampled {
		rng = newRand(opt.Seed, opt.Stream)
	}
	tick, err := tickFor(p)
	if err != nil {
		return Result{}, err
	}
	tr := newTraffic(sc, Start, tick, rng)
	limit := opt.Limit
	if limit == 0 {
		limit = sc.Limit.D()
	}
	if limit == 0 {
		limit = defaultLimit(p)
	}
	r := runner{p: p, tr: tr, now: Start, st: engine.New(p, Start), keep: opt.Events}
	if err := r.run(Start.Add(limit)); err != nil {
		return Result{}, err
	}
	r.res.Phase = r.st.Phase
	r.res.End = r.now.Sub(Start)
	return r.res, nil
}

// defaultLimit is twice the plan's holds plus an hour.
func defaultLimit(p *canary.Plan) time.Duration {
	var holds time.Duration
	for _, s := range p.Spec.Steps {
		holds += s.Hold.D()
	}
	return 2*holds + time.Hour
}

// tickFor is the traffic's time resolution: 10s, or less when the plan's
// interval or a rule's window is not a multiple of it.
func tickFor(p *canary.Plan) (time.Duration, error) {
	tick := 10 * time.Second
	durations := []time.Duration{p.Spec.Analysis.Interval.D()}
	for _, r := range p.Spec.Rules {
		durations = append(durations, r.Window.D(), r.ShortWindow.D())
	}
	for _, d := range durations {
		if d > 0 {
			tick = gcd(tick, d)
		}
	}
	if tick < 100*time.Millisecond {
		return 0, fmt.Errorf("simulate: the plan's interval and windows need a resolution of %s; use whole multiples of 100ms", tick)
	}
	return tick, nil
}

func gcd(a, b time.Duration) time.Duration {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// runner is one run's fake runner: it calls the engine, measures from the
// traffic and carries out actions instantly.
type runner struct {
	p       *canary.Plan
	tr      *traffic
	now     time.Time
	st      canary.State
	results []canary.ActionResult
	keep    bool
	res     Result
}

func (r *runner) run(end time.Time) error {
	ctx := context.Background()
	for range 10_000_000 {
		var obs []canary.Observation
		for _, q := range engine.Queries(r.p, r.st, r.now) {
			m, err := r.tr.Measure(ctx, q)
			o := canary.Observation{Query: q, Measurement: m}
			if err != nil {
				o.Err = err.Error()
			}
			obs = append(obs, o)
		}
		out := engine.Next(r.p, r.st, engine.Input{Now: r.now, Results: r.results, Observations: obs})
		r.results = nil
		r.st = out.State
		r.record(out.Events)
		for _, a := range out.Actions {
			r.results = append(r.results, r.act(a))
		}
		switch {
		case len(r.results) > 0:
			continue
		case r.st.Phase.Terminal() || out.WakeAt.IsZero():
			return nil
		case !out.WakeAt.After(r.now):
			if len(engine.Queries(r.p, r.st, r.now)) == 0 {
				return fmt.Errorf("simulate: the engine asks to run again at %s with nothing to do (phase %s)", out.WakeAt, r.st.Phase)
			}
			continue
		case out.WakeAt.After(end):
			r.now = end
			return nil
		}
		r.now = out.WakeAt
	}
	return errors.New("simulate: the rollout did not settle")
}

// act carries out an action: all succeed, approvals are given.
func (r *runner) act(a canary.Action) canary.ActionResult {
	res := canary.ActionResult{ID: a.ID, At: r.now}
	switch a.Kind {
	case canary.ActSetWeight:
		r.tr.setWeight(r.now, a.Weight)
	case canary.ActApproval:
		res.Output = "approved"
	}
	return res
}

// record notes the events the results are made of.
func (r *runner) record(evs []canary.Event) {
	for _, e := range evs {
		switch e.Type {
		case canary.EvRollbackStarted:
			if !r.res.RolledBack {
				r.res.RolledBack, r.res.RollbackAt, r.res.Rule = true, e.Time.Sub(Start), e.Rule
			}
		case canary.EvPaused:
			if !r.res.Paused {
				r.res.Paused, r.res.PausedAt, r.res.PauseReason = true, e.Time.Sub(Start), e.Message
			}
		case canary.EvEvaluated, canary.EvActionIssued, canary.EvActionSucceeded:
			continue
		}
		if r.keep {
			r.res.Events = append(r.res.Events, e)
		}
	}
	if r.res.RolledBack && r.res.Kind == "" {
		r.res.Kind = r.st.RollbackKind
	}
}
