package analysis

import "math"

// maxAutocorrelation caps the lag-1 autocorrelation a variance inflation
// assumes: beyond it a window holds too little independent evidence for
// any inflation to mean much, and the estimate from a few values is
// mostly noise.
const maxAutocorrelation = 0.9

// minAutocorrelation is the least lag-1 autocorrelation the block tests
// assume (autocorrected): an estimate from ten intervals has a standard
// error near 0.3, so one of 0 does not show the intervals are
// independent, and the windows whose estimate came out low were the ones
// that rolled back healthy canaries under AR(1) noise (docs/statistics.md:
// 1.2% of A/A rollouts at worseBy 5% with no floor, 0.3% with this one,
// detection of a 45% regression unchanged in intervals). It costs
// independent shifts a variance inflation of 1.2 over ten intervals.
const minAutocorrelation = 0.1

// Autocorrelation is the lag-1 autocorrelation of a series' ranks (ties
// averaged), bias-corrected for its length and at least 0: the AR(1)
// coefficient ρ for which consecutive values move together. Ranks keep one
// outlier (a slow interval) from deciding it; the raw estimate r of a
// series of n is biased down by about (1 + 4ρ)/n (Marriott and Pope), so
// the estimate is (n·r + 1)/(n − 4). Below 5 values it is 0.
func Autocorrelation(series []float64) float64 {
	n := len(series)
	if n < 5 {
		return 0
	}
	ranks, _ := midranks(series)
	mean := float64(n+1) / 2
	var num, den float64
	for i, r := range ranks {
		den += (r - mean) * (r - mean)
		if i > 0 {
			num += (r - mean) * (ranks[i-1] - mean)
		}
	}
	if den == 0 {
		return 0
	}
	nf := float64(n)
	rho := (nf*num/den + 1) / (nf - 4)
	return math.Min(math.Max(rho, 0), maxAutocorrelation)
}

// VarianceInflation is how much AR(1) autocorrelation rho multiplies the
// variance of a sum of n scores over that of n independent ones:
// 1 + 2·Σₖ (1 − k/n)·ρᵏ, k = 1..n−1. n divided by it is the effective
// sample size (Hamed and Rao's correction of rank tests for
// autocorrelated series).
func VarianceInflation(rho float64, n int) float64 {
	f, pk := 1.0, 1.0
	for k := 1; k < n; k++ {
		pk *= rho
		f += 2 * (1 - float64(k)/float64(n)) * pk
	}
	return f
}

// autocorrected is c, a signed-rank comparison of d against mu, with the
// variance of its statistic inflated for the autocorrelation of d
// (Autocorrelation, at least minAutocorrelation) on the side a breach is
// decided on (inflateSignedRank).
func autocorrected(c Comparison, d []float64, mu float64) Comparison {
	rho := math.Max(Autocorrelation(d), minAutocorrelation)
	if f := VarianceInflation(rho, len(d)); f > 1 {
		return inflateSignedRank(c, d, mu, f)
	}
	return c
}

// inflateSignedRank redoes the "worse" side of a signed-rank comparison
// of d against mu with the variance of its statistic multiplied by f
// (≥ 1): the p-value and the lower bound from the normal approximation
// with the tie and continuity corrections, as SignedRank computes them
// beyond exactLimit, the standard deviation scaled by √f. The upper bound
// (the "not worse" side) is left as it was (docs/statistics.md: inflating
// it too left 97% of healthy noisy rollouts without a pass to hold on).
func inflateSignedRank(c Comparison, d []float64, mu, f float64) Comparison {
	var x, kept []float64
	for _, v := range d {
		if v-mu != 0 {
			x, kept = append(x, v-mu), append(kept, v)
		}
	}
	n := float64(len(x))
	if n == 0 {
		return c
	}
	abs := make([]float64, len(x))
	for i, v := range x {
		abs[i] = math.Abs(v)
	}
	ranks, ties := midranks(abs)
	v := 0.0
	for i, r := range ranks {
		if x[i] > 0 {
			v += r
		}
	}
	sigma := math.Sqrt(f * (n*(n+1)*(2*n+1)/24 - ties/48))
	if sigma == 0 {
		return c
	}
	c.P = NormalSurvival((v - n*(n+1)/4 - 0.5) / sigma)
	c.Exact = false
	walsh := walshAverages(kept)
	_, dties := midranks(kept)
	dsigma := math.Sqrt(f * (n*(n+1)*(2*n+1)/24 - dties/48))
	m := float64(len(walsh))
	z := std.Quantile(c.Confidence)
	kLo := m + 1 - math.Ceil(m/2+0.5+z*dsigma)
	c.Lower = math.Inf(-1)
	if kLo >= 1 {
		c.Lower = walsh[int(math.Min(kLo, m))-1]
	}
	return c
}
