package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/enginetest"
)

var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// trackMetrics is what one track serves at one moment.
type trackMetrics struct {
	p95     time.Duration
	errRate float64
}

// sim is a fake runner: the shared enginetest.Driver on a stepped clock,
// measuring from a scenario (metrics, or measure to answer queries
// directly) and failing or answering actions as the scenario says; it
// checks after every cycle that event sequence numbers go up by one.
type sim struct {
	*enginetest.Driver
	t       testing.TB
	rps     float64 // total requests per second of the service
	metrics func(s *sim, tr canary.Track) trackMetrics
	measure func(s *sim, q canary.Query) canary.Observation // overrides metrics
	fail    func(s *sim, a canary.Action) string            // error text or ""
	answer  func(s *sim, a canary.Action) string            // output for approvals
	// stepStartAt records when each step's weight was confirmed.
	stepStartAt map[int]time.Time
	lastStart   time.Time
	onEval      func(s *sim) // called after each Next, for property checks
	// jitter, if set, delays every wake-up by what it returns: a
	// scheduler that runs late.
	jitter func(s *sim) time.Duration
}

func newSim(t testing.TB, p *canary.Plan) *sim {
	t.Helper()
	s := &sim{t: t, rps: 200, stepStartAt: map[int]time.Time{}}
	s.Driver = enginetest.NewDriver(p, t0, s.observe)
	s.metrics = func(*sim, canary.Track) trackMetrics { return healthy }
	s.Fail = func(a canary.Action) string {
		if s.fail == nil {
			return ""
		}
		return s.fail(s, a)
	}
	s.Answer = func(a canary.Action) string {
		if s.answer == nil {
			return ""
		}
		return s.answer(s, a)
	}
	s.After = s.after
	return s
}

var healthy = trackMetrics{p95: 450 * time.Millisecond, errRate: 0.001}

// observe answers a query from the scenario: the track's share of the
// service's requests at the confirmed weight.
func (s *sim) observe(q canary.Query) canary.Observation {
	if s.measure != nil {
		return s.measure(s, q)
	}
	return s.observeDefault(q)
}

// observeDefault answers q from s.metrics.
func (s *sim) observeDefault(q canary.Query) canary.Observation {
	m := s.metrics(s, q.Track)
	return enginetest.Observe(q, s.State.Weight, s.rps, enginetest.Served{ErrRate: m.errRate, P95: m.p95})
}

// after checks the events of out and keeps the scenario's bookkeeping.
func (s *sim) after(out engine.Output) {
	s.checkEvents(out.Events)
	if st := s.State.StepStartedAt; !st.Equal(s.lastStart) && !st.IsZero() {
		s.stepStartAt[s.State.Step] = st
	}
	s.lastStart = s.State.StepStartedAt
	if s.onEval != nil {
		s.onEval(s)
	}
}

// checkEvents asserts that event sequence numbers increase by one; evs
// are the last events of s.Events.
func (s *sim) checkEvents(evs []canary.Event) {
	s.t.Helper()
	last := int64(0)
	if before := len(s.Events) - len(evs); before > 0 {
		last = s.Events[before-1].Seq
	}
	for _, e := range evs {
		if e.Seq != last+1 {
			s.t.Fatalf("event seq %d after %d: %s", e.Seq, last, e.Message)
		}
		last = e.Seq
	}
}

// run drives the rollout until it is terminal, waits for a person, or
// limit of plan time has passed.
func (s *sim) run(limit time.Duration) {
	s.t.Helper()
	end := s.Now.Add(limit)
	for i := 0; i < 1_000_000; i++ {
		out := s.Cycle()
		if len(s.Results) > 0 {
			continue
		}
		if out.WakeAt.IsZero() || s.State.Phase.Terminal() {
			return
		}
		if !out.WakeAt.After(s.Now) {
			if len(out.Actions) == 0 && len(engine.Queries(s.Plan, s.State, s.Now)) == 0 {
				s.t.Fatalf("engine asks to wake at %v (now %v) with nothing to do; phase %s stage %q",
					out.WakeAt, s.Now, s.State.Phase, s.State.Stage)
			}
			continue
		}
		if out.WakeAt.After(end) {
			s.Now = end
			return
		}
		s.Now = out.WakeAt
		if s.jitter != nil {
			s.Now = s.Now.Add(s.jitter(s))
		}
	}
	s.t.Fatal("rollout did not settle in a million cycles")
}

// first returns the first event of type typ, or fails.
func (s *sim) first(typ canary.EventType) canary.Event {
	s.t.Helper()
	for _, e := range s.Events {
		if e.Type == typ {
			return e
		}
	}
	s.t.Fatalf("no %s event; events:\n%s", typ, s.timeline())
	return canary.Event{}
}

func (s *sim) has(typ canary.EventType) bool {
	for _, e := range s.Events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// timeline renders the non-evaluation events, for failure messages.
func (s *sim) timeline() string {
	var b []byte
	for _, e := range s.Events {
		if e.Type == canary.EvEvaluated || e.Type == canary.EvActionIssued {
			continue
		}
		b = fmt.Appendf(b, "%8s %-16s %s\n", canary.FormatDuration(e.Time.Sub(t0)), e.Type, e.Message)
	}
	return string(b)
}

// traffic lists the traffic and flag actions as "w5", "f5", "f-off", ...
func (s *sim) traffic() []string {
	var out []string
	for _, x := range s.Executed {
		switch x.Action.Kind {
		case canary.ActSetWeight:
			out = append(out, fmt.Sprintf("w%d", x.Action.Weight))
		case canary.ActSetFlag:
			if x.Action.FlagEnabled {
				out = append(out, fmt.Sprintf("f%d", x.Action.Weight))
			} else {
				out = append(out, "f-off")
			}
		case canary.ActPromote, canary.ActRemoveCanary:
			out = append(out, string(x.Action.Kind))
		case canary.ActPreCheck, canary.ActHook, canary.ActCleanup:
			out = append(out, string(x.Action.Kind)+":"+x.Action.Name)
		}
	}
	return out
}

// runbookPlan is the runbook as a plan: five steps of 30 minutes, the six
// rows of the decision matrix, a feature flag moved in lockstep.
// pointPlan is runbookPlan read literally (judge: point on every rule):
// the runbook's arithmetic, for tests of `for` and the matrix's timing.
func pointPlan() *canary.Plan {
	p := runbookPlan()
	for i := range p.Spec.Rules {
		p.Spec.Rules[i].Judge = canary.JudgePoint
	}
	return p
}

func runbookPlan() *canary.Plan { return enginetest.RunbookPlan() }

// BenchmarkHealthyRollout drives the runbook plan's healthy rollout to
// its end (5 simulated hours at its interval) through the stepped
// clock: the engine's cost per evaluation, with the fake runner's.
func BenchmarkHealthyRollout(b *testing.B) {
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		s := newSim(b, runbookPlan())
		s.run(5 * time.Hour)
		if s.State.Phase != canary.PhaseSucceeded {
			b.Fatalf("phase %s", s.State.Phase)
		}
		n = s.State.EventSeq
	}
	b.ReportMetric(float64(n), "events")
}
