package report_test

import (
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/enginetest"
	"github.com/canary-dev/canary/plan"
)

var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// sim drives the engine on a stepped clock (the shared
// enginetest.Driver) to produce a rollout's real event log: it measures
// from the scenario's functions and carries out every action at once.
type sim struct {
	*enginetest.Driver
	t   *testing.T
	rps float64
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
	s := &sim{t: t, rps: 100}
	s.Driver = enginetest.NewDriver(p, t0, s.observe)
	s.canary = func(time.Duration) (float64, float64) { return 0.45, 0.001 }
	s.Fail = func(a canary.Action) string {
		if a.Kind == canary.ActPreCheck {
			return s.checkErr
		}
		return ""
	}
	s.Answer = func(canary.Action) string { return "waiting" }
	return s
}

// wobble varies a value a little with time, deterministically.
func wobble(d time.Duration) float64 { return float64(int(d/(30*time.Second))*7%5) / 100 }

// observe answers q: the stable's p95 wobbles a little, the canary serves
// what s.canary says.
func (s *sim) observe(q canary.Query) canary.Observation {
	m := enginetest.Served{P95: time.Duration((0.42 + wobble(s.Now.Sub(t0))) * float64(time.Second)), ErrRate: 0.001}
	if q.Track == canary.TrackCanary {
		p95, er := s.canary(s.Now.Sub(t0))
		m = enginetest.Served{P95: time.Duration(p95 * float64(time.Second)), ErrRate: er}
	}
	return enginetest.Observe(q, s.State.Weight, s.rps, m)
}

// runUntil cycles until stop says so, the rollout ends or limit passes.
func (s *sim) runUntil(stop func(*sim) bool, limit time.Duration) {
	end := s.Now.Add(limit)
	for !s.State.Phase.Terminal() && s.Now.Before(end) && (stop == nil || !stop(s)) {
		out := s.Cycle()
		switch {
		case len(out.Actions) > 0:
		case out.WakeAt.After(s.Now):
			s.Now = out.WakeAt
		default:
			s.Now = s.Now.Add(time.Second)
		}
	}
}

// runFor cycles for d.
func (s *sim) runFor(d time.Duration) {
	end := s.Now.Add(d)
	s.runUntil(func(s *sim) bool { return !s.Now.Before(end) }, d)
}

// command applies a person's command now.
func (s *sim) command(cmd engine.Command) {
	if err := s.Control(cmd); err != nil {
		s.t.Fatalf("command %s: %v", cmd.Kind, err)
	}
}

func (s *sim) rollout() api.Rollout {
	return api.Rollout{ID: 1, Name: "default/" + s.Plan.Metadata.Name, Generation: 1, Plan: s.Plan, State: s.State,
		LastEvaluations: s.Last, CreatedAt: t0, UpdatedAt: s.State.UpdatedAt}
}
