package engine

import (
	"fmt"
	"math"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/analysis"
)

// A burn rule vs: stable or vs: baseline judges the service's error ratio
// against a multiple of another error ratio that is itself measured: the
// stable's over the same windows, or the baseline's before traffic moved.
// Taking that measurement as known would let a stable window that
// happened to see few errors lower the threshold, and a canary like the
// stable breach on that luck. So the bound accounts for both: at
// confidence 1 − α the rule
//
//   - breaches only when the service's lower bound is above k × the base's
//     upper bound, each bound taken at 1 − α/2;
//   - passes with pass: evidence only when the service's upper bound is at
//     or below k × the base's lower bound, each at 1 − α/2.
//
// Both bounds are the always-valid confidence sequences of
// analysis.ProportionLower/Upper, so by the union bound the chance that
// either is wrong at any look is at most α/2 + α/2 = α, however the two
// ratios relate (the service's requests include the stable's). The base
// is floored as before (vs: stable at the error budget itself, vs:
// baseline at a tenth of it). The pass on the estimate compares the point
// estimates, as before.

// relative is what a burn rule's threshold multiplies.
type relative struct {
	mult     float64 // the rule's multiple k
	floor    float64 // the lowest base error ratio counted
	baseline bool    // the base is the baseline (k, n below); else the pooled stable counts
	k, n     int64   // the baseline's failed and total requests (n 0: taken as known)
	name     string  // "stable" or "baseline", for reasons
}

// relativeFor is rule r's relative threshold, or nil when the rule is not
// a burn rule vs: stable or vs: baseline.
func (m *machine) relativeFor(r canary.Rule) *relative {
	if r.Metric != canary.MetricBurnRate || (r.Vs != "stable" && r.Vs != "baseline") {
		return nil
	}
	q, _ := r.Threshold()
	budget := m.objectiveBudget()
	rel := &relative{mult: q.Value, floor: minStableBurn * budget, name: "stable"}
	if r.Vs == "baseline" {
		rel.floor = minBaselineBurn * budget
		if b := m.st.BaselineBurn; b != nil {
			rel.baseline, rel.name = true, "baseline"
			rel.n = m.st.BaselineRequests
			rel.k = int64(math.Round(*b * budget * float64(rel.n)))
		}
	}
	return rel
}

// ruleBounds are the thresholds a proportion's bounds are compared with.
type ruleBounds struct {
	breach, pass float64 // a breach's lower bound must be above breach; pass: evidence's upper bound at or below pass
	conf         float64 // the confidence each bound is taken at
	why          string  // how a relative threshold was set, for reasons ("" otherwise)
}

// bounds returns p's thresholds: its p0 at its confidence, or for a
// relative rule whose base was measured, the multiple of the base's
// bounds at half the error rate each.
func (p proportion) bounds() ruleBounds {
	b := ruleBounds{breach: p.p0, pass: p.p0, conf: p.conf}
	if p.rel == nil {
		return b
	}
	k, n := p.stableHits, p.stable
	if p.rel.baseline {
		k, n = p.rel.k, p.rel.n
	}
	if n <= 0 {
		return b // no stable traffic (the floor), or a baseline from an older state (taken as known)
	}
	b.conf = 1 - (1-p.conf)/2
	ub, lb := analysis.ProportionUpper(k, n, b.conf), analysis.ProportionLower(k, n, b.conf)
	b.breach = p.rel.mult * math.Max(ub, p.rel.floor)
	b.pass = p.rel.mult * math.Max(lb, p.rel.floor)
	b.why = fmt.Sprintf("; threshold %s × the %s's error ratio (%s of %s failed: %s upper bound %s, lower %s, floor %s)",
		canary.FormatValue(canary.KindMultiplier, p.rel.mult), p.rel.name, count(k), count(n),
		canary.FormatPercent(b.conf), canary.FormatPercent(ub), canary.FormatPercent(lb), canary.FormatPercent(p.rel.floor))
	return b
}
