package analysis

import (
	"fmt"
	"math"
)

// Tests named in Comparison.Test.
const (
	TestMannWhitney = "mann-whitney"
	TestMSPRT       = "msprt"
)

// Comparison is the verdict of one comparison of the canary with the
// stable: is the canary worse by more than Tolerance? Differences are
// canary − stable, in the caller's units (a ratio of requests for error
// rates, seconds for latencies, a log-ratio or a relative change where the
// caller transformed the values).
type Comparison struct {
	// Test is TestMSPRT or TestMannWhitney.
	Test string
	// Estimate is the canary's difference from the stable: the difference
	// of the error ratios, or the Hodges-Lehmann shift (the median of all
	// canary − stable differences).
	Estimate float64
	// Lower and Upper are one-sided confidence bounds of the difference,
	// each at Confidence (together an interval at 2·Confidence − 1).
	// Lower may be -Inf and Upper +Inf when there is too little data.
	Lower, Upper float64
	// P is the p-value of "the canary is worse by at most Tolerance":
	// small means the canary is worse by more. For the mSPRT it is always
	// valid (it may be checked after every new observation).
	P float64
	// Tolerance is how much worse the canary may be.
	Tolerance float64
	// Confidence is the confidence of each bound (0.99 for 99%).
	Confidence float64
	// CanaryN and StableN are the observations behind the comparison
	// (requests, or per-interval values).
	CanaryN, StableN float64
	// Exact is set when the p-value and bounds come from the exact
	// distribution of the statistic rather than a normal approximation.
	Exact bool
}

// Outcome is what a Comparison says about the canary.
type Outcome int

// The outcomes.
const (
	// Inconclusive: the confidence interval straddles the tolerance; more
	// data is needed.
	Inconclusive Outcome = iota
	// Worse: the lower bound exceeds the tolerance: the canary is worse by
	// more than the tolerance, with the comparison's confidence.
	Worse
	// NotWorse: the upper bound is within the tolerance: the canary is not
	// worse by more than the tolerance, with the comparison's confidence.
	NotWorse
)

func (o Outcome) String() string {
	switch o {
	case Worse:
		return "worse"
	case NotWorse:
		return "not worse"
	}
	return "inconclusive"
}

// Outcome decides with the bounds: Worse when Lower > Tolerance, NotWorse
// when Upper ≤ Tolerance, else Inconclusive. A bound within rounding
// (Roundoff) of the tolerance counts as equal to it: a tolerance of one
// histogram bin (5% against 5% bins) must not breach because the
// logarithms of two adjacent bins differ by log1p(0.05) plus an ulp.
func (c Comparison) Outcome() Outcome {
	switch {
	case c.Lower > c.Tolerance+Roundoff(c.Tolerance):
		return Worse
	case c.Upper <= c.Tolerance:
		return NotWorse
	}
	return Inconclusive
}

// String is a one-line summary for logs and event details.
func (c Comparison) String() string {
	return fmt.Sprintf("%s: estimate %.4g, bounds [%.4g, %.4g] at %.4g%%, p=%.3g, n=%.0f/%.0f",
		c.Test, c.Estimate, c.Lower, c.Upper, c.Confidence*100, c.P, c.CanaryN, c.StableN)
}

// checkConfidence reports whether confidence is a usable level.
func checkConfidence(confidence float64) error {
	if !(confidence > 0.5 && confidence < 1) {
		return fmt.Errorf("confidence %v: want above 0.5 and below 1: %w", confidence, ErrInvalid)
	}
	return nil
}

// Roundoff is how close to a tolerance a value may come and still count
// as equal to it: float rounding, not evidence (1e-9, relative beyond 1).
func Roundoff(tolerance float64) float64 {
	return 1e-9 * math.Max(1, math.Abs(tolerance))
}
