package engine_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/enginetest"
)

// routePlan is a plan on the built-in proxy with the given steps, one
// errorRate rule (immediate rollback above 5% for 1m) and no flag.
func routePlan(steps ...canary.Step) *canary.Plan {
	p := enginetest.RunbookPlan()
	p.Spec.FeatureFlag = nil
	p.Spec.PreChecks, p.Spec.Cleanup = nil, nil
	p.Spec.Steps = steps
	q, _ := canary.ParseQuantity("5%")
	p.Spec.Rules = []canary.Rule{{Metric: canary.MetricErrorRate, Above: q, For: canary.Duration(time.Minute),
		Window: canary.Duration(30 * time.Second), Action: canary.ActionRollbackImmediate, Urgency: canary.UrgencyHigh}}
	return p
}

// routeObserve serves 1,000 requests a second on each track (mirrored
// copies included), the canary's at errRate() and the stable's at 0.1%.
func routeObserve(errRate func() float64) func(canary.Query) canary.Observation {
	return func(q canary.Query) canary.Observation {
		m := enginetest.Served{ErrRate: 0.001, P95: 300 * time.Millisecond}
		if q.Track == canary.TrackCanary {
			m.ErrRate = errRate()
		}
		return enginetest.Observe(q, 50, 2000, m)
	}
}

// trafficActions lists the traffic actions issued, in order: the routes
// set ("0% + header X-Beta=1"), "promote" and "removeCanary", each with
// its time since start.
func trafficActions(d *enginetest.Driver, start time.Time) (acts []string, at []time.Duration) {
	for _, ev := range d.Events {
		if ev.Type != canary.EvActionIssued || ev.Action == nil {
			continue
		}
		a := ev.Action
		switch a.Kind {
		case canary.ActSetWeight:
			if a.Route == nil {
				acts = append(acts, "weight only")
			} else {
				acts = append(acts, a.Route.String())
			}
		case canary.ActPromote, canary.ActRemoveCanary:
			acts = append(acts, string(a.Kind))
		default:
			continue
		}
		at = append(at, ev.Time.Sub(start))
	}
	return acts, at
}

var (
	beta   = canary.Match{Header: &canary.HeaderMatch{Name: "X-Beta", Exact: "1"}}
	rt0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hold30 = canary.Duration(30 * time.Minute)
)

// TestABRouteSteps: an A/B rollout sets each step's whole route, and the
// plain steps after it clear the match (routes are absolute).
func TestABRouteSteps(t *testing.T) {
	p := routePlan(canary.Step{Match: []canary.Match{beta}, Hold: hold30},
		canary.Step{Weight: 10, Match: []canary.Match{beta}, Mirror: 0.2, Hold: hold30},
		canary.Step{Weight: 50, Hold: hold30}, canary.Step{Weight: 100})
	d := enginetest.NewDriver(p, rt0, routeObserve(func() float64 { return 0.001 }))
	d.RunTo(rt0.Add(3*time.Hour), 10000)
	if d.State.Phase != canary.PhaseSucceeded {
		t.Fatalf("phase %s, want Succeeded", d.State.Phase)
	}
	got, _ := trafficActions(d, rt0)
	want := []string{"0% + header X-Beta=1", "10% + header X-Beta=1 + mirror 20%", "50%", "100%", "promote", "removeCanary"}
	if !slices.Equal(got, want) {
		t.Errorf("traffic actions:\n got %q\nwant %q", got, want)
	}
	for _, ev := range d.Events {
		if ev.Type == canary.EvStepStarted {
			if want := "step 1 (0% + header X-Beta=1) started: route 0% + header X-Beta=1 to v1.0.0-elite, hold 30m"; ev.Message != want {
				t.Errorf("first step's message: got %q, want %q", ev.Message, want)
			}
			break
		}
	}
}

// TestWeightPlanHasNoRoutes: a plan without matches, mirrors or blue/green
// sets plain weights, as before routes existed.
func TestWeightPlanHasNoRoutes(t *testing.T) {
	p := routePlan(canary.Step{Weight: 10, Hold: hold30}, canary.Step{Weight: 100})
	d := enginetest.NewDriver(p, rt0, routeObserve(func() float64 { return 0.001 }))
	d.RunTo(rt0.Add(time.Hour), 10000)
	got, _ := trafficActions(d, rt0)
	if want := []string{"weight only", "weight only", "promote", "removeCanary"}; !slices.Equal(got, want) {
		t.Errorf("traffic actions: got %q, want %q", got, want)
	}
}

func blueGreenPlan() *canary.Plan {
	p := routePlan(canary.Step{Mirror: 1, Hold: hold30}, canary.Step{Weight: 100})
	p.Spec.Strategy.BlueGreen = &canary.BlueGreen{ScaleDownDelay: canary.Duration(10 * time.Minute)}
	return p
}

// TestBlueGreenPromotes: the new version gets only mirrored traffic for the
// hold, then all traffic at once; the old version is kept for
// scaleDownDelay before the promotion removes it.
func TestBlueGreenPromotes(t *testing.T) {
	d := enginetest.NewDriver(blueGreenPlan(), rt0, routeObserve(func() float64 { return 0.001 }))
	d.RunTo(rt0.Add(2*time.Hour), 10000)
	if d.State.Phase != canary.PhaseSucceeded {
		t.Fatalf("phase %s, want Succeeded", d.State.Phase)
	}
	got, at := trafficActions(d, rt0)
	want := []string{"0% + mirror 100%", "100%", "100%", "promote", "removeCanary"}
	if !slices.Equal(got, want) {
		t.Fatalf("traffic actions:\n got %q\nwant %q", got, want)
	}
	if at[1] != 30*time.Minute || at[3] != 40*time.Minute {
		t.Errorf("switched at %v and promoted at %v, want 30m (the mirrored hold) and 40m (+ scaleDownDelay)", at[1], at[3])
	}
}

// TestBlueGreenSwitchesBack: a breach during scaleDownDelay switches all
// traffic back to the old version at once.
func TestBlueGreenSwitchesBack(t *testing.T) {
	var d *enginetest.Driver
	bad := func() float64 {
		if d.State.Weight == 100 {
			return 0.2
		}
		return 0.001
	}
	d = enginetest.NewDriver(blueGreenPlan(), rt0, routeObserve(bad))
	d.RunTo(rt0.Add(2*time.Hour), 10000)
	if d.State.Phase != canary.PhaseRolledBack {
		t.Fatalf("phase %s, want RolledBack", d.State.Phase)
	}
	got, at := trafficActions(d, rt0)
	want := []string{"0% + mirror 100%", "100%", "0%", "removeCanary"}
	if !slices.Equal(got, want) {
		t.Fatalf("traffic actions:\n got %q\nwant %q", got, want)
	}
	if back := at[2] - at[1]; back > 2*time.Minute {
		t.Errorf("switched back %v after the switch, want within the rule's 1m for + an interval", back)
	}
}

// TestRouteReplayAfterCrash: a runner that crashed before reporting a
// step's route action finds it, whole, in the saved state, and executing
// it again asks for the same absolute route.
func TestRouteReplayAfterCrash(t *testing.T) {
	p := routePlan(canary.Step{Match: []canary.Match{beta}, Mirror: 0.1, Hold: hold30}, canary.Step{Weight: 100})
	d := enginetest.NewDriver(p, rt0, routeObserve(func() float64 { return 0.001 }))
	d.Fail = func(canary.Action) string { return "" }
	d.Cycle() // issues the first step's route
	var saved canary.State
	b, err := json.Marshal(d.State)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, a := range saved.Outstanding {
		if a.Route != nil {
			routes = append(routes, a.Route.String())
		}
	}
	if want := []string{"0% + header X-Beta=1 + mirror 10%"}; !slices.Equal(routes, want) {
		t.Fatalf("outstanding routes after a save: got %q, want %q", routes, want)
	}
	// Resume from the saved state: the results arrive late, twice (the
	// replay's and the lost one's); the step starts once.
	r := enginetest.NewDriver(p, rt0, d.Observe)
	r.State, r.Now, r.Results = saved, rt0.Add(time.Minute), append(d.Results, d.Results...)
	r.RunTo(rt0.Add(2*time.Hour), 10000)
	got, _ := trafficActions(r, rt0)
	if want := []string{"100%", "promote", "removeCanary"}; r.State.Phase != canary.PhaseSucceeded || !slices.Equal(got, want) {
		t.Errorf("after the resume: phase %s, traffic actions %q; want Succeeded, %q", r.State.Phase, got, want)
	}
}

// TestMirroredCopiesNotInBurn: on a mirror-only step the canary's failing
// copies count for its own rules, never for the service's burn (no user
// saw them): a burn rule alone lets the rollout through, an errorRate rule
// rolls it back.
func TestMirroredCopiesNotInBurn(t *testing.T) {
	q := func(s string) canary.Quantity { v, _ := canary.ParseQuantity(s); return v }
	burn := canary.Rule{Metric: canary.MetricBurnRate, Above: q("2x"), For: canary.Duration(time.Minute),
		Window: canary.Duration(30 * time.Second), Action: canary.ActionRollbackImmediate}
	for _, tt := range []struct {
		name  string
		rules []canary.Rule
		want  canary.Phase
	}{
		{"burn rule only", []canary.Rule{burn}, canary.PhaseSucceeded},
		{"errorRate rule", routePlan().Spec.Rules, canary.PhaseRolledBack},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := routePlan(canary.Step{Mirror: 0.5, Hold: hold30}, canary.Step{Weight: 100})
			p.Spec.Rules = tt.rules
			var d *enginetest.Driver
			d = enginetest.NewDriver(p, rt0, routeObserve(func() float64 {
				if d.State.Weight == 0 {
					return 0.5 // the copies fail; users never see it
				}
				return 0.001
			}))
			d.RunTo(rt0.Add(2*time.Hour), 10000)
			if d.State.Phase != tt.want {
				t.Errorf("phase %s, want %s", d.State.Phase, tt.want)
			}
		})
	}
}
