package engine_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/enginetest"
)

// toPhase drives a fresh rollout into the named phase.
func toPhase(t *testing.T, phase canary.Phase) *sim {
	t.Helper()
	s := newSim(t, runbookPlan())
	switch phase {
	case canary.PhasePending:
	case canary.PhasePreChecks:
		out := engine.Next(s.Plan, s.State, engine.Input{Now: s.Now}) // issue pre-checks, don't run them
		s.Events = append(s.Events, out.Events...)
		s.State = out.State
	case canary.PhaseProgressing:
		s.run(10 * minute)
	case canary.PhasePaused:
		s.run(10 * minute)
		must(t, s.Control(engine.Command{Kind: engine.CmdPause, Actor: "alice"}))
	case canary.PhaseRollingBack:
		s.metrics = fault(0, 0, trackMetrics{650 * time.Millisecond, 0.001})
		s.run(6 * minute) // gradual rollback fired at 5m30s, draining
	case canary.PhaseRolledBack:
		s.metrics = fault(0, 0, trackMetrics{450 * time.Millisecond, 0.06})
		s.run(time.Hour)
	case canary.PhaseSucceeded:
		s.run(5 * time.Hour)
	case canary.PhaseFailed:
		s.fail = func(_ *sim, a canary.Action) string {
			if a.Kind == canary.ActPreCheck {
				return "avg_success_rate 0.97 < 0.99"
			}
			return ""
		}
		s.run(time.Hour)
	}
	if s.State.Phase != phase {
		t.Fatalf("could not reach %s: at %s\n%s", phase, s.State.Phase, s.timeline())
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestControlsRefusedWhereTheyDoNotApply(t *testing.T) {
	all := []engine.Command{{Kind: engine.CmdPause}, {Kind: engine.CmdResume}, {Kind: engine.CmdPromote},
		{Kind: engine.CmdPromote, Full: true}, {Kind: engine.CmdApprove}, {Kind: engine.CmdAbort},
		{Kind: engine.CmdAbort, Immediate: true}, {Kind: engine.CmdRetry}}
	allowed := map[canary.Phase][]string{
		canary.PhasePending:     {"pause", "abort", "abort --immediate"},
		canary.PhasePreChecks:   {"pause", "abort", "abort --immediate"},
		canary.PhaseProgressing: {"pause", "promote", "promote --full", "abort", "abort --immediate"},
		canary.PhasePaused:      {"resume", "promote", "promote --full", "abort", "abort --immediate"},
		canary.PhaseRollingBack: {"abort --immediate"},
		canary.PhaseRolledBack:  {"retry"},
		canary.PhaseSucceeded:   {},
		canary.PhaseFailed:      {"retry"},
	}
	for phase, ok := range allowed {
		for _, cmd := range all {
			name := string(cmd.Kind)
			if cmd.Full {
				name += " --full"
			}
			if cmd.Immediate {
				name += " --immediate"
			}
			t.Run(string(phase)+"/"+name, func(t *testing.T) {
				s := toPhase(t, phase)
				before := s.State
				out, err := engine.Control(s.Plan, s.State, cmd, s.Now)
				if slices.Contains(ok, name) {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				var ce *canary.Error
				if !errors.As(err, &ce) || ce.Code != canary.ECONFLICT {
					t.Fatalf("err = %v, want a conflict error", err)
				}
				if !strings.Contains(err.Error(), "cannot "+string(cmd.Kind)) || !strings.Contains(err.Error(), string(phase)) {
					t.Errorf("error %q does not say what and why", err)
				}
				if out.State.EventSeq != before.EventSeq || out.State.Phase != before.Phase {
					t.Error("a refused command changed the state")
				}
			})
		}
	}
}

func TestPauseStopsTheHoldClockAndResumeContinues(t *testing.T) {
	s := toPhase(t, canary.PhaseProgressing) // 10m into step 1
	must(t, s.Control(engine.Command{Kind: engine.CmdPause, Actor: "alice"}))
	s.run(2 * time.Hour)
	if s.State.Phase != canary.PhasePaused || s.State.Weight != 5 {
		t.Fatalf("paused rollout moved: %s at %d%%", s.State.Phase, s.State.Weight)
	}
	must(t, s.Control(engine.Command{Kind: engine.CmdResume, Actor: "alice"}))
	resumedAt := s.Now
	s.run(5 * time.Hour)
	if s.State.Phase != canary.PhaseSucceeded {
		t.Fatalf("phase %s\n%s", s.State.Phase, s.timeline())
	}
	// 20 minutes of step 1 were left when it was paused.
	if got, want := s.stepStartAt[1].Sub(resumedAt), 20*minute; got != want {
		t.Errorf("step 2 began %v after resume, want %v", got, want)
	}
}

func TestPausedRolloutStillRollsBackOnFiringRule(t *testing.T) {
	s := toPhase(t, canary.PhasePaused)
	s.metrics = fault(0, 0, trackMetrics{450 * time.Millisecond, 0.2})
	s.run(time.Hour)
	if s.State.Phase != canary.PhaseRolledBack || s.State.RollbackKind != canary.ActionRollbackImmediate {
		t.Fatalf("phase %s kind %s, want an immediate rollback\n%s", s.State.Phase, s.State.RollbackKind, s.timeline())
	}
}

func TestPromoteOneStepAndFull(t *testing.T) {
	s := toPhase(t, canary.PhaseProgressing)
	must(t, s.Control(engine.Command{Kind: engine.CmdPromote, Actor: "bob"}))
	s.run(0)
	if s.State.Step != 1 || s.State.Weight != 10 {
		t.Fatalf("after promote: step %d weight %d, want step index 1 at 10%%", s.State.Step, s.State.Weight)
	}
	must(t, s.Control(engine.Command{Kind: engine.CmdPromote, Full: true, Actor: "bob"}))
	s.run(time.Hour)
	if s.State.Phase != canary.PhaseSucceeded {
		t.Fatalf("phase %s", s.State.Phase)
	}
	want := []string{"f5", "w5", "f10", "w10", "f100", "w100", "promote", "removeCanary"}
	tr := s.traffic()
	if got := tr[2 : len(tr)-1]; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
}

func TestAbortKinds(t *testing.T) {
	for _, immediate := range []bool{false, true} {
		s := toPhase(t, canary.PhaseProgressing)
		must(t, s.Control(engine.Command{Kind: engine.CmdAbort, Immediate: immediate, Actor: "carol"}))
		s.run(time.Hour)
		want := canary.ActionRollbackGradual
		if immediate {
			want = canary.ActionRollbackImmediate
		}
		if s.State.Phase != canary.PhaseRolledBack || s.State.RollbackKind != want {
			t.Errorf("immediate=%v: phase %s kind %s", immediate, s.State.Phase, s.State.RollbackKind)
		}
	}
	// Escalation: an immediate abort during a gradual drain removes the canary now.
	s := toPhase(t, canary.PhaseRollingBack)
	must(t, s.Control(engine.Command{Kind: engine.CmdAbort, Immediate: true}))
	s.run(0)
	if s.State.Phase != canary.PhaseRolledBack {
		t.Errorf("escalated abort left phase %s", s.State.Phase)
	}
	// Abort during pre-checks: nothing moved, so the rollout fails.
	s = toPhase(t, canary.PhasePreChecks)
	must(t, s.Control(engine.Command{Kind: engine.CmdAbort}))
	if s.State.Phase != canary.PhaseFailed || slices.ContainsFunc(s.Executed, func(x enginetest.Executed) bool { return x.Action.Kind == canary.ActSetWeight }) {
		t.Errorf("abort in pre-checks: phase %s, actions %v", s.State.Phase, s.traffic())
	}
}

func TestRetryStartsAgain(t *testing.T) {
	for _, ph := range []canary.Phase{canary.PhaseRolledBack, canary.PhaseFailed} {
		s := toPhase(t, ph)
		s.metrics = func(*sim, canary.Track) trackMetrics { return healthy }
		s.fail = nil
		must(t, s.Control(engine.Command{Kind: engine.CmdRetry, Actor: "dave"}))
		s.run(5 * time.Hour)
		if s.State.Phase != canary.PhaseSucceeded {
			t.Errorf("retry from %s ended %s\n%s", ph, s.State.Phase, s.timeline())
		}
	}
}

func TestPreCheckFailureChangesNothing(t *testing.T) {
	s := toPhase(t, canary.PhaseFailed)
	if got := s.traffic(); len(got) != 0 {
		t.Errorf("actions after a failed pre-check: %v", got)
	}
	ev := s.first(canary.EvPreChecksFailed)
	if !strings.Contains(ev.Message, "staging healthy") || !strings.Contains(ev.Message, "nothing was changed") {
		t.Errorf("message %q", ev.Message)
	}
}

func TestBeforeRolloutHookFailureStopsBeforeTraffic(t *testing.T) {
	p := runbookPlan()
	p.Spec.Hooks = []canary.Hook{{Name: "freeze window", At: canary.HookBeforeRollout, Command: []string{"false"}}}
	s := newSim(t, p)
	s.fail = func(_ *sim, a canary.Action) string {
		if a.Kind == canary.ActHook {
			return "exit status 1"
		}
		return ""
	}
	s.run(time.Hour)
	if s.State.Phase != canary.PhaseFailed || slices.Contains(s.traffic(), "w5") {
		t.Fatalf("phase %s actions %v", s.State.Phase, s.traffic())
	}
}

func TestApprovalGates(t *testing.T) {
	t.Run("manual", func(t *testing.T) {
		p := runbookPlan()
		p.Spec.Steps[0].Approval = &canary.Approval{Manual: true}
		s := newSim(t, p)
		s.run(3 * time.Hour)
		if s.State.Step != 0 || s.State.Phase != canary.PhaseProgressing || !s.has(canary.EvAwaitingApproval) {
			t.Fatalf("step %d phase %s: want waiting at step 1", s.State.Step, s.State.Phase)
		}
		must(t, s.Control(engine.Command{Kind: engine.CmdApprove, Actor: "pm"}))
		s.run(5 * time.Hour)
		if s.State.Phase != canary.PhaseSucceeded {
			t.Fatalf("phase %s", s.State.Phase)
		}
	})
	t.Run("webhook", func(t *testing.T) {
		p := runbookPlan()
		p.Spec.Steps[1].Approval = &canary.Approval{Webhook: "http://127.0.0.1:1/approve"}
		s := newSim(t, p)
		asked := 0
		s.answer = func(s *sim, a canary.Action) string {
			asked++
			if asked < 3 {
				return "waiting"
			}
			return "approved"
		}
		s.run(5 * time.Hour)
		if s.State.Phase != canary.PhaseSucceeded || asked != 3 {
			t.Fatalf("phase %s after %d asks", s.State.Phase, asked)
		}
		if got, want := s.stepStartAt[2].Sub(t0), 61*minute; got != want {
			t.Errorf("step 3 began at %v, want %v (two waits of one interval)", got, want)
		}
	})
	t.Run("webhook rejects", func(t *testing.T) {
		p := runbookPlan()
		p.Spec.Steps[0].Approval = &canary.Approval{Webhook: "http://127.0.0.1:1/approve"}
		s := newSim(t, p)
		s.answer = func(*sim, canary.Action) string { return "rejected" }
		s.run(5 * time.Hour)
		if s.State.Phase != canary.PhasePaused || !strings.Contains(s.State.PauseReason, "rejected") {
			t.Fatalf("phase %s reason %q", s.State.Phase, s.State.PauseReason)
		}
	})
}

func TestFailingActionRetriesThenPauses(t *testing.T) {
	s := newSim(t, runbookPlan())
	down := true
	s.fail = func(s *sim, a canary.Action) string {
		if down && a.Kind == canary.ActSetFlag && a.Weight == 10 {
			return "flag service: 503"
		}
		return ""
	}
	s.run(2 * time.Hour)
	if s.State.Phase != canary.PhasePaused || !strings.Contains(s.State.PauseReason, "flag service: 503") {
		t.Fatalf("phase %s reason %q", s.State.Phase, s.State.PauseReason)
	}
	// No weight change without its flag.
	if s.State.Weight != 5 || slices.Contains(s.traffic(), "w10") {
		t.Fatalf("weight moved to %d without its flag: %v", s.State.Weight, s.traffic())
	}
	if got := s.first(canary.EvPaused).Time.Sub(t0); got != 35*minute {
		t.Errorf("paused at %v, want 35m (5m action timeout)", got)
	}
	down = false
	must(t, s.Control(engine.Command{Kind: engine.CmdResume}))
	s.run(5 * time.Hour)
	if s.State.Phase != canary.PhaseSucceeded {
		t.Fatalf("after resume: %s", s.State.Phase)
	}
}

func TestReplayReissuesOutstandingActions(t *testing.T) {
	s := newSim(t, runbookPlan())
	out := engine.Next(s.Plan, s.State, engine.Input{Now: s.Now}) // issues the pre-checks
	if len(out.Actions) == 0 {
		t.Fatal("no outstanding actions to replay")
	}
	// A runner that crashed before reporting calls Next again: the same
	// actions, with the same IDs, come back; nothing new is issued.
	again := engine.Next(s.Plan, out.State, engine.Input{Now: s.Now.Add(time.Second)})
	if !slices.Equal(ids(out.Actions), ids(again.Actions)) {
		t.Errorf("replayed %v, want %v", ids(again.Actions), ids(out.Actions))
	}
	for _, e := range again.Events {
		if e.Type == canary.EvActionIssued {
			t.Errorf("replay issued a new action: %s", e.Message)
		}
	}
	// A result reported twice is applied once.
	r := []canary.ActionResult{{ID: out.Actions[0].ID, At: s.Now}}
	o1 := engine.Next(s.Plan, out.State, engine.Input{Now: s.Now, Results: r})
	o2 := engine.Next(s.Plan, o1.State, engine.Input{Now: s.Now, Results: r})
	if len(o2.Events) != 0 || len(o2.State.Outstanding) != len(o1.State.Outstanding) {
		t.Errorf("duplicate result changed the state: %d events", len(o2.Events))
	}
}

func ids(as []canary.Action) []int64 {
	var out []int64
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// TestPropertiesOverRandomObservations drives many rollouts through random
// mixes of healthy, breaching, thin and failing measurements and checks
// the invariants that make the engine trustworthy.
func TestPropertiesOverRandomObservations(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := newSim(t, runbookPlan())
		s.measure = func(s *sim, q canary.Query) canary.Observation {
			o := canary.Observation{Query: q, Measurement: canary.Measurement{Samples: int64(rng.IntN(3000))}}
			switch rng.IntN(10) {
			case 0:
				o.Err = "boom"
			case 1:
				o.Measurement.NoData = true
			}
			if q.Metric == canary.MetricErrorRate {
				o.Measurement.Value = []float64{0.0005, 0.001, 0.012, 0.06}[rng.IntN(4)] * float64(rng.IntN(2))
			} else {
				o.Measurement.Value = []float64{0.3, 0.45, 0.7, 1.2}[rng.IntN(4)*rng.IntN(2)]
			}
			return o
		}
		var lastWeight int
		var rolledBack bool
		s.onEval = func(s *sim) {
			if s.State.Phase == canary.PhaseRollingBack || s.State.Phase == canary.PhaseRolledBack {
				rolledBack = true
			}
			if s.State.Weight < lastWeight && !rolledBack {
				t.Fatalf("seed %d: weight lowered %d → %d without a rollback", seed, lastWeight, s.State.Weight)
			}
			lastWeight = s.State.Weight
		}
		s.run(10 * time.Hour)
		checkNoSkippedStep(t, seed, s)
		checkNotPromotedWhilePending(t, seed, s)
	}
}

func checkNoSkippedStep(t *testing.T, seed uint64, s *sim) {
	t.Helper()
	var ws []int
	for _, x := range s.Executed {
		if x.Action.Kind == canary.ActSetWeight && x.Action.Weight > 0 {
			ws = append(ws, x.Action.Weight)
		}
	}
	want := []int{5, 10, 25, 50, 100}
	if len(ws) > len(want) || !slices.Equal(ws, want[:len(ws)]) {
		t.Fatalf("seed %d: weights %v are not a prefix of %v", seed, ws, want)
	}
}

func checkNotPromotedWhilePending(t *testing.T, seed uint64, s *sim) {
	t.Helper()
	pending := map[string]bool{}
	for _, e := range s.Events {
		switch e.Type {
		case canary.EvRulePending:
			pending[e.Rule] = true
		case canary.EvRuleCleared:
			delete(pending, e.Rule)
		case canary.EvStepCompleted, canary.EvPromoting:
			if len(pending) > 0 {
				t.Fatalf("seed %d: %s at %v with rules pending %v", seed, e.Type, e.Time.Sub(t0), pending)
			}
		}
	}
}

// TestEventsRedactURLCredentials: a hook's error text with a URL that
// carries credentials (as a provider or a curl in a hook prints it) is
// recorded without them.
func TestEventsRedactURLCredentials(t *testing.T) {
	p := runbookPlan()
	p.Spec.Hooks = []canary.Hook{{Name: "notify ci", At: canary.HookBeforeRollout, Command: []string{"curl"}}}
	s := newSim(t, p)
	s.fail = func(_ *sim, a canary.Action) string {
		if a.Kind == canary.ActHook {
			return "POST https://ci:hook-pw@ci.example.com/build?token=hook-token: 401"
		}
		return ""
	}
	s.run(time.Hour)
	found := false
	for _, ev := range s.Events {
		text := ev.Message + " " + ev.Error
		if strings.Contains(text, "hook-pw") || strings.Contains(text, "hook-token") {
			t.Errorf("event %s shows a credential: %s", ev.Type, text)
		}
		found = found || strings.Contains(text, "https://ci:redacted@ci.example.com/build?token=redacted")
	}
	if !found {
		t.Errorf("no event records the redacted URL:\n%s", s.timeline())
	}
}

// TestPromoteCutsTheHoldShort: a person's promote before the hold had its
// evidence is not logged as the step's success: its stepCompleted says
// who cut the hold short and how much of it was held.
func TestPromoteCutsTheHoldShort(t *testing.T) {
	s := toPhase(t, canary.PhaseProgressing) // 10m into step 1's 30m hold
	must(t, s.Control(engine.Command{Kind: engine.CmdPromote, Actor: "bob"}))
	var done canary.Event
	for _, ev := range s.Events {
		if ev.Type == canary.EvStepCompleted {
			done = ev
		}
	}
	if strings.Contains(done.Message, "successful") || done.Actor != "bob" ||
		!strings.Contains(done.Message, "promoted by bob before its hold completed: 10m of the 30m hold") {
		t.Errorf("stepCompleted of a promote: actor %q, %q", done.Actor, done.Message)
	}
}
