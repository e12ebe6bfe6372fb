package engine

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/analysis"
)

// The arithmetic `canary validate --expected-rps` reports for threshold
// rules, from the engine's own rules (proportionVerdict, pool, for):
// whether a window holds enough requests to decide, and the proportion
// (error ratio, share of slow requests, service error ratio) at which a
// rule fires within a step's hold with a given probability.

// ThresholdAdvice is what one threshold rule decides at one step.
type ThresholdAdvice struct {
	// Proportion says whether the rule is judged as a proportion (with
	// confidence); false for judge: point, requestRate and below rules.
	Proportion bool
	// Threshold is the rule's threshold as a proportion.
	Threshold float64
	// Requests is the requests of one window (the canary's; for a burn
	// rule the service's), and Canary the canary's among them.
	Requests, Canary float64
	// Pooled is how many windows an evaluation pools to reach
	// minRequests canary requests (1: none; at most poolWindows), and
	// Enough whether that reaches minRequests.
	Pooled int
	Enough bool
	// Breaches is how many breaching evaluations in a row fire the rule:
	// for / interval + 1.
	Breaches int
	// Fires is the proportion at which the rule fires within the hold
	// with the probability asked for; +Inf when no proportion does.
	Fires float64
	// Confidence the rule is judged with.
	Confidence float64
}

// AdviseThreshold computes rule r's advice at a step whose canary gets
// canaryRPS of the service's serviceRPS requests a second, over hold,
// firing with probability prob (e.g. 0.8). The stable's error ratio of a
// burn rule is taken as 1 − objective (vs: stable or baseline: measured
// over the stable's share of the requests, or one window of the service
// before traffic moved, with its own bound). Windows are judged as independent
// (pooled windows overlap, so at low traffic this is an approximation).
func AdviseThreshold(p *canary.Plan, r canary.Rule, canaryRPS, serviceRPS float64, hold time.Duration, prob float64) ThresholdAdvice {
	m := &machine{p: p}
	a := ThresholdAdvice{Pooled: 1, Fires: math.Inf(1)}
	q, op := r.Threshold()
	w := m.window(r).Seconds()
	a.Breaches = int(m.forDuration(r)/m.interval()) + 1
	a.Canary, a.Requests = canaryRPS*w, canaryRPS*w
	switch quant, lat := r.Metric.Quantile(); {
	case op != "above" || r.Judge == canary.JudgePoint || r.Compare != "":
		return a
	case r.Metric == canary.MetricErrorRate:
		a.Threshold = q.Value
	case r.Metric == canary.MetricBurnRate:
		a.Threshold = q.Value * m.objectiveBudget()
		a.Requests = serviceRPS * w
	case lat:
		a.Threshold = 1 - quant
	default:
		return a
	}
	a.Proportion = a.Threshold > 0 && a.Threshold < 1
	need := float64(m.minRequests())
	for a.Canary*float64(a.Pooled) < need && a.Pooled < poolWindows {
		a.Pooled++
	}
	a.Enough = a.Canary*float64(a.Pooled) >= need && a.Canary > 0
	if !a.Proportion {
		return a
	}
	evals := int(hold / m.interval())
	a.Confidence = m.thresholdConfidence(r)
	crit := m.adviceCrit(r, a, serviceRPS-canaryRPS)
	a.Fires = fireRate(a, crit, r.Metric == canary.MetricBurnRate, evals, prob)
	return a
}

// adviceCrit is, for j = 1..poolWindows pooled windows, the fewest hits
// that breach: against the threshold at the rule's confidence, or for a
// burn rule vs: stable or baseline, against the multiple of the base's
// upper bound at half the error rate each (relative.go), the stable (or
// the baseline, one window before traffic moved) failing 1 − objective of
// its stableRPS requests a second.
func (m *machine) adviceCrit(r canary.Rule, a ThresholdAdvice, stableRPS float64) []int64 {
	nw := int64(math.Round(a.Requests))
	rel := m.relativeFor(r)
	w := m.window(r).Seconds()
	budget := m.objectiveBudget()
	crit := make([]int64, poolWindows+1)
	for j := 1; j <= poolWindows; j++ {
		p := proportion{p0: a.Threshold, conf: a.Confidence, rel: rel}
		if rel != nil {
			ns := stableRPS * w * float64(j)
			if r.Vs == "baseline" {
				ns = (stableRPS + a.Canary/w) * w // the baseline: one window of the whole service
				rel.baseline = true
				rel.n, rel.k = int64(math.Round(ns)), int64(math.Round(ns*budget))
			}
			p.stable, p.stableHits = int64(math.Round(ns)), int64(math.Round(ns*budget))
		}
		b := p.bounds()
		crit[j] = breachCount(nw*int64(j), b.breach, b.conf)
	}
	return crit
}

// fireRate is the proportion at which a rule with advice a fires within
// evals evaluations with probability prob. It replays the engine's
// judging (pool, proportionVerdict, the streak's advance) on simulated
// binomial windows: adviceRuns runs with common random numbers, so the
// share of runs that fire grows with the proportion and bisection finds
// it.
func fireRate(a ThresholdAdvice, crit []int64, burn bool, evals int, prob float64) float64 {
	nw := int64(math.Round(a.Requests))
	if nw <= 0 || (burn && !a.Enough) || evals < a.Breaches {
		return math.Inf(1)
	}
	rng := rand.New(rand.NewPCG(15, 80))
	u := make([][]float64, adviceRuns)
	for i := range u {
		u[i] = make([]float64, evals)
		for j := range u[i] {
			u[i][j] = rng.Float64()
		}
	}
	r := replay{a: a, nw: nw, crit: crit, burn: burn}
	fires := func(rate float64) float64 {
		n := 0
		for _, us := range u {
			if r.fires(us, rate) {
				n++
			}
		}
		return float64(n) / adviceRuns
	}
	lo, hi := a.Threshold, 1.0
	if fires(hi) < prob {
		return math.Inf(1)
	}
	for range 30 {
		mid := (lo + hi) / 2
		if fires(mid) >= prob {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// adviceRuns is how many simulated steps fireRate replays per rate.
const adviceRuns = 400

// replay is the engine's judging of one rule on counts alone.
type replay struct {
	a    ThresholdAdvice
	nw   int64   // requests per window
	crit []int64 // crit[j]: the fewest hits that breach over j windows
	burn bool
}

// fires replays one step whose windows' hits are the binomial quantiles
// us at rate, and reports whether the rule fired.
func (r replay) fires(us []float64, rate float64) bool {
	hits := make([]int64, 0, len(us))
	streak, streakAt := 0, -1
	for i, u := range us {
		hits = append(hits, binomialQuantile(r.nw, rate, u))
		var k int64
		breach, pass := false, false
		j := 1
		for ; ; j++ {
			k += hits[i-j+1]
			n := r.nw * int64(j)
			enough := r.a.Enough && j >= r.a.Pooled
			breach = (!r.burn || enough) && k >= r.crit[j]
			pass = enough && float64(k) <= r.a.Threshold*float64(n)
			if breach || pass || j == poolWindows || j == i+1 {
				break
			}
		}
		switch {
		case pass:
			streak, streakAt = 0, -1
		case breach:
			var fk, fn int64
			for w := i - j + 1; w <= i; w++ {
				if w > streakAt {
					fk, fn = fk+hits[w], fn+r.nw
				}
			}
			if fn > 0 && float64(fk) > r.a.Threshold*float64(fn) {
				streak, streakAt = streak+1, i
				if streak >= r.a.Breaches {
					return true
				}
			}
		}
	}
	return false
}

// binomialQuantile is the smallest k with P(X ≤ k) ≥ u for X ~
// Binomial(n, p): inversion, so it grows with p for a fixed u.
func binomialQuantile(n int64, p, u float64) int64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if p > 0.5 {
		return n - binomialQuantile(n, 1-p, math.Nextafter(1-u, 0))
	}
	if mean := float64(n) * p; mean > 500 && float64(n)*(1-p) > 500 {
		// normal approximation, far from the edges
		k := math.Round(mean + math.Sqrt(mean*(1-p))*math.Sqrt2*math.Erfinv(2*u-1))
		return int64(math.Min(math.Max(k, 0), float64(n)))
	}
	lq := math.Log1p(-p)
	pmf := math.Exp(float64(n) * lq) // P(X = 0); p ≤ 0.5 and a mean ≤ 500 keep it above 0
	cdf := pmf
	k := int64(0)
	for cdf < u && k < n {
		pmf *= float64(n-k) / float64(k+1) * p / (1 - p)
		k++
		cdf += pmf
	}
	return k
}

// breachCount is the fewest hits among n that breach threshold p0 at
// conf (n+1 when none do): the evidence grows with the hits.
func breachCount(n int64, p0, conf float64) int64 {
	lo, hi := int64(0), n+1
	for lo < hi {
		mid := (lo + hi) / 2
		if analysis.ProportionAbove(mid, n, p0, conf) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// PointAdvice is what a rule judged by point needs of one window.
type PointAdvice struct {
	// Requests is the canary's requests in one window.
	Requests float64
	// MinRequests is the plan's minRequests: fewer in a window and the
	// rule does not judge it.
	MinRequests int64
	// Need is what a window should hold: MinRequests, or for a latency
	// quantile the requests that put analysis.TailRequests beyond it when
	// that is more.
	Need int64
	// Fires is, for an errorRate above rule, the error ratio whose windows
	// breach it with probability analysis.Power; 0 for other rules.
	Fires float64
}

// AdvisePoint computes what rule r, judged by point, needs at a step whose
// canary gets canaryRPS requests a second.
func AdvisePoint(p *canary.Plan, r canary.Rule, canaryRPS float64) PointAdvice {
	m := &machine{p: p}
	a := PointAdvice{Requests: canaryRPS * m.window(r).Seconds(), MinRequests: m.minRequests()}
	a.Need = a.MinRequests
	if q, latency := r.Metric.Quantile(); latency {
		a.Need = max(a.Need, analysis.QuantileRequests(q))
	}
	if q, op := r.Threshold(); r.Metric == canary.MetricErrorRate && op == "above" {
		a.Fires = analysis.RateExceeding(q.Value, a.Requests)
	}
	return a
}
