package runner_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"
)

var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// metrics serves a healthy service at 400 requests/s; bad (if set) decides
// the canary's error rate from the router's weight.
func metrics(router *canarytest.Router, canaryErr float64) canarytest.Metrics {
	return func(q canary.Query) (canary.Measurement, error) {
		share := float64(router.Weight()) / 100
		errRate := 0.001
		if q.Track == canary.TrackStable {
			share = 1 - share
		} else {
			errRate = canaryErr
		}
		n := int64(400 * share * q.Window.Seconds())
		if n == 0 {
			return canary.Measurement{NoData: true}, nil
		}
		v := 0.2
		if q.Metric == canary.MetricErrorRate {
			v = errRate
		}
		return canary.Measurement{Value: v, Samples: n}, nil
	}
}

type fixture struct {
	plan   *canary.Plan
	router *canarytest.Router
	flags  *flags.Memory
	store  *canarytest.Store
	clock  *canarytest.Clock
	r      *runner.Runner
}

func newFixture(t *testing.T, canaryErr float64) *fixture {
	t.Helper()
	p, err := plan.Load("../examples/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.FeatureFlag = &canary.FeatureFlag{Name: "release_20250814"}
	f := &fixture{plan: p, router: &canarytest.Router{}, flags: &flags.Memory{}, store: &canarytest.Store{},
		clock: canarytest.NewClock(t0)}
	f.r, err = runner.New(runner.Config{Plan: p, Router: f.router, Metrics: metrics(f.router, canaryErr),
		Flags: f.flags, Checks: &canarytest.Checker{}, Store: f.store, Clock: f.clock, PauseOnInterrupt: true}, engine.New(p, t0))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRunPromotesHealthyCanary(t *testing.T) {
	f := newFixture(t, 0.001)
	st, err := f.r.Run(context.Background())
	if err != nil || st.Phase != canary.PhaseSucceeded {
		t.Fatalf("Run = %s, %v; want Succeeded", st.Phase, err)
	}
	want := []string{"w5", "w10", "w25", "w50", "w100", "promote", "removeCanary"}
	if got := f.router.Log(); !slices.Equal(got, want) {
		t.Errorf("router saw %v, want %v", got, want)
	}
	if fl, _ := f.flags.Get("release_20250814"); !fl.Enabled || fl.RolloutPercentage != 100 {
		t.Errorf("flag %+v, want enabled at 100", fl)
	}
	if got := f.clock.Now().Sub(t0); got != 40*time.Second {
		t.Errorf("took %v of plan time, want 40s (four 10s holds)", got)
	}
	evs := f.store.Events()
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("saved event %d has seq %d: an event was lost or repeated", i, e.Seq)
		}
	}
	if f.store.Last().Phase != canary.PhaseSucceeded {
		t.Errorf("last saved phase %s", f.store.Last().Phase)
	}
}

func TestRunRollsBackImmediately(t *testing.T) {
	f := newFixture(t, 0.2) // 20% errors: evidence against the 5% row at once
	st, err := f.r.Run(context.Background())
	if err != nil || st.Phase != canary.PhaseRolledBack || st.RollbackKind != canary.ActionRollbackImmediate {
		t.Fatalf("Run = %s (%s), %v", st.Phase, st.RollbackKind, err)
	}
	if got, want := f.router.Log(), []string{"w5", "w0", "removeCanary"}; !slices.Equal(got, want) {
		t.Errorf("router saw %v, want %v", got, want)
	}
	if fl, _ := f.flags.Get("release_20250814"); fl.Enabled {
		t.Error("flag still enabled after an immediate rollback")
	}
}

// TestIntentSavedBeforeActing checks the durability contract: every action
// is in a saved actionIssued event before the provider is called.
func TestIntentSavedBeforeActing(t *testing.T) {
	f := newFixture(t, 0.001)
	f.router.Before = func(action string) {
		for _, e := range f.store.Events() {
			if e.Type == canary.EvActionIssued && e.Action != nil && action == describe(*e.Action) {
				return
			}
		}
		t.Errorf("%s executed before its intent was saved", action)
	}
	if _, err := f.r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func describe(a canary.Action) string {
	switch a.Kind {
	case canary.ActSetWeight:
		return fmt.Sprintf("w%d", a.Weight)
	}
	return string(a.Kind)
}

func TestInterruptPausesAtCurrentWeight(t *testing.T) {
	f := newFixture(t, 0.001)
	ctx, cancel := context.WithCancel(context.Background())
	f.router.Before = func(a string) {
		if a == "w10" {
			cancel()
		}
	}
	st, err := f.r.Run(ctx)
	if !errors.Is(err, runner.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if st.Phase != canary.PhasePaused || f.router.Weight() != 10 {
		t.Fatalf("phase %s weight %d, want Paused at 10", st.Phase, f.router.Weight())
	}
	if f.store.Last().Phase != canary.PhasePaused {
		t.Error("the pause was not saved")
	}
}

func TestControlWhileRunning(t *testing.T) {
	f := newFixture(t, 0.001)
	// A manual approval keeps the runner waiting at 5% until a command.
	f.plan.Spec.Steps[0].Approval = &canary.Approval{Manual: true}
	ctx := t.Context()
	done := make(chan canary.State)
	go func() {
		st, _ := f.r.Run(ctx)
		done <- st
	}()
	for f.r.State().Weight != 5 {
		time.Sleep(time.Millisecond)
	}
	if err := f.r.Control(ctx, engine.Command{Kind: engine.CmdAbort, Immediate: true, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	st := <-done
	if st.Phase != canary.PhaseRolledBack {
		t.Fatalf("phase %s, want RolledBack", st.Phase)
	}
	if err := f.r.Control(ctx, engine.Command{Kind: engine.CmdPause}); !errors.Is(err, runner.ErrNotRunning) {
		t.Errorf("control after Run returned: %v, want ErrNotRunning", err)
	}
}
