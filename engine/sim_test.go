package engine_test

import (
	"fmt"
	"github.com/canary-dev/canary/enginetest"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// executed is an action as the fake runner carried it out.
type executed struct {
	at time.Duration // since t0
	a  canary.Action
}

// trackMetrics is what one track serves at one moment.
type trackMetrics struct {
	p95     time.Duration
	errRate float64
}

// sim is a fake runner: it drives the engine on a stepped clock, measures
// from a scenario and executes actions by recording them.
type sim struct {
	t       *testing.T
	plan    *canary.Plan
	st      canary.State
	now     time.Time
	rps     float64 // total requests per second of the service
	metrics func(s *sim, tr canary.Track) trackMetrics
	measure func(s *sim, q canary.Query) canary.Observation // overrides metrics
	fail    func(s *sim, a canary.Action) string            // error text or ""
	answer  func(s *sim, a canary.Action) string            // output for approvals
	events  []canary.Event
	actions []executed
	results []canary.ActionResult
	// stepStartAt records when each step's weight was confirmed.
	stepStartAt map[int]time.Time
	onEval      func(s *sim) // called after each Next, for property checks
	// jitter, if set, delays every wake-up by what it returns: a
	// scheduler that runs late.
	jitter func(s *sim) time.Duration
}

func newSim(t *testing.T, p *canary.Plan) *sim {
	t.Helper()
	s := &sim{t: t, plan: p, now: t0, rps: 200, stepStartAt: map[int]time.Time{}}
	s.st = engine.New(p, t0)
	s.metrics = func(*sim, canary.Track) trackMetrics { return healthy }
	return s
}

var healthy = trackMetrics{p95: 450 * time.Millisecond, errRate: 0.001}

// stepElapsed is how long the current step has held its weight.
func (s *sim) stepElapsed() time.Duration {
	if s.st.StepStartedAt.IsZero() {
		return 0
	}
	return s.now.Sub(s.st.StepStartedAt)
}

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
	return enginetest.Observe(q, s.st.Weight, s.rps, enginetest.Served{ErrRate: m.errRate, P95: m.p95})
}

// cycle makes one call to Next (with observations when due) and executes
// the returned actions, stopping at the first failure.
func (s *sim) cycle() engine.Output {
	out := enginetest.Cycle(s.plan, s.st, s.now, s.results, s.observe)
	s.results = nil
	s.absorb(out)
	return out
}

func (s *sim) absorb(out engine.Output) {
	s.checkEvents(out.Events)
	s.events = append(s.events, out.Events...)
	prevStart := s.st.StepStartedAt
	s.st = out.State
	if !s.st.StepStartedAt.Equal(prevStart) && !s.st.StepStartedAt.IsZero() {
		s.stepStartAt[s.st.Step] = s.st.StepStartedAt
	}
	for _, a := range out.Actions {
		r := canary.ActionResult{ID: a.ID, At: s.now}
		if s.fail != nil {
			r.Err = s.fail(s, a)
		}
		if r.Err == "" && a.Kind == canary.ActApproval && s.answer != nil {
			r.Output = s.answer(s, a)
		}
		s.results = append(s.results, r)
		if r.Err != "" {
			break
		}
		s.actions = append(s.actions, executed{s.now.Sub(t0), a})
	}
	if s.onEval != nil {
		s.onEval(s)
	}
}

// checkEvents asserts that event sequence numbers increase by one.
func (s *sim) checkEvents(evs []canary.Event) {
	s.t.Helper()
	last := int64(0)
	if len(s.events) > 0 {
		last = s.events[len(s.events)-1].Seq
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
	end := s.now.Add(limit)
	for i := 0; i < 1_000_000; i++ {
		out := s.cycle()
		if len(s.results) > 0 {
			continue
		}
		if out.WakeAt.IsZero() || s.st.Phase.Terminal() {
			return
		}
		if !out.WakeAt.After(s.now) {
			if len(out.Actions) == 0 && len(engine.Queries(s.plan, s.st, s.now)) == 0 {
				s.t.Fatalf("engine asks to wake at %v (now %v) with nothing to do; phase %s stage %q",
					out.WakeAt, s.now, s.st.Phase, s.st.Stage)
			}
			continue
		}
		if out.WakeAt.After(end) {
			s.now = end
			return
		}
		s.now = out.WakeAt
		if s.jitter != nil {
			s.now = s.now.Add(s.jitter(s))
		}
	}
	s.t.Fatal("rollout did not settle in a million cycles")
}

// control applies a command and executes the actions it returns.
func (s *sim) control(cmd engine.Command) error {
	out, err := engine.Control(s.plan, s.st, cmd, s.now)
	if err != nil {
		return err
	}
	s.absorb(out)
	return nil
}

// first returns the first event of type typ, or fails.
func (s *sim) first(typ canary.EventType) canary.Event {
	s.t.Helper()
	for _, e := range s.events {
		if e.Type == typ {
			return e
		}
	}
	s.t.Fatalf("no %s event; events:\n%s", typ, s.timeline())
	return canary.Event{}
}

func (s *sim) has(typ canary.EventType) bool {
	for _, e := range s.events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// timeline renders the non-evaluation events, for failure messages.
func (s *sim) timeline() string {
	var b []byte
	for _, e := range s.events {
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
	for _, x := range s.actions {
		switch x.a.Kind {
		case canary.ActSetWeight:
			out = append(out, fmt.Sprintf("w%d", x.a.Weight))
		case canary.ActSetFlag:
			if x.a.FlagEnabled {
				out = append(out, fmt.Sprintf("f%d", x.a.Weight))
			} else {
				out = append(out, "f-off")
			}
		case canary.ActPromote, canary.ActRemoveCanary:
			out = append(out, string(x.a.Kind))
		case canary.ActPreCheck, canary.ActHook, canary.ActCleanup:
			out = append(out, string(x.a.Kind)+":"+x.a.Name)
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
