package analysis

import "math"

// TailRequests is how many requests beyond a quantile an estimate of it
// should stand on.
const TailRequests = 5

// QuantileRequests is how many requests a window needs for its quantile q
// (0..1) to stand on TailRequests requests beyond it: 100 for the 95th
// percentile, 500 for the 99th. Fewer, and the "p99" of a window is just
// its slowest request or two.
func QuantileRequests(q float64) int64 {
	if !(q > 0 && q < 1) {
		return TailRequests
	}
	return int64(math.Ceil(TailRequests/(1-q) - 1e-9))
}

// Power is the chance of detection the sample-size arithmetic aims at.
const Power = 0.8

// RateExceeding returns the error ratio at which the ratio of a window of
// n requests exceeds threshold with probability Power (a normal
// approximation of the binomial): what a rule judged by point, which
// breaches whenever a window's ratio is over its threshold, catches 4
// times in 5. The approximation wants n·threshold of a few at least.
func RateExceeding(threshold, n float64) float64 {
	z := std.Quantile(Power)
	lo, hi := threshold, 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if mid-z*math.Sqrt(mid*(1-mid)/n) > threshold {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// errorTestAt is CompareErrorRates' test at expected counts: nc canary
// and ns stable requests at error ratios pc and ps, its estimate moved by
// z standard deviations (of the estimate at those ratios), e.g. to the
// value the test sees or exceeds with probability Power.
func errorTestAt(nc, ns, pc, ps, z, tau float64) errorTest {
	t := newErrorTest(Counts{CanaryRequests: nc, CanaryErrors: pc * nc, StableRequests: ns, StableErrors: ps * ns}, tau)
	t.est += z * math.Sqrt(pc*(1-pc)/nc+ps*(1-ps)/ns)
	return t
}

// DetectableErrorDiff returns the smallest difference of error ratios
// (canary − stable) that CompareErrorRates, at confidence and tau, finds
// worse than tolerance with probability Power once nc canary and ns
// stable requests are counted, the stable's error ratio being p0; +Inf
// when no difference is (too few requests).
func DetectableErrorDiff(nc, ns, p0, tolerance, confidence, tau float64) float64 {
	z := std.Quantile(Power)
	logA := math.Log(1 / (1 - confidence))
	detects := func(d float64) bool {
		return errorTestAt(nc, ns, p0+d, p0, -z, tau).logLR(tolerance, 1) >= logA
	}
	hi := 1 - p0
	if nc <= 0 || ns <= 0 || !detects(hi) {
		return math.Inf(1)
	}
	lo := tolerance
	for range 100 {
		mid := (lo + hi) / 2
		if detects(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// RequestsToPass returns how many canary requests (with stablePerCanary
// stable requests for each) CompareErrorRates needs before a canary as
// good as the stable, at error ratio p0, is NotWorse than tolerance with
// probability Power: its upper bound within the tolerance. +Inf when a
// tolerance of 0 can never be shown.
func RequestsToPass(stablePerCanary, p0, tolerance, confidence, tau float64) float64 {
	z := std.Quantile(Power)
	logA := math.Log(1 / (1 - confidence))
	passes := func(n float64) bool {
		return errorTestAt(n, n*stablePerCanary, p0, p0, z, tau).logLR(tolerance, -1) >= logA
	}
	if tolerance <= 0 || stablePerCanary <= 0 {
		return math.Inf(1)
	}
	lo, hi := 1.0, 1.0
	for !passes(hi) {
		lo, hi = hi, hi*2
		if hi > 1e15 {
			return math.Inf(1)
		}
	}
	for hi-lo > 1 {
		mid := math.Floor((lo + hi) / 2)
		if passes(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// DetectableShift returns the smallest relative latency shift (0.25 for
// 25% slower) that MannWhitneyRelative finds worse than tolerance with
// probability Power from n canary and m stable requests whose
// log-latencies have standard deviation sigma (0.5 is typical): the
// Hodges-Lehmann estimate's asymptotic standard error for normal
// log-latencies is σ·√(π/3·(1/n + 1/m)). +Inf without requests.
func DetectableShift(n, m, sigma, tolerance, confidence float64) float64 {
	if n <= 0 || m <= 0 {
		return math.Inf(1)
	}
	se := sigma * math.Sqrt(math.Pi/3*(1/n+1/m))
	return math.Expm1(math.Log1p(tolerance) + (std.Quantile(confidence)+std.Quantile(Power))*se)
}

// MinIntervals is the fewest pairs of per-interval values for which the
// exact signed-rank test can reach confidence at all: every pair with the
// canary worse has probability 2⁻ᵏ under no difference.
func MinIntervals(confidence float64) int {
	return int(math.Ceil(math.Log2(1/(1-confidence)) - 1e-9))
}
