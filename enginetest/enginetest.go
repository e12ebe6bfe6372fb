// Package enginetest holds the test drivers shared by the engine's tests
// and its readers' (view, report): a scenario's measurement of one query
// and one decision cycle of the engine. Tests only.
package enginetest

import (
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

// Served is what one track serves in a scenario: its 5xx share and p95.
type Served struct {
	ErrRate float64
	P95     time.Duration
}

// Observe answers q as a service at rps requests per second whose canary
// has weight percent of them: the track's share of the requests over the
// query's window, with m's error rate, request rate or p95 (no data when
// the track gets no requests).
func Observe(q canary.Query, weight int, rps float64, m Served) canary.Observation {
	share := float64(weight) / 100
	if q.Track == canary.TrackStable {
		share = 1 - share
	}
	n := int64(rps * share * q.Window.Seconds())
	o := canary.Observation{Query: q, Measurement: canary.Measurement{Samples: n}}
	switch {
	case n == 0:
		o.Measurement.NoData = true
	case q.Metric == canary.MetricErrorRate:
		o.Measurement.Value = m.ErrRate
	case q.Metric == canary.MetricRequestRate:
		o.Measurement.Value = float64(n) / q.Window.Seconds()
	default:
		o.Measurement.Value = m.P95.Seconds()
	}
	return o
}

// Cycle makes one call to engine.Next at now, answering every query the
// engine asks for with observe, and passing the results of the actions
// executed since the last cycle.
func Cycle(p *canary.Plan, st canary.State, now time.Time, results []canary.ActionResult, observe func(canary.Query) canary.Observation) engine.Output {
	var obs []canary.Observation
	for _, q := range engine.Queries(p, st, now) {
		obs = append(obs, observe(q))
	}
	return engine.Next(p, st, engine.Input{Now: now, Results: results, Observations: obs})
}

// RunbookPlan is the runbook as a plan, the fixture of the engine's tests
// and its readers': five steps of 30 minutes, the six rows of the
// decision matrix (latency, error rate and burn rate, each a gradual and
// an immediate rollback), two pre-checks, a feature flag moved in
// lockstep and a cleanup hook. Each call returns a new plan.
func RunbookPlan() *canary.Plan {
	d := func(s string) canary.Duration {
		v, err := canary.ParseDuration(s)
		if err != nil {
			panic(err)
		}
		return canary.Duration(v)
	}
	q := func(s string) canary.Quantity {
		v, err := canary.ParseQuantity(s)
		if err != nil {
			panic(err)
		}
		return v
	}
	rule := func(metric, above, forDur, action string, u canary.Urgency) canary.Rule {
		return canary.Rule{Metric: canary.Metric(metric), Above: q(above), For: d(forDur), Window: d("30s"), Action: action, Urgency: u}
	}
	p := &canary.Plan{APIVersion: canary.APIVersion, Kind: canary.Kind,
		Metadata: canary.Metadata{Name: "recoveryos-elite", Namespace: "recoveryos"},
		Spec: canary.Spec{
			Version:     "v1.0.0-elite",
			Traffic:     canary.Traffic{Proxy: &canary.ProxyTraffic{Stable: "http://127.0.0.1:9001", Canary: "http://127.0.0.1:9002"}},
			FeatureFlag: &canary.FeatureFlag{Name: "release_20250814", Environment: "production"},
			PreChecks: []canary.PreCheck{{Name: "staging healthy", URL: "http://staging/elite/metrics", JQ: ".avg_success_rate >= 0.99"},
				{Name: "flags present", URL: "http://staging/elite/system-status", JQ: ".features != null"}},
			Steps: []canary.Step{{Weight: 5, Hold: d("30m")}, {Weight: 10, Hold: d("30m")}, {Weight: 25, Hold: d("30m")},
				{Weight: 50, Hold: d("30m")}, {Weight: 100}},
			Analysis: canary.Analysis{Interval: d("30s"), MinRequests: 100},
			SLO:      canary.SLO{Objective: 0.999, LatencyP95: d("600ms"), ErrorRate: 0.01},
			Rules: []canary.Rule{
				rule("latencyP95", "600ms", "5m", canary.ActionRollbackGradual, canary.UrgencyMedium),
				rule("latencyP95", "1000ms", "2m", canary.ActionRollbackImmediate, canary.UrgencyHigh),
				rule("errorRate", "1%", "5m", canary.ActionRollbackGradual, canary.UrgencyMedium),
				rule("errorRate", "5%", "1m", canary.ActionRollbackImmediate, canary.UrgencyCritical),
				rule("burnRate", "2x", "10m", canary.ActionRollbackGradual, canary.UrgencyMedium),
				rule("burnRate", "5x", "2m", canary.ActionRollbackImmediate, canary.UrgencyHigh),
			},
			Rollback: canary.RollbackPolicy{Drain: d("5m")},
			Cleanup:  []canary.Hook{{Name: "delete canary config", Command: []string{"true"}}},
		}}
	return p
}
