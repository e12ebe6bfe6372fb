package engine_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/proxy"
)

// recorderTraffic feeds the built-in proxy's real Recorder, second by
// second of the simulated clock, with the requests each track serves at
// the confirmed weight (lognormal latencies, σ 0.5), and answers the
// engine's queries from it: the metric source of canary run with the
// built-in proxy, on a stepped clock.
type recorderTraffic struct {
	rec       *proxy.Recorder
	rng       *rand.Rand
	fed       time.Time
	carry     [2]float64
	median    func(s *sim, tr canary.Track) time.Duration
	quantiles bool // drop Measurement.Latency: a source without distributions
}

func newRecorderTraffic(t *testing.T, median func(*sim, canary.Track) time.Duration, quantiles bool) *recorderTraffic {
	t.Helper()
	rec, err := proxy.NewRecorder(proxy.RecorderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return &recorderTraffic{rec: rec, rng: rand.New(rand.NewPCG(1, 2)), fed: t0, median: median, quantiles: quantiles}
}

// feed records the traffic of every second up to s.Now.
func (rt *recorderTraffic) feed(s *sim) {
	for ; rt.fed.Before(s.Now); rt.fed = rt.fed.Add(time.Second) {
		at := rt.fed.Add(500 * time.Millisecond)
		for i, tr := range []canary.Track{canary.TrackStable, canary.TrackCanary} {
			share := float64(s.State.Weight) / 100
			if tr == canary.TrackStable {
				share = 1 - share
			}
			rt.carry[i] += s.rps * share
			n := int(rt.carry[i])
			rt.carry[i] -= float64(n)
			med := float64(rt.median(s, tr))
			for range n {
				rt.rec.Record(tr, 200, time.Duration(med*math.Exp(0.5*rt.rng.NormFloat64())), at)
			}
		}
	}
}

func (rt *recorderTraffic) measure(s *sim, q canary.Query) canary.Observation {
	rt.feed(s)
	m, err := rt.rec.Measure(context.Background(), q)
	o := canary.Observation{Query: q, Measurement: m}
	if err != nil {
		o.Err = err.Error()
	}
	if rt.quantiles {
		o.Measurement.Latency = nil
	}
	return o
}

// slowerFrom makes the canary's latencies factor times the stable's
// (median 200ms) from from into step index step on.
func slowerFrom(step int, from time.Duration, factor float64) func(*sim, canary.Track) time.Duration {
	return func(s *sim, tr canary.Track) time.Duration {
		if tr == canary.TrackCanary && (s.State.Step > step || (s.State.Step == step && s.StepElapsed() >= from)) {
			return time.Duration(factor * float64(200*time.Millisecond))
		}
		return 200 * time.Millisecond
	}
}

const latencyBaseline5m = "{metric: latencyP95, compare: baseline, worseBy: 20%, window: 5m, for: 1m, action: rollback-gradual}"

// TestRecorderDistributionsDetect: the built-in recorder gives latency
// distributions, so a latency rule with compare: baseline tests the
// per-interval Hodges-Lehmann shifts of every request (the interval is
// the unit of independence) instead of pairing per-interval P95s. A
// canary 50% slower from 5m into the 5% step is rolled back in no more
// evaluations than the same recorder stripped of its distributions needs
// (both need the intervals the signed-rank test needs at 99%), plus the
// six a window straddling the fault costs the shifts' test: the jump
// reads as autocorrelation, which inflates its variance until the
// window holds mostly slow intervals (docs/statistics.md).
func TestRecorderDistributionsDetect(t *testing.T) {
	const from = 5 * minute
	evals := map[bool]int{}
	for _, quantiles := range []bool{false, true} {
		rt := newRecorderTraffic(t, slowerFrom(0, from, 1.5), quantiles)
		s := newSim(t, withRules(t, latencyBaseline5m))
		s.measure = rt.measure
		s.run(3 * time.Hour)
		rb := s.first(canary.EvRollbackStarted)
		if rb.Type == "" || !strings.HasPrefix(rb.Rule, "latencyP95 worse than baseline") {
			t.Fatalf("quantiles only %v: no latency rollback\n%s", quantiles, s.timeline())
		}
		faultAt := s.stepStartAt[0].Add(from)
		var first canary.Evaluation
		n := 0
		for _, e := range s.Events {
			if e.Type == canary.EvEvaluated && e.Time.After(faultAt) && !e.Time.After(rb.Time) {
				if n == 0 {
					first = e.Evaluations[0]
				}
				n++
			}
		}
		want := "interval shifts"
		if quantiles {
			want = "intervals"
		}
		if c := rb.Evaluations[0].Comparison; c == nil || c.Data != want {
			t.Errorf("quantiles only %v: rollback on %+v, want a comparison of %s", quantiles, c, want)
		}
		t.Logf("quantiles only %v: rolled back %v after the fault, %d evaluations; first after it: %s %v",
			quantiles, rb.Time.Sub(faultAt), n, first.Verdict, first.Comparison)
		evals[quantiles] = n
	}
	if evals[false] > evals[true]+6 {
		t.Errorf("%d evaluations to roll back with distributions, %d with quantiles only: want at most 6 more with distributions", evals[false], evals[true])
	}
}

// TestRecorderEqualDistributionsPromote: a canary exactly like the
// stable, measured by the recorder with distributions, is promoted
// through every step with no rollback and no pending rule, each
// latency verdict from the distributions; and the distributions stay
// out of the events (they are inputs, not persisted): the largest
// evaluation event stays small.
func TestRecorderEqualDistributionsPromote(t *testing.T) {
	rt := newRecorderTraffic(t, slowerFrom(0, 0, 1), false)
	s := newSim(t, withRules(t, latencyBaseline5m))
	s.measure = rt.measure
	s.run(5 * time.Hour)
	if s.State.Phase != canary.PhaseSucceeded || s.has(canary.EvRollbackStarted) || s.has(canary.EvRulePending) {
		t.Fatalf("phase %s; want promoted without a rollback or pending rule\n%s", s.State.Phase, s.timeline())
	}
	largest, judged := 0, 0
	for _, e := range s.Events {
		if e.Type != canary.EvEvaluated {
			continue
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(b))
		if strings.Contains(string(b), `"le"`) {
			t.Fatalf("an evaluation event carries latency buckets: %s", b)
		}
		if c := e.Evaluations[0].Comparison; c != nil {
			judged++
			if c.Data != "interval shifts" || c.Test != "interval-shifts" {
				t.Errorf("at %v: comparison %+v, want the test of interval shifts", e.Time.Sub(t0), c)
			}
		}
	}
	st, _ := json.Marshal(s.State)
	t.Logf("%d judged evaluations; largest evaluation event %d bytes of JSON, state %d bytes", judged, largest, len(st))
	if judged == 0 {
		t.Fatal("no latency comparison was made")
	}
	if largest > 2048 || len(st) > 4096 {
		t.Errorf("largest evaluation event %d bytes, state %d bytes: want at most 2 KiB and 4 KiB", largest, len(st))
	}
}
