package analysis

import (
	"fmt"
	"math"
)

// TestIntervalShifts names the block test in Comparison.Test.
const TestIntervalShifts = "interval-shifts"

// IntervalShift is one interval's shift of the canary's latencies over
// the stable's: the Hodges-Lehmann estimate (the median of all pairwise
// differences xᵢ − yⱼ of the interval's requests), of the logarithms
// when relative is set. It is the unit the block test (ShiftTest) treats
// as independent.
func IntervalShift(x, y Sample, relative bool) (float64, error) {
	if x.n == 0 || y.n == 0 {
		return 0, ErrEmpty
	}
	if relative {
		var err error
		if x, err = logSample(x); err != nil {
			return 0, err
		}
		if y, err = logSample(y); err != nil {
			return 0, err
		}
	}
	return HodgesLehmann(x, y), nil
}

// ShiftTest compares the canary with the stable on per-interval shifts
// (IntervalShift, one per interval both tracks served): is the typical
// shift above tolerance (relative: a relative change, 0.2 for 20%, the
// shifts being of logarithms)? It is the Wilcoxon signed-rank test on the
// shifts (SignedRank), so the interval, not the request, is the unit of
// independence: noise both tracks share in an interval (a slow
// dependency, load) cancels within the interval's shift, and noise that
// moves one track's whole interval (a slow pod, a noisy neighbour, GC)
// shows as the spread of the shifts, which the test measures instead of
// assuming it away as a test on every request does. Shifts of
// consecutive intervals that move together (a bad minute followed by
// another: AR(1) noise) are fewer independent observations than
// intervals: the lag-1 autocorrelation of the shifts' ranks
// (Autocorrelation) inflates the variance of the statistic by
// VarianceInflation for the p-value and the lower bound, the side a
// breach is decided on; the upper bound, the side a pass is decided on,
// is not inflated (docs/statistics.md gives both effects). Shifts within
// rounding of the tolerance (Roundoff) count as equal to it: on
// histogram data a shift of exactly one bin is not evidence of more than
// a tolerance of one bin.
func ShiftTest(shifts []float64, tolerance, confidence float64, relative bool) (Comparison, error) {
	c, err := intervalTest(shifts, tolerance, confidence, relative)
	c.Test = TestIntervalShifts
	return c, err
}

// QuantilePairsTest compares the canary with the stable on pairs of
// per-interval values (the quantiles of a source without histograms):
// ShiftTest on their differences, of logarithms when relative (positive
// values only), so it is corrected for autocorrelated intervals the same
// way. Comparison.Test is TestSignedRank.
func QuantilePairsTest(canary, stable []float64, tolerance, confidence float64, relative bool) (Comparison, error) {
	if len(canary) != len(stable) {
		return Comparison{}, ErrInvalid
	}
	d := make([]float64, len(canary))
	for i := range canary {
		d[i] = canary[i] - stable[i]
		if relative {
			if !(canary[i] > 0 && stable[i] > 0) {
				return Comparison{}, ErrInvalid
			}
			d[i] = math.Log(canary[i]) - math.Log(stable[i])
		}
	}
	return intervalTest(d, tolerance, confidence, relative)
}

// intervalTest is the signed-rank test of per-interval differences d
// against tolerance (relative: d are logarithms, tolerance a relative
// change), values within rounding of the tolerance snapped to it, the
// breach side corrected for autocorrelation (autocorrected).
func intervalTest(shifts []float64, tolerance, confidence float64, relative bool) (Comparison, error) {
	tol := tolerance
	if relative {
		if tolerance <= -1 {
			return Comparison{}, fmt.Errorf("relative tolerance %v: %w", tolerance, ErrInvalid)
		}
		tol = math.Log1p(tolerance)
	}
	d := make([]float64, len(shifts))
	for i, v := range shifts {
		d[i] = v
		if math.Abs(v-tol) <= Roundoff(tol) {
			d[i] = tol
		}
	}
	c, err := SignedRank(d, tol, confidence)
	if err != nil {
		return Comparison{}, err
	}
	c = autocorrected(c, d, tol)
	if relative {
		c.Estimate, c.Lower, c.Upper = math.Expm1(c.Estimate), math.Expm1(c.Lower), math.Expm1(c.Upper)
		c.Tolerance = tolerance
	}
	return c, nil
}
