package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Alternative is the alternative hypothesis of a rank test about the
// shift of x relative to y.
type Alternative int

// The alternatives.
const (
	TwoSided Alternative = iota // x is shifted from y, either way
	Greater                     // x is shifted above y (the canary is slower)
	Less                        // x is shifted below y
)

// exactLimit: below this many observations in each sample (and without
// ties) the exact distribution of U is used, as R's wilcox.test does.
const exactLimit = 50

// UTest is the Mann-Whitney U test of x against y.
type UTest struct {
	// U is x's statistic: the number of pairs (xᵢ, yⱼ) with xᵢ > yⱼ, ties
	// counting one half (R's W).
	U float64
	// Z is the standardized statistic with the continuity correction
	// (asymptotic test only).
	Z float64
	// P is the p-value for the alternative.
	P float64
	// Exact is set when P comes from the exact null distribution.
	Exact bool
}

// std is the standard normal distribution.
var std = distuv.UnitNormal

// MannWhitneyU tests whether x − mu and y come from the same distribution
// against alt. It uses the exact distribution when both samples have fewer
// than 50 observations and there are no ties, and otherwise the normal
// approximation with the tie correction of the variance and a continuity
// correction of one half, as R's wilcox.test(x, y, mu=mu, alternative=…)
// does.
func MannWhitneyU(x, y Sample, mu float64, alt Alternative) (UTest, error) {
	if x.n == 0 || y.n == 0 {
		return UTest{}, ErrEmpty
	}
	if math.IsNaN(mu) || math.IsInf(mu, 0) {
		return UTest{}, ErrInvalid
	}
	r := rankSum(x.shifted(mu), y)
	nx, ny := x.n, y.n
	t := UTest{U: r.sumX - nx*(nx+1)/2}
	if exactOK(x, y, r) {
		d := wilcoxDist(int(nx), int(ny))
		u := int(math.Round(t.U))
		t.Exact = true
		switch alt {
		case Greater:
			t.P = d.upper(u)
		case Less:
			t.P = d.cdf(u)
		default:
			if t.U > nx*ny/2 {
				t.P = d.upper(u)
			} else {
				t.P = d.cdf(u)
			}
			t.P = math.Min(1, 2*t.P)
		}
		return t, nil
	}
	sigma := r.sigma(nx, ny)
	if sigma == 0 {
		return UTest{}, ErrConstant
	}
	z := t.U - nx*ny/2
	var corr float64
	switch alt {
	case Greater:
		corr = 0.5
	case Less:
		corr = -0.5
	default:
		corr = 0.5 * sign(z)
	}
	t.Z = (z - corr) / sigma
	switch alt {
	case Greater:
		t.P = NormalSurvival(t.Z)
	case Less:
		t.P = NormalCDF(t.Z)
	default:
		t.P = math.Min(1, 2*NormalSurvival(math.Abs(t.Z)))
	}
	return t, nil
}

// MannWhitney compares the canary's values x with the stable's values y:
// is x shifted above y by more than tolerance? Estimate is the
// Hodges-Lehmann shift (the median of all xᵢ − yⱼ), Lower and Upper are
// the distribution-free one-sided bounds of the shift at confidence
// (order statistics of the differences, as R's wilcox.test with
// conf.int=TRUE computes them), and P is the one-sided p-value of
// "shifted by at most tolerance". To compare relative shifts, compare the
// logarithms (see MannWhitneyRelative).
func MannWhitney(x, y Sample, tolerance, confidence float64) (Comparison, error) {
	if err := checkConfidence(confidence); err != nil {
		return Comparison{}, err
	}
	if x.n == 0 || y.n == 0 {
		return Comparison{}, ErrEmpty
	}
	test, err := MannWhitneyU(x, y, tolerance, Greater)
	if err != nil {
		return Comparison{}, err
	}
	lo, hi, err := shiftBounds(x, y, confidence, test.Exact)
	if err != nil {
		return Comparison{}, err
	}
	return Comparison{
		Test: TestMannWhitney, Estimate: HodgesLehmann(x, y), Lower: lo, Upper: hi, P: test.P,
		Tolerance: tolerance, Confidence: confidence, CanaryN: x.n, StableN: y.n, Exact: test.Exact,
	}, nil
}

// MannWhitneyRelative is MannWhitney on the logarithms of positive
// values, with the shift reported as a relative change: an Estimate of
// 0.25 means the canary's values are typically 25% higher (the median of
// the ratios xᵢ/yⱼ, minus 1), and tolerance is relative too (0.1 for 10%).
func MannWhitneyRelative(x, y Sample, tolerance, confidence float64) (Comparison, error) {
	if tolerance <= -1 {
		return Comparison{}, fmt.Errorf("relative tolerance %v: %w", tolerance, ErrInvalid)
	}
	lx, err := logSample(x)
	if err != nil {
		return Comparison{}, err
	}
	ly, err := logSample(y)
	if err != nil {
		return Comparison{}, err
	}
	c, err := MannWhitney(lx, ly, math.Log1p(tolerance), confidence)
	if err != nil {
		return Comparison{}, err
	}
	c.Estimate, c.Lower, c.Upper = math.Expm1(c.Estimate), math.Expm1(c.Lower), math.Expm1(c.Upper)
	c.Tolerance = tolerance
	return c, nil
}

func logSample(s Sample) (Sample, error) {
	if len(s.vals) > 0 && s.vals[0] <= 0 {
		return Sample{}, fmt.Errorf("logarithm of %v: %w (relative comparisons need positive values)", s.vals[0], ErrInvalid)
	}
	return s.Map(math.Log)
}

// ranks is the outcome of ranking x and y together.
type ranks struct {
	sumX float64 // sum of x's midranks
	ties float64 // Σ (t³ − t) over groups of equal values
	tied bool    // some value occurs more than once
}

// sigma is the standard deviation of U under the null, tie-corrected.
func (r ranks) sigma(nx, ny float64) float64 {
	n := nx + ny
	v := nx * ny / 12 * ((n + 1) - r.ties/(n*(n-1)))
	if v <= 0 {
		return 0
	}
	return math.Sqrt(v)
}

// rankSum ranks x and y together with midranks for ties.
func rankSum(x, y Sample) ranks {
	var r ranks
	pos := 0.0
	i, j := 0, 0
	for i < len(x.vals) || j < len(y.vals) {
		v := math.Inf(1)
		if i < len(x.vals) {
			v = x.vals[i]
		}
		if j < len(y.vals) && y.vals[j] < v {
			v = y.vals[j]
		}
		var cx, cy float64
		for i < len(x.vals) && x.vals[i] == v {
			cx += x.counts[i]
			i++
		}
		for j < len(y.vals) && y.vals[j] == v {
			cy += y.counts[j]
			j++
		}
		t := cx + cy
		r.sumX += cx * (pos + (t+1)/2)
		if t > 1 {
			r.ties += t*t*t - t
			r.tied = true
		}
		pos += t
	}
	return r
}

// exactOK reports whether the exact distribution applies: whole, single
// observations, fewer than exactLimit per sample, no ties.
func exactOK(x, y Sample, r ranks) bool {
	return !r.tied && x.n < exactLimit && y.n < exactLimit &&
		float64(len(x.vals)) == x.n && float64(len(y.vals)) == y.n
}

// shiftBounds returns the one-sided lower and upper confidence bounds of
// the shift of x over y, each at confidence: order statistics of the
// pairwise differences, with the ranks given by the exact distribution of
// U (as R's qwilcox) or its normal approximation with a continuity
// correction (the roots R's wilcox.test finds). exact follows the test:
// R uses the exact distribution for both or for neither. A bound the
// samples are too small for at this confidence is infinite.
func shiftBounds(x, y Sample, confidence float64, exact bool) (lo, hi float64, err error) {
	nx, ny := x.n, y.n
	nm := nx * ny
	var kLo, kHi float64 // ranks (1-based) of the bounds among the differences
	if exact {
		d := wilcoxDist(int(nx), int(ny))
		// R takes the smallest difference when no rank reaches the
		// confidence (qwilcox gives 0); that bound would claim more than
		// the data hold, so there is none.
		q := float64(d.quantile(1 - confidence))
		kLo, kHi = q, nm-q+1
	} else {
		// Within-sample ties only: at a shift between two differences no
		// x value equals a y value.
		sigma := ranks{ties: withinTies(x) + withinTies(y)}.sigma(nx, ny)
		if sigma == 0 {
			return 0, 0, ErrConstant
		}
		z := std.Quantile(confidence)
		kLo = nm + 1 - math.Ceil(nm/2+0.5+z*sigma)
		kHi = nm + 1 - math.Ceil(nm/2-0.5-z*sigma)
	}
	// Out of range: too few observations for a bound at this confidence
	// (R clamps to the extreme difference instead).
	lo, hi = math.Inf(-1), math.Inf(1)
	if kLo >= 1 {
		lo = pairDiffAt(x, y, math.Min(kLo, nm))
	}
	if kHi <= nm {
		hi = pairDiffAt(x, y, math.Max(kHi, 1))
	}
	return lo, hi, nil
}

func withinTies(s Sample) float64 {
	var t float64
	for _, c := range s.counts {
		if c > 1 {
			t += c*c*c - c
		}
	}
	return t
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
