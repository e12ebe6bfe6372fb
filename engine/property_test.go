//go:build !race

package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestPropertyRandomTraffic: 10,000 simulated rollouts of the runbook's
// matrix (30s interval and its fors, holds of 5m) on random traffic —
// Poisson request counts, binomial errors, 10–1000 req/s log-uniform,
// the stable at 0.1% errors — judged with confidence (issue 15):
//
//   - a canary like the stable is never rolled back, and is promoted in
//     at least 99% of rollouts at 200 req/s or more (below, a step may
//     pause for lack of evidence: the share is logged);
//   - a canary failing 20% of requests is always rolled back immediately;
//   - a canary failing 6% is always rolled back and never promoted.
//
// Only in the non-race pass: it takes a minute or so.
func TestPropertyRandomTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 simulated rollouts")
	}
	type tally struct {
		runs, rolledBack, immediate, promoted, paused, highRuns, highPromoted int
		steps, breachSteps                                                    int // steps run; steps with a breach of some rule
	}
	cases := []struct {
		name    string
		errRate float64
		runs    int
	}{
		{"like the stable", 0.001, 5000},
		{"20% errors", 0.2, 2500},
		{"6% errors", 0.06, 2500},
	}
	rng := rand.New(rand.NewPCG(15, 10000))
	for _, c := range cases {
		var got tally
		for range c.runs {
			rps := math.Exp(math.Log(10) + rng.Float64()*math.Log(100))
			s := newSim(t, propertyPlan())
			s.measure = poissonTraffic(rand.New(rand.NewPCG(rng.Uint64(), 1)), rps, c.errRate).measure
			s.run(6 * time.Hour)
			got.runs++
			breached := map[int]bool{}
			for _, e := range s.Events {
				if e.Type == canary.EvRulePending {
					breached[e.Step] = true
				}
			}
			got.steps += s.State.Step + 1
			got.breachSteps += len(breached)
			switch {
			case s.State.Phase == canary.PhaseRolledBack || s.has(canary.EvRollbackStarted):
				got.rolledBack++
				if s.first(canary.EvRollbackStarted).Rule != "" && s.State.RollbackKind == canary.ActionRollbackImmediate {
					got.immediate++
				}
			case s.State.Phase == canary.PhaseSucceeded:
				got.promoted++
			case s.State.Phase == canary.PhasePaused:
				got.paused++
			}
			if rps >= 200 {
				got.highRuns++
				if s.State.Phase == canary.PhaseSucceeded {
					got.highPromoted++
				}
			}
		}
		t.Logf("%s: %+v", c.name, got)
		switch c.errRate {
		case 0.001:
			if got.rolledBack > 0 {
				t.Errorf("%s: %d of %d rollouts rolled back, want none", c.name, got.rolledBack, got.runs)
			}
			if share := float64(got.highPromoted) / float64(got.highRuns); share < 0.99 {
				t.Errorf("%s: promoted in %.1f%% of rollouts at ≥ 200 req/s, want ≥ 99%%", c.name, 100*share)
			}
		case 0.2:
			if got.immediate != got.runs {
				t.Errorf("%s: %d of %d rolled back immediately, want all", c.name, got.immediate, got.runs)
			}
		case 0.06:
			if got.rolledBack != got.runs || got.promoted > 0 {
				t.Errorf("%s: %d of %d rolled back, %d promoted; want all rolled back", c.name, got.rolledBack, got.runs, got.promoted)
			}
		}
	}
}

// propertyPlan is the runbook's matrix with holds of 5m.
func propertyPlan() *canary.Plan {
	p := runbookPlan()
	for i := range p.Spec.Steps[:4] {
		p.Spec.Steps[i].Hold = canary.Duration(5 * time.Minute)
	}
	for i := range p.Spec.Rules {
		p.Spec.Rules[i].Window = 0
	}
	return p
}

// randomTraffic draws each window's counts once per (track, time).
type randomTraffic struct {
	rng          *rand.Rand
	rps, canaryE float64
	drawn        map[canary.Track]map[time.Time][2]int64
}

func poissonTraffic(rng *rand.Rand, rps, canaryErr float64) *randomTraffic {
	return &randomTraffic{rng: rng, rps: rps, canaryE: canaryErr,
		drawn: map[canary.Track]map[time.Time][2]int64{canary.TrackCanary: {}, canary.TrackStable: {}}}
}

func (r *randomTraffic) measure(s *sim, q canary.Query) canary.Observation {
	share, e := float64(s.State.Weight)/100, r.canaryE
	if q.Track == canary.TrackStable {
		share, e = 1-share, 0.001
	}
	d, ok := r.drawn[q.Track][q.At]
	if !ok {
		n := poisson(r.rng, r.rps*share*q.Window.Seconds())
		d = [2]int64{n, binomialDraw(r.rng, n, e)}
		r.drawn[q.Track][q.At] = d
	}
	m := canary.Measurement{Samples: d[0], NoData: d[0] == 0}
	switch {
	case d[0] == 0:
	case q.Metric == canary.MetricErrorRate:
		m.Value = float64(d[1]) / float64(d[0])
	default:
		m.Value = 0.2
		m.Latency = []canary.LatencyBucket{{UpperBound: 0.1, Count: d[0] / 2}, {UpperBound: 0.3, Count: d[0] - d[0]/2}}
	}
	return canary.Observation{Query: q, Measurement: m}
}

func poisson(rng *rand.Rand, mean float64) int64 {
	if mean > 50 {
		return max(0, int64(math.Round(mean+math.Sqrt(mean)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), int64(0), 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func binomialDraw(rng *rand.Rand, n int64, p float64) int64 {
	if mean := float64(n) * p; mean > 50 && float64(n)*(1-p) > 50 {
		return min(n, max(0, int64(math.Round(mean+math.Sqrt(mean*(1-p))*rng.NormFloat64()))))
	}
	if float64(n)*p < 30 {
		return min(n, poisson(rng, float64(n)*p)) // rare errors: Poisson
	}
	return binomial(rng, n, p)
}
