package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/analysis"
	"github.com/canary-dev/canary/engine"
)

// TestAdviceAgreesWithEngine: the rate AdviseThreshold says fires a rule
// within the hold 4 times in 5 does so when the engine judges binomial
// traffic at that rate (validate's advice is the engine's arithmetic).
func TestAdviceAgreesWithEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("600 simulated steps: the non-race pass runs it")
	}
	tests := []struct {
		name      string
		rps       float64 // the canary's requests a second
		threshold string
		forDur    time.Duration
	}{
		{"errorRate > 1% for 5s at 40 req/s", 40, "1%", 5 * time.Second},
		{"errorRate > 5% for 1s at 100 req/s", 100, "5%", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := localPlan()
			th, err := canary.ParseQuantity(tt.threshold)
			if err != nil {
				t.Fatal(err)
			}
			p.Spec.Rules = []canary.Rule{{Metric: canary.MetricErrorRate, Above: th, For: canary.Duration(tt.forDur),
				Action: canary.ActionRollbackImmediate, Urgency: canary.UrgencyHigh}}
			p.Spec.Steps = []canary.Step{{Weight: 50, Hold: canary.Duration(30 * time.Second)}, {Weight: 100}}
			hold := p.Spec.Steps[0].Hold.D()
			a := engine.AdviseThreshold(p, p.Spec.Rules[0], tt.rps, 2*tt.rps, hold, 0.8)
			if math.IsInf(a.Fires, 1) || a.Fires <= th.Value {
				t.Fatalf("advice %+v: want a rate above the threshold", a)
			}
			const runs = 300
			fired := 0
			rng := rand.New(rand.NewPCG(uint64(tt.rps), 15))
			for range runs {
				s := newSim(t, p)
				draws := map[time.Time]int64{}
				s.measure = func(s *sim, q canary.Query) canary.Observation {
					n := int64(tt.rps * q.Window.Seconds())
					if q.Track == canary.TrackStable {
						return canary.Observation{Query: q, Measurement: canary.Measurement{Samples: n}}
					}
					k, ok := draws[q.At]
					if !ok {
						k = binomial(rng, n, a.Fires)
						draws[q.At] = k
					}
					return canary.Observation{Query: q, Measurement: canary.Measurement{Samples: n, Value: float64(k) / float64(n)}}
				}
				s.run(hold)
				if s.has(canary.EvRuleFiring) {
					fired++
				}
			}
			share := float64(fired) / runs
			t.Logf("advice: %s fires within %s 4 times in 5; the engine fired in %d of %d runs", canary.FormatPercent(a.Fires), hold, fired, runs)
			// 80% ± 4 standard deviations of 300 runs (±9%).
			if share < 0.71 || share > 0.89 {
				t.Errorf("the engine fired in %.0f%% of runs at the advised rate %s, want 80%% (± noise)", 100*share, fmt.Sprint(a.Fires))
			}
		})
	}
}

func binomial(rng *rand.Rand, n int64, p float64) int64 {
	var k int64
	for range n {
		if rng.Float64() < p {
			k++
		}
	}
	return k
}

// TestAdvisePoint: a rule judged by point needs minRequests a window (a
// p99 rule the 500 requests that put 5 beyond its quantile), and an
// errorRate rule is crossed 4 times in 5 from the rate analysis says.
func TestAdvisePoint(t *testing.T) {
	p := localPlan()
	pct := func(s string) canary.Quantity {
		q, err := canary.ParseQuantity(s)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	win := canary.Duration(10 * time.Second)
	errRule := canary.Rule{Metric: canary.MetricErrorRate, Above: pct("2%"), Window: win, Judge: canary.JudgePoint}
	p99 := canary.Rule{Metric: canary.Metric("latencyP99"), Above: canary.Quantity{Value: 0.5, Text: "500ms"}, Window: win, Judge: canary.JudgePoint}
	a := engine.AdvisePoint(p, errRule, 30)
	if a.Requests != 300 || a.MinRequests != 20 || a.Need != 20 {
		t.Errorf("errorRate at 30 req/s over 10s: requests %v, minRequests %d, need %d; want 300, 20, 20", a.Requests, a.MinRequests, a.Need)
	}
	if want := analysis.RateExceeding(0.02, 300); a.Fires != want || a.Fires <= 0.02 {
		t.Errorf("errorRate fires at %v, want analysis.RateExceeding(2%%, 300) = %v, above the threshold", a.Fires, want)
	}
	b := engine.AdvisePoint(p, p99, 30)
	if b.Need != 500 || b.Fires != 0 {
		t.Errorf("p99: need %d, fires %v; want 500 and 0 (no rate for a latency rule)", b.Need, b.Fires)
	}
}
