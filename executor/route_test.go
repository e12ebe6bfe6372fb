package executor_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/executor"
)

// routeRouter is a router with SetRoute, recording "route R".
type routeRouter struct {
	canarytest.Router
	routes []string
}

func (r *routeRouter) SetRoute(_ context.Context, rt canary.Route) error {
	r.routes = append(r.routes, "route "+rt.String())
	return nil
}

func (r *routeRouter) Log() []string { return append(r.Router.Log(), r.routes...) }

var beta = canary.Match{Header: &canary.HeaderMatch{Name: "X-Beta", Exact: "1"}}

func routeExec(t *testing.T, rt canary.TrafficRouter) *executor.Executor {
	t.Helper()
	p := testPlan()
	p.Spec.FeatureFlag = nil
	p.Spec.Steps = []canary.Step{{Match: []canary.Match{beta}, Hold: canary.Duration(time.Minute)}, {Weight: 100}}
	e, err := executor.New(executor.Config{Plan: p, Clock: canarytest.NewClock(t0), Timeouts: executor.CallTimeouts(100 * time.Millisecond),
		Providers: executor.Providers{Router: rt, Metrics: canarytest.Metrics(nil), Checks: &deadlines{}}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSetRouteAction: a setWeight action carrying a route goes to
// SetRoute; a router without it gets plain routes as weights and refuses
// the rest, saying why.
func TestSetRouteAction(t *testing.T) {
	route := canary.Route{Matches: []canary.Match{beta}}
	act := canary.Action{ID: 1, Kind: canary.ActSetWeight, Route: &route}

	rr := &routeRouter{}
	if res := routeExec(t, rr).Do(t.Context(), canary.State{}, act); res.Err != "" {
		t.Fatalf("SetRoute: %s", res.Err)
	}
	if got := rr.Log(); !slices.Equal(got, []string{"route 0% + header X-Beta=1"}) {
		t.Errorf("route router: got %v, want one SetRoute", got)
	}

	plain := &canarytest.Router{}
	res := routeExec(t, plain).Do(t.Context(), canary.State{}, act)
	if !strings.Contains(res.Err, "sets only weights") || len(plain.Log()) != 0 {
		t.Errorf("weights-only router: got err %q and calls %v, want a refusal and no call", res.Err, plain.Log())
	}
	act.Route = &canary.Route{Weight: 100}
	if res := routeExec(t, plain).Do(t.Context(), canary.State{}, act); res.Err != "" || !slices.Equal(plain.Log(), []string{"w100"}) {
		t.Errorf("weights-only router, plain route: got err %q, calls %v; want w100", res.Err, plain.Log())
	}
}

// TestRestoreRoute: a resumed rollout of a routing plan restores the
// current step's whole route, not only its weight.
func TestRestoreRoute(t *testing.T) {
	rr := &routeRouter{}
	st := canary.State{Phase: canary.PhaseProgressing, Step: 0, Weight: 0}
	if err := routeExec(t, rr).Restore(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	if got := rr.Log(); !slices.Equal(got, []string{"route 0% + header X-Beta=1"}) {
		t.Errorf("restore: got %v, want the step's whole route", got)
	}
}
