package analysis

import (
	"math"

	"gonum.org/v1/gonum/mathext"
)

// One binomial proportion, judged against a fixed threshold with an always
// valid test: the engine's threshold rules (errorRate > 1%: the share of
// the canary's requests that failed; latencyP95 > 600ms: the share slower
// than 600ms, against 5%; burnRate > 2x: the share of the service's
// requests that failed, against 2 × (1 − objective)).
//
// The test of "p ≤ p0" is a mixture likelihood ratio, a martingale under
// p = p0 and a supermartingale under any p < p0:
//
//	M(p0) = ∫ q^k (1−q)^(n−k) π(dq) / (p0^k (1−p0)^(n−k))
//
// with π a mixture of Beta distributions truncated to (p0, 1] (for the
// test of "p ≥ p0", to [0, p0)). By Ville's inequality the chance that M
// ever reaches 1/α, at any of any number of looks at growing counts, is at
// most α; so judging every interval does not inflate false breaches, and
// the bounds below form a confidence sequence. The mixture is fixed
// before the data are seen (it depends only on p0):
//
//   - half its weight is uniform on (p0, 1], which decides overwhelming
//     evidence in very few requests (3 failures in 3 requests against a
//     5% threshold);
//   - half is Beta(1, b) with b = 1/(2 p0), whose mass lies within a few
//     p0 above p0, which decides moderate excesses (6% errors against 1%)
//     in hundreds of requests rather than thousands.
//
// For "p ≥ p0" the mixture is uniform on [0, p0).
//
// Mixture boundaries for other tests (two-sample comparisons) are in
// sequential.go; this file is only the one-sample proportion.

// ProportionEvidence is what the always-valid test of one proportion says
// about a threshold.
type ProportionEvidence struct {
	// Above and Below are the log mixture likelihood ratios against
	// p ≤ p0 and against p ≥ p0: Above ≥ log(1/α) is evidence, at
	// confidence 1 − α, that the proportion is above p0.
	Above, Below float64
}

// TestProportion computes the evidence that the proportion behind k
// successes in n trials is above, or below, p0 (0 < p0 < 1). Counts must
// accumulate from the start of what is judged; k ≤ n.
func TestProportion(k, n int64, p0 float64) ProportionEvidence {
	if n <= 0 || k < 0 || k > n || !(p0 > 0 && p0 < 1) {
		return ProportionEvidence{}
	}
	return ProportionEvidence{Above: logMixtureAbove(k, n, p0), Below: logMixtureBelow(k, n, p0)}
}

// ProportionAbove reports whether k of n is evidence, at confidence, that
// the proportion exceeds p0.
func ProportionAbove(k, n int64, p0, confidence float64) bool {
	if n <= 0 || !(p0 > 0 && p0 < 1) || !(confidence > 0 && confidence < 1) {
		return false
	}
	return logMixtureAbove(k, n, p0) >= -math.Log(1-confidence)
}

// ProportionBelow reports whether k of n is evidence, at confidence, that
// the proportion is below p0.
func ProportionBelow(k, n int64, p0, confidence float64) bool {
	if n <= 0 || !(p0 > 0 && p0 < 1) || !(confidence > 0 && confidence < 1) {
		return false
	}
	return logMixtureBelow(k, n, p0) >= -math.Log(1-confidence)
}

// ProportionLower is the lower confidence bound of the proportion behind
// k of n: the largest p0 that ProportionAbove rejects (0 when none). It
// is found by bisection to a relative precision of 1e-4.
func ProportionLower(k, n int64, confidence float64) float64 {
	if n <= 0 || k <= 0 {
		return 0
	}
	lo, hi := 0.0, float64(k)/float64(n)
	if hi >= 1 {
		hi = 1 - 1e-12
	}
	if !ProportionAbove(k, n, 1e-9, confidence) {
		return 0
	}
	lo, _ = bisectGeometric(1e-9, hi, func(p0 float64) bool { return ProportionAbove(k, n, p0, confidence) })
	return lo
}

// ProportionUpper is the upper confidence bound of the proportion behind
// k of n: the smallest p0 that ProportionBelow rejects (1 when none).
func ProportionUpper(k, n int64, confidence float64) float64 {
	if n <= 0 || k >= n {
		return 1
	}
	lo, hi := float64(k)/float64(n), 1-1e-9
	if lo <= 0 {
		lo = 1e-12
	}
	if !ProportionBelow(k, n, hi, confidence) {
		return 1
	}
	_, hi = bisectGeometric(lo, hi, func(p0 float64) bool { return !ProportionBelow(k, n, p0, confidence) })
	return hi
}

// bisectGeometric narrows [lo, hi] to the boundary where below turns from
// true (at lo) to false (at hi), halving on a log scale until hi/lo < 1+1e-4
// or 60 steps, and returns the final bracket.
func bisectGeometric(lo, hi float64, below func(float64) bool) (float64, float64) {
	for range 60 {
		mid := math.Sqrt(lo * hi)
		if below(mid) {
			lo = mid
		} else {
			hi = mid
		}
		if hi/lo < 1+1e-4 {
			break
		}
	}
	return lo, hi
}

// logMixtureAbove is log M(p0) with the mixture on (p0, 1].
func logMixtureAbove(k, n int64, p0 float64) float64 {
	s, f := float64(k), float64(n-k)
	null := s*math.Log(p0) + f*math.Log1p(-p0)
	b := math.Max(1, 1/(2*p0))
	u := logTruncBetaRatio(1, 1, s, f, p0, true)
	c := logTruncBetaRatio(1, b, s, f, p0, true)
	return logSumExp(u, c) + math.Log(0.5) - null
}

// logMixtureBelow is log M(p0) with the mixture uniform on [0, p0).
func logMixtureBelow(k, n int64, p0 float64) float64 {
	s, f := float64(k), float64(n-k)
	null := s*math.Log(p0) + f*math.Log1p(-p0)
	return logTruncBetaRatio(1, 1, s, f, p0, false) - null
}

// logTruncBetaRatio is log ∫ q^s (1−q)^f dπ(q) for π = Beta(a, b)
// truncated to (p0, 1] (upper) or [0, p0):
//
//	B(a+s, b+f) · P(Beta(a+s, b+f) in range) / (B(a, b) · P(Beta(a, b) in range)).
func logTruncBetaRatio(a, b, s, f, p0 float64, upper bool) float64 {
	mass := func(a, b float64) float64 {
		if upper {
			return mathext.RegIncBeta(b, a, 1-p0)
		}
		return mathext.RegIncBeta(a, b, p0)
	}
	post, prior := mass(a+s, b+f), mass(a, b)
	if post <= 0 || prior <= 0 {
		return math.Inf(-1)
	}
	return mathext.Lbeta(a+s, b+f) - mathext.Lbeta(a, b) + math.Log(post) - math.Log(prior)
}

func logSumExp(x, y float64) float64 {
	m := math.Max(x, y)
	if math.IsInf(m, -1) {
		return m
	}
	return m + math.Log(math.Exp(x-m)+math.Exp(y-m))
}
