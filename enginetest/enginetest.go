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
