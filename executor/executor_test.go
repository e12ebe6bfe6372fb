package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/executor"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// deadlines is a checker that records how long each call's context had
// left (0: no deadline) and the payload it was given.
type deadlines struct {
	left    map[string]time.Duration
	payload []byte
}

func (d *deadlines) record(ctx context.Context, what string) {
	if d.left == nil {
		d.left = map[string]time.Duration{}
	}
	if dl, ok := ctx.Deadline(); ok {
		d.left[what] = time.Until(dl)
	} else {
		d.left[what] = 0
	}
}

func (d *deadlines) PreCheck(ctx context.Context, pc canary.PreCheck) (string, error) {
	d.record(ctx, "preCheck")
	return "", nil
}

func (d *deadlines) Hook(ctx context.Context, h canary.Hook, payload []byte) (string, error) {
	d.record(ctx, h.Name)
	d.payload = payload
	return "", nil
}

func (d *deadlines) Approval(ctx context.Context, _ string, payload []byte) (checks.Answer, error) {
	d.record(ctx, "approval")
	return checks.Approved, nil
}

func testPlan() *canary.Plan {
	return &canary.Plan{
		Metadata: canary.Metadata{Name: "web", Namespace: "shop"},
		Spec: canary.Spec{
			Version:     "v2",
			FeatureFlag: &canary.FeatureFlag{Name: "release"},
			PreChecks:   []canary.PreCheck{{Name: "staging"}},
			Hooks:       []canary.Hook{{Name: "smoke", At: canary.HookAfterStep, Timeout: canary.Duration(2 * time.Second)}},
			Cleanup:     []canary.Hook{{Name: "tidy", Timeout: canary.Duration(2 * time.Second)}},
			Steps:       []canary.Step{{Weight: 10, Approval: &canary.Approval{Webhook: "http://approve.invalid"}}, {Weight: 100}},
		},
	}
}

type flagCalls []string

func (f *flagCalls) SetFlag(_ context.Context, name string, enabled bool, percent int) error {
	state := "off"
	if enabled {
		state = "on"
	}
	*f = append(*f, fmt.Sprintf("%s:%s:%d", name, state, percent))
	return nil
}

func newExec(t *testing.T, ck executor.Checker, m canary.MetricSource, fl canary.FlagSetter, rt canary.TrafficRouter) *executor.Executor {
	t.Helper()
	e, err := executor.New(executor.Config{Plan: testPlan(), Clock: canarytest.NewClock(t0), Timeouts: executor.CallTimeouts(100 * time.Millisecond),
		Providers: executor.Providers{Router: rt, Metrics: m, Flags: fl, Checks: ck}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestChecksKeepThePlansTimeouts: pre-checks, hooks, cleanup and approvals
// get the host's context as it is (the checker applies the plan's
// timeout), never the host's call timeout.
func TestChecksKeepThePlansTimeouts(t *testing.T) {
	ck := &deadlines{}
	e := newExec(t, ck, canarytest.Metrics(nil), &flagCalls{}, &canarytest.Router{})
	st := canary.State{Name: "web", Version: "v2", Phase: canary.PhaseProgressing, Step: 0, Weight: 10}
	for _, a := range []canary.Action{
		{ID: 1, Kind: canary.ActPreCheck, Name: "staging"},
		{ID: 2, Kind: canary.ActHook, Name: "smoke"},
		{ID: 3, Kind: canary.ActCleanup, Name: "tidy"},
		{ID: 4, Kind: canary.ActApproval, Step: 0},
	} {
		res := e.Do(t.Context(), st, a)
		if res.Err != "" || res.ID != a.ID || !res.At.Equal(t0) {
			t.Errorf("Do(%s) = %+v; want ID %d, no error, at %s", a.Kind, res, a.ID, t0)
		}
	}
	for what, left := range ck.left {
		if left != 0 {
			t.Errorf("%s ran with a deadline %s away; want none (the plan's timeout is the checker's)", what, left)
		}
	}
	if len(ck.left) != 4 {
		t.Errorf("checker saw %v; want preCheck, smoke, tidy and approval", ck.left)
	}
}

// TestProviderCallsHaveCallTimeouts: router, flag and metric calls are
// bounded by the host's call timeout of their kind.
func TestProviderCallsHaveCallTimeouts(t *testing.T) {
	var left []time.Duration
	rec := func(ctx context.Context) {
		dl, ok := ctx.Deadline()
		if !ok {
			left = append(left, 0)
			return
		}
		left = append(left, time.Until(dl))
	}
	m := ctxMetrics(func(ctx context.Context) { rec(ctx) })
	rt := &ctxRouter{f: rec}
	fl := &ctxFlags{f: rec}
	e := newExec(t, &deadlines{}, m, fl, rt)
	st := canary.State{Name: "web"}
	e.Do(t.Context(), st, canary.Action{ID: 1, Kind: canary.ActSetWeight, Weight: 5})
	e.Do(t.Context(), st, canary.Action{ID: 2, Kind: canary.ActSetFlag, Weight: 5, FlagEnabled: true})
	e.Do(t.Context(), st, canary.Action{ID: 3, Kind: canary.ActPromote})
	e.Do(t.Context(), st, canary.Action{ID: 4, Kind: canary.ActRemoveCanary})
	e.Measure(t.Context(), []canary.Query{{Metric: canary.MetricErrorRate}})
	if len(left) != 5 {
		t.Fatalf("%d provider calls seen, want 5", len(left))
	}
	for i, l := range left {
		if l <= 0 || l > 100*time.Millisecond {
			t.Errorf("call %d had %s left; want a deadline within the 100ms call timeout", i, l)
		}
	}
}

type ctxMetrics func(ctx context.Context)

func (m ctxMetrics) Measure(ctx context.Context, _ canary.Query) (canary.Measurement, error) {
	m(ctx)
	return canary.Measurement{Value: 0.1, Samples: 10}, nil
}

type ctxRouter struct{ f func(context.Context) }

func (r *ctxRouter) SetWeight(ctx context.Context, _ int) error { r.f(ctx); return nil }
func (r *ctxRouter) Promote(ctx context.Context) error          { r.f(ctx); return nil }
func (r *ctxRouter) RemoveCanary(ctx context.Context) error     { r.f(ctx); return nil }

type ctxFlags struct{ f func(context.Context) }

func (f *ctxFlags) SetFlag(ctx context.Context, _ string, _ bool, _ int) error { f.f(ctx); return nil }

// TestMeasureRefusesNonFinite: NaN and ±Inf are errors (the engine judges
// finite numbers; a state with them is not JSON); no data stays no data.
func TestMeasureRefusesNonFinite(t *testing.T) {
	tests := []struct {
		name    string
		m       canary.Measurement
		err     error
		wantErr string
	}{
		{"finite", canary.Measurement{Value: 0.25, Samples: 10}, nil, ""},
		{"NaN", canary.Measurement{Value: math.NaN(), Samples: 10}, nil, "NaN, not a finite number"},
		{"+Inf", canary.Measurement{Value: math.Inf(1), Samples: 10}, nil, "+Inf, not a finite number"},
		{"-Inf", canary.Measurement{Value: math.Inf(-1), Samples: 10}, nil, "-Inf, not a finite number"},
		{"no data", canary.Measurement{NoData: true, Value: math.NaN()}, nil, ""},
		{"source error", canary.Measurement{}, errors.New("prometheus unreachable"), "prometheus unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := canarytest.Metrics(func(canary.Query) (canary.Measurement, error) { return tt.m, tt.err })
			e := newExec(t, &deadlines{}, m, &flagCalls{}, &canarytest.Router{})
			obs := e.Measure(t.Context(), []canary.Query{{Metric: canary.MetricLatencyP95}})
			if len(obs) != 1 {
				t.Fatalf("%d observations, want 1", len(obs))
			}
			if tt.wantErr == "" && obs[0].Err != "" || !strings.Contains(obs[0].Err, tt.wantErr) {
				t.Errorf("Err = %q, want %q", obs[0].Err, tt.wantErr)
			}
		})
	}
}

// TestPayload: hooks and approvals receive the rollout's state with its
// namespace, under every host.
func TestPayload(t *testing.T) {
	ck := &deadlines{}
	e := newExec(t, ck, canarytest.Metrics(nil), &flagCalls{}, &canarytest.Router{})
	st := canary.State{Name: "web", Version: "v2", Phase: canary.PhaseProgressing, Step: 1, Weight: 40, FlagPercent: 40}
	e.Do(t.Context(), st, canary.Action{ID: 1, Kind: canary.ActHook, Name: "smoke"})
	var got map[string]any
	if err := json.Unmarshal(ck.payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"rollout": "web", "namespace": "shop", "version": "v2", "phase": "Progressing",
		"step": 2.0, "weight": 40.0, "flagPercent": 40.0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("payload[%s] = %v, want %v (payload %s)", k, got[k], v, ck.payload)
		}
	}
	if len(got) != len(want) {
		t.Errorf("payload %s has other fields than %v", ck.payload, want)
	}
}

// TestRestore re-applies the weight, and the flag only when it is on.
func TestRestore(t *testing.T) {
	tests := []struct {
		name  string
		st    canary.State
		flags []string
	}{
		{"flag on", canary.State{Weight: 25, FlagEnabled: true, FlagPercent: 25}, []string{"release:on:25"}},
		{"flag off", canary.State{Weight: 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, fl := &canarytest.Router{}, &flagCalls{}
			e := newExec(t, &deadlines{}, canarytest.Metrics(nil), fl, rt)
			if err := e.Restore(t.Context(), tt.st); err != nil {
				t.Fatal(err)
			}
			if got := rt.Weight(); got != tt.st.Weight || len(rt.Log()) != 1 {
				t.Errorf("router %v, want one set weight %d", rt.Log(), tt.st.Weight)
			}
			if !slices.Equal(*fl, tt.flags) {
				t.Errorf("flags %v, want %v", *fl, tt.flags)
			}
		})
	}
}

// TestUnknownAction: an action naming what the plan does not have fails.
func TestUnknownAction(t *testing.T) {
	e := newExec(t, &deadlines{}, canarytest.Metrics(nil), &flagCalls{}, &canarytest.Router{})
	res := e.Do(t.Context(), canary.State{}, canary.Action{ID: 9, Kind: canary.ActHook, Name: "ghost"})
	if !strings.Contains(res.Err, `"ghost" is not in the plan`) {
		t.Errorf("Err = %q, want it to say the hook is not in the plan", res.Err)
	}
}

// TestNewRefusesMissingProviders: every required provider is checked.
func TestNewRefusesMissingProviders(t *testing.T) {
	_, err := executor.New(executor.Config{Plan: testPlan(), Providers: executor.Providers{Router: &canarytest.Router{},
		Metrics: canarytest.Metrics(nil), Checks: &deadlines{}}})
	if err == nil || !strings.Contains(err.Error(), "feature flag") {
		t.Errorf("New without flags for a plan with a flag = %v", err)
	}
}
