package engine_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
)

// withRules is the runbook plan with its rules replaced by rules, written
// in plan YAML flow style and defaulted as Parse would.
func withRules(t *testing.T, rules ...string) *canary.Plan {
	t.Helper()
	return planOf(t, "recoveryos-elite", "v1.0.0-elite",
		"[{weight: 5, hold: 30m}, {weight: 10, hold: 30m}, {weight: 25, hold: 30m}, {weight: 50, hold: 30m}, {weight: 100}]",
		"{interval: 30s, minRequests: 100}\n  slo: {objective: 99.9%}", rules...)
}

// planOf parses a plan on the built-in proxy with the given name,
// version, steps and analysis (flow style; more spec lines may follow it)
// and rules, defaulted as Parse does.
func planOf(t *testing.T, name, version, steps, analysis string, rules ...string) *canary.Plan {
	t.Helper()
	src := `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: ` + name + `}
spec:
  version: ` + version + `
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: ` + steps + `
  analysis: ` + analysis + `
  rules:
`
	for _, r := range rules {
		src += "    - " + r + "\n"
	}
	p, err := plan.Parse("plan.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	errorBaseline   = "{metric: errorRate, compare: baseline, worseBy: 0.5pp, confidence: 99%, for: 1m, action: rollback-immediate}"
	latencyBaseline = "{metric: latencyP95, compare: baseline, worseBy: 20%, confidence: 99%, for: 1m, action: rollback-gradual}"
	burnVsStable    = "{metric: burnRate, above: 2x, vs: stable, for: 10m, action: rollback-gradual}"
)

// both returns a scenario where the stable serves stable and the canary
// canary from stepElapsed >= from in step index step (healthy before).
func both(step int, from time.Duration, stable, canaryM trackMetrics) func(*sim, canary.Track) trackMetrics {
	return func(s *sim, tr canary.Track) trackMetrics {
		if s.State.Step < step || (s.State.Step == step && s.StepElapsed() < from) {
			return healthy
		}
		if tr == canary.TrackCanary {
			return canaryM
		}
		return stable
	}
}

func TestBaselineErrorRateRollsBack(t *testing.T) {
	s := newSim(t, withRules(t, errorBaseline, latencyBaseline))
	s.metrics = fault(0, 12*minute, trackMetrics{450 * time.Millisecond, 0.015})
	s.run(5 * time.Hour)
	rb := s.first(canary.EvRollbackStarted)
	if !strings.HasPrefix(rb.Rule, "errorRate worse than baseline by 0.5pp") {
		t.Fatalf("rollback by %q, want the errorRate baseline rule\n%s", rb.Rule, s.timeline())
	}
	// 1.5% against 0.1% at 10 canary requests/s: a few minutes of
	// evidence, then the rule's for of 1m.
	at := rb.Time.Sub(s.stepStartAt[0]) - 12*minute
	if at < 2*minute || at > 8*minute {
		t.Errorf("rolled back %v after the fault began, want 2m to 8m\n%s", at, s.timeline())
	}
	var ev canary.Evaluation
	for _, e := range rb.Evaluations {
		if e.Rule == rb.Rule {
			ev = e
		}
	}
	c := ev.Comparison
	if c == nil || c.Test != "msprt" || c.Data != "requests" || c.Lower == nil || c.Upper == nil {
		t.Fatalf("comparison %+v, want an msprt on requests with both bounds", c)
	}
	if !(*c.Lower > 0.005 && c.Estimate > *c.Lower && *c.Upper > c.Estimate) || c.P > 0.01 || c.CanaryN != ev.Samples || c.StableN < 10*c.CanaryN {
		t.Errorf("comparison %+v (samples %d), want lower > 0.5pp < estimate < upper, p ≤ 1%%, stable n ≫ canary n", c, ev.Samples)
	}
	if ev.Stable == nil || math.Abs(*ev.Stable-0.001) > 0.0005 || math.Abs(ev.Threshold-(*ev.Stable+0.005)) > 1e-12 {
		t.Errorf("stable %v threshold %v, want the stable's 0.1%% and threshold stable + 0.5pp", ev.Stable, ev.Threshold)
	}
}

func TestBaselineLatencyRollsBack(t *testing.T) {
	s := newSim(t, withRules(t, errorBaseline, latencyBaseline))
	s.metrics = fault(1, 5*minute, trackMetrics{650 * time.Millisecond, 0.001})
	s.run(5 * time.Hour)
	rb := s.first(canary.EvRollbackStarted)
	if !strings.HasPrefix(rb.Rule, "latencyP95 worse than baseline by 20%") {
		t.Fatalf("rollback by %q, want the latency baseline rule\n%s", rb.Rule, s.timeline())
	}
	at := rb.Time.Sub(s.stepStartAt[1]) - 5*minute
	if at > 6*minute {
		t.Errorf("rolled back %v after the fault began, want within 6m\n%s", at, s.timeline())
	}
	for _, e := range rb.Evaluations {
		if e.Rule == rb.Rule {
			if c := e.Comparison; c == nil || c.Data != "intervals" || !c.Relative || c.Lower == nil || *c.Lower <= 0.2 {
				t.Errorf("comparison %+v, want per-interval values, relative, lower bound above 20%%", c)
			}
		}
	}
}

// TestStableDegradingWithCanaryNoRollback: when a shared dependency slows
// and fails both tracks alike, baseline rules (and burn vs stable) see no
// difference and the canary is promoted, while the runbook's absolute
// thresholds roll it back for something it did not cause.
func TestStableDegradingWithCanaryNoRollback(t *testing.T) {
	bad := trackMetrics{900 * time.Millisecond, 0.03}
	s := newSim(t, withRules(t, errorBaseline, latencyBaseline, burnVsStable))
	s.metrics = both(1, 10*minute, bad, bad)
	s.run(5 * time.Hour)
	if s.has(canary.EvRollbackStarted) || s.State.Phase != canary.PhaseSucceeded {
		t.Errorf("phase %s; want no rollback and promotion\n%s", s.State.Phase, s.timeline())
	}
	abs := newSim(t, runbookPlan())
	abs.metrics = both(1, 10*minute, bad, bad)
	abs.run(5 * time.Hour)
	if !abs.has(canary.EvRollbackStarted) {
		t.Errorf("the runbook's absolute rules did not roll back: the scenario does not test anything\n%s", abs.timeline())
	}
}

// TestBaselineHealthyPromotes: a healthy canary passes baseline rules on
// evidence; holds are extended only while the comparisons are still
// inconclusive at the start of each step.
func TestBaselineHealthyPromotes(t *testing.T) {
	s := newSim(t, withRules(t, errorBaseline, latencyBaseline, burnVsStable))
	s.run(5 * time.Hour)
	if s.State.Phase != canary.PhaseSucceeded || s.has(canary.EvRulePending) {
		t.Fatalf("phase %s; want promoted without a pending rule\n%s", s.State.Phase, s.timeline())
	}
	if took := s.first(canary.EvPromoting).Time.Sub(t0); took > 2*time.Hour+20*minute {
		t.Errorf("promotion began after %v, want within 20m of the holds' 2h", took)
	}
}

// TestBaselineInsufficientAtLowTraffic: at 2 requests/s the 5% canary gets
// too few requests for the comparison to clear it, so the hold does not
// complete on a pass it cannot give.
func TestBaselineInsufficientAtLowTraffic(t *testing.T) {
	s := newSim(t, withRules(t, errorBaseline))
	s.rps = 2
	s.run(2 * time.Hour)
	if s.State.Phase == canary.PhaseSucceeded || s.State.Step != 0 {
		t.Fatalf("phase %s step %d; want the first step held for lack of evidence\n%s", s.State.Phase, s.State.Step, s.timeline())
	}
	if s.State.Rules[0].Verdict != canary.VerdictInsufficient {
		t.Errorf("verdict %s, want insufficient", s.State.Rules[0].Verdict)
	}
}

// TestBaselineErrorTests: the sequential error tests belong to a step:
// one from its start and new ones every sixth of its hold.
func TestBaselineErrorTests(t *testing.T) {
	s := newSim(t, withRules(t, errorBaseline))
	s.run(42 * minute)
	b := s.State.Rules[0].Baseline
	if s.State.Step != 1 || b == nil || len(b.Counts) == 0 {
		t.Fatalf("step %d evidence %+v, want step 2's", s.State.Step, b)
	}
	elapsed := s.Now.Sub(s.State.StepStartedAt)
	if want := int(elapsed/(5*minute)) + 1; len(b.Counts) != want {
		t.Errorf("%d tests %v into step 2, want %d", len(b.Counts), elapsed, want)
	}
	if !b.Counts[0].Since.Equal(s.State.StepStartedAt) {
		t.Errorf("first test since %v, want the step's start %v", b.Counts[0].Since.Sub(t0), s.State.StepStartedAt.Sub(t0))
	}
	if max := float64(int64(s.rps*0.1*elapsed.Seconds()) + 1); b.Counts[0].CanaryRequests > max || b.Counts[0].CanaryRequests == 0 {
		t.Errorf("%.0f canary requests counted %v into step 2, want at most %.0f (this step's)", b.Counts[0].CanaryRequests, elapsed, max)
	}
}

// TestBaselineLatencyHistograms: with per-request histograms from the
// source the comparison tests the per-interval shifts of every request:
// a 44% slower canary is rolled back once the signed-rank test has the
// nine intervals it needs at 99% (4m30s; seven without the floor under
// the autocorrelation estimate) and the rule's for: 1m.
func TestBaselineLatencyHistograms(t *testing.T) {
	s := newSim(t, withRules(t, "{metric: latencyP95, compare: baseline, worseBy: 20%, window: 1m, for: 1m, action: rollback-gradual}"))
	s.metrics = fault(0, 12*minute, trackMetrics{650 * time.Millisecond, 0.001})
	s.measure = func(s *sim, q canary.Query) canary.Observation {
		o := s.observeDefault(q)
		if _, ok := q.Metric.Quantile(); ok && !o.Measurement.NoData {
			o.Measurement.Latency = lognormalBuckets(o.Measurement.Samples, o.Measurement.Value)
		}
		return o
	}
	s.run(5 * time.Hour)
	rb := s.first(canary.EvRollbackStarted)
	if at := rb.Time.Sub(s.stepStartAt[0]) - 12*minute; at > 5*minute {
		t.Errorf("rolled back %v after the fault, want within 5m\n%s", at, s.timeline())
	}
	c := rb.Evaluations[0].Comparison
	if c == nil || c.Data != "interval shifts" || c.CanaryN < 7 {
		t.Errorf("comparison %+v, want one over at least 7 interval shifts", c)
	}
}

// lognormalBuckets spreads n requests with the given p95 over a lognormal
// of σ = 0.5 in 5% buckets, deterministically (expected counts).
func lognormalBuckets(n int64, p95 float64) []canary.LatencyBucket {
	sigma := 0.5
	mu := math.Log(p95) - 1.645*sigma
	var out []canary.LatencyBucket
	prev := 0.0
	for b := 0.001; b < 60; b *= 1.05 {
		cdf := 0.5 * math.Erfc(-(math.Log(b)-mu)/(sigma*math.Sqrt2))
		if c := int64(math.Round(float64(n) * (cdf - prev))); c > 0 {
			out = append(out, canary.LatencyBucket{UpperBound: b, Count: c})
		}
		prev = cdf
	}
	return out
}

// TestMultiWindowBurn: a burn rule with a short window fires only while
// both windows burn, and a burn that stopped no longer breaches although
// the long window still remembers it.
func TestMultiWindowBurn(t *testing.T) {
	p := withRules(t, "{metric: burnRate, above: 14.4x, window: 1h, shortWindow: 5m, for: 1m, action: pause}")
	s := newSim(t, p)
	// From 5m to 25m into the 50% step the canary fails 20% of requests:
	// the service burns (0.5·20% + 0.5·0.1%)/0.1% ≈ 100x.
	s.measure = func(s *sim, q canary.Query) canary.Observation {
		o := s.observeDefault(q)
		if q.Metric == canary.MetricErrorRate && q.Track == canary.TrackCanary && s.State.Step == 3 {
			el := s.StepElapsed()
			from, to := max(el-q.Window, 5*minute), min(el, 25*minute)
			frac := 0.0
			if to > from {
				frac = float64(to-from) / float64(q.Window)
			}
			o.Measurement.Value = 0.001 + frac*0.2
		}
		return o
	}
	s.run(5 * time.Hour)
	firing := s.first(canary.EvRuleFiring)
	// The 1h window passes 14.4x after about 8.6 minutes of a 100x burn.
	if at := firing.Time.Sub(s.stepStartAt[3]); at < 13*minute || at > 16*minute {
		t.Errorf("fired %v into the step, want 13m to 16m\n%s", at, s.timeline())
	}
	cleared := s.first(canary.EvRuleCleared)
	if at := cleared.Time.Sub(s.stepStartAt[3]); at < 25*minute || at > 31*minute {
		t.Errorf("cleared %v into the step, want within the short window after the burn stopped at 25m\n%s", at, s.timeline())
	}
	var ev canary.Evaluation
	for _, e := range s.Events {
		if e.Type == canary.EvEvaluated && e.Time.Equal(cleared.Time) {
			ev = e.Evaluations[0]
		}
	}
	if ev.ShortValue == nil || *ev.ShortValue >= 14.4 || ev.Value <= 14.4 || ev.ShortWindow != 5*minute {
		t.Errorf("at clearing: long %v short %v (%v), want the long window still above 14.4x and the short below", ev.Value, ev.ShortValue, ev.ShortWindow)
	}
}

// TestBurnVsBaselineUsesPreRolloutBurn documents the two burn baselines:
// vs: baseline divides by the burn recorded before the rollout, so a
// stable that degrades later counts against the canary; vs: stable
// divides by the stable's burn in the same window, so it does not. The
// service degrades to 1% errors, ten times the baseline's 0.1%: the
// baseline is 6 errors in one 30s window, whose own upper bound (0.28% at
// 97.5%) the threshold multiplies (relative.go), so 5x (0.5%) would not be
// evidence of more than 2x.
func TestBurnVsBaselineUsesPreRolloutBurn(t *testing.T) {
	bad := trackMetrics{450 * time.Millisecond, 0.01}
	for _, tt := range []struct {
		vs       string
		rollback bool
	}{{"baseline", true}, {"stable", false}} {
		t.Run(tt.vs, func(t *testing.T) {
			s := newSim(t, withRules(t, "{metric: burnRate, above: 2x, vs: "+tt.vs+", for: 10m, action: rollback-gradual}"))
			s.metrics = both(1, 0, bad, bad)
			s.run(5 * time.Hour)
			if got := s.has(canary.EvRollbackStarted); got != tt.rollback {
				t.Errorf("rollback = %v, want %v\n%s", got, tt.rollback, s.timeline())
			}
		})
	}
}

// TestBaselineEventsAreJSON: every evaluation of baseline rules, whatever
// the data, encodes as JSON (no NaN or infinite bound reaches an event).
func TestBaselineEventsAreJSON(t *testing.T) {
	for _, rps := range []float64{0.5, 5, 200} {
		s := newSim(t, withRules(t, errorBaseline, latencyBaseline, burnVsStable))
		s.rps = rps
		s.metrics = fault(0, 5*minute, trackMetrics{650 * time.Millisecond, 0.02})
		s.run(3 * time.Hour)
		for _, e := range s.Events {
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("rps %v: event %q: %v", rps, e.Message, err)
			}
		}
		if _, err := json.Marshal(s.State); err != nil {
			t.Fatalf("rps %v: state: %v", rps, err)
		}
	}
}
