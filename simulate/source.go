package simulate

import (
	"context"
	"time"

	"github.com/canary-dev/canary"
)

// Source is a scenario's traffic as a metric source for decision loops
// other than canary's engine (bench/decisions runs Flagger's and Argo
// Rollouts' analysis over it): the loop sets the canary weight as time
// passes and measures windows ending at a time, as the engine's runner
// does through Run.
type Source struct {
	t *traffic
}

// NewSource returns the traffic of sc in ticks of tick (10s suits
// windows of a minute and more), sampled with seed and stream when
// sampled is set, else at expected values.
func NewSource(sc *Scenario, tick time.Duration, sampled bool, seed, stream uint64) *Source {
	var t *traffic
	if sampled {
		t = newTraffic(sc, Start, tick, newRand(seed, stream))
	} else {
		t = newTraffic(sc, Start, tick, nil)
	}
	return &Source{t: t}
}

// SetWeight sets the canary's share of traffic from at (since Start) on;
// times must not go backwards.
func (s *Source) SetWeight(at time.Duration, weight int) {
	s.t.setWeight(Start.Add(at), weight)
}

// Measure measures metric on track over the window ending at (since
// Start), like the built-in recorder: Samples are the window's requests.
func (s *Source) Measure(metric canary.Metric, track canary.Track, window, at time.Duration) (canary.Measurement, error) {
	return s.t.Measure(context.Background(), canary.Query{Metric: metric, Track: track, Window: window, At: Start.Add(at)})
}
