package report_test

import (
	"github.com/canary-dev/canary/api"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/plan"
)

var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// sim drives the engine on a stepped clock to produce a rollout's real
// event log: it measures from the scenario's functions and carries out
// every action at once.
type sim struct {
	t       *testing.T
	p       *canary.Plan
	st      canary.State
	now     time.Time
	events  []canary.Event
	results []canary.ActionResult
	last    []canary.Evaluation
	rps     float64
	// canary gives the canary's P95 (seconds) and error ratio d after t0.
	canary func(d time.Duration) (p95, errRate float64)
	// checkErr fails every pre-check with this text when set.
	checkErr string
}

func newSim(t *testing.T, yaml string) *sim {
	t.Helper()
	p, err := plan.Parse("plan.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	s := &sim{t: t, p: p, now: t0, rps: 100, st: engine.New(p, t0)}
	s.canary = func(time.Duration) (float64, float64) { return 0.45, 0.001 }
	return s
}

// wobble varies a value a little with time, deterministically.
func wobble(d time.Duration) float64 { return float64(int(d/(30*time.Second))*7%5) / 100 }

func (s *sim) observe(q canary.Query) canary.Observation {
	share := float64(s.st.Weight) / 100
	p95, er := 0.42+wobble(s.now.Sub(t0)), 0.001
	if q.Track == canary.TrackCanary {
		p95, er = s.canary(s.now.Sub(t0))
	} else {
		share = 1 - share
	}
	n := int64(s.rps * share * q.Window.Seconds())
	o := canary.Observation{Query: q, Measurement: canary.Measurement{Samples: n}}
	switch {
	case n == 0:
		o.Measurement.NoData = true
	case q.Metric == canary.MetricErrorRate:
		o.Measurement.Value = er
	case q.Metric == canary.MetricRequestRate:
		o.Measurement.Value = float64(n) / q.Window.Seconds()
	default:
		o.Measurement.Value = p95
	}
	return o
}

// cycle calls Next once and carries out its actions.
func (s *sim) cycle() engine.Output {
	var obs []canary.Observation
	for _, q := range engine.Queries(s.p, s.st, s.now) {
		obs = append(obs, s.observe(q))
	}
	out := engine.Next(s.p, s.st, engine.Input{Now: s.now, Results: s.results, Observations: obs})
	s.results = nil
	s.absorb(out.State, out.Events)
	for _, a := range out.Actions {
		r := canary.ActionResult{ID: a.ID, At: s.now}
		switch a.Kind {
		case canary.ActPreCheck:
			r.Err = s.checkErr
		case canary.ActApproval:
			r.Output = "waiting"
		}
		s.results = append(s.results, r)
		if r.Err != "" {
			break
		}
	}
	return out
}

func (s *sim) absorb(st canary.State, evs []canary.Event) {
	s.st = st
	for _, ev := range evs {
		if ev.Type == canary.EvEvaluated && len(ev.Evaluations) > 0 {
			s.last = ev.Evaluations
		}
	}
	s.events = append(s.events, evs...)
}

// runUntil cycles until stop says so, the rollout ends or limit passes.
func (s *sim) runUntil(stop func(*sim) bool, limit time.Duration) {
	end := s.now.Add(limit)
	for !s.st.Phase.Terminal() && s.now.Before(end) && (stop == nil || !stop(s)) {
		out := s.cycle()
		switch {
		case len(out.Actions) > 0:
		case out.WakeAt.After(s.now):
			s.now = out.WakeAt
		default:
			s.now = s.now.Add(time.Second)
		}
	}
}

// runFor cycles for d.
func (s *sim) runFor(d time.Duration) {
	end := s.now.Add(d)
	s.runUntil(func(s *sim) bool { return !s.now.Before(end) }, d)
}

// command applies a person's command now.
func (s *sim) command(cmd engine.Command) {
	out, err := engine.Control(s.p, s.st, cmd, s.now)
	if err != nil {
		s.t.Fatalf("command %s: %v", cmd.Kind, err)
	}
	s.absorb(out.State, out.Events)
}

func (s *sim) rollout() api.Rollout {
	return api.Rollout{ID: 1, Name: "default/" + s.p.Metadata.Name, Generation: 1, Plan: s.p, State: s.st,
		LastEvaluations: s.last, CreatedAt: t0, UpdatedAt: s.st.UpdatedAt}
}
