package analysis

import (
	"fmt"
	"math"
)

// Counts are the requests and errors of the two tracks since a
// sequential test began. Counts need not be whole numbers (expected
// counts, or a source's extrapolated increases).
type Counts struct {
	CanaryRequests, CanaryErrors float64
	StableRequests, StableErrors float64
}

// Valid reports whether the counts are usable: finite, not negative, no
// more errors than requests.
func (c Counts) Valid() bool {
	for _, v := range []float64{c.CanaryRequests, c.CanaryErrors, c.StableRequests, c.StableErrors} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return false
		}
	}
	return c.CanaryErrors <= c.CanaryRequests && c.StableErrors <= c.StableRequests
}

// Add returns the sum of two counts.
func (c Counts) Add(d Counts) Counts {
	return Counts{c.CanaryRequests + d.CanaryRequests, c.CanaryErrors + d.CanaryErrors,
		c.StableRequests + d.StableRequests, c.StableErrors + d.StableErrors}
}

// DefaultMixture is the smallest scale of the mixture of alternatives the
// error-rate test uses (see MixtureScale): 0.1 percentage point.
const DefaultMixture = 0.001

// MixtureScale is the scale τ of the half-normal mixture over the excess
// of the canary's error ratio beyond the tolerance: the tolerance, but at
// least DefaultMixture (0.1 percentage point). The test is quickest for
// excesses near τ·√(log) of the evidence it needs: at canary weights (a
// 5% canary of a service at hundreds of requests/s, a stable near 0.1%
// errors) the regressions a step of 30 minutes can see are a doubling to
// a tenfold of the stable's errors, 0.1pp to 1pp (see docs/statistics.md
// for the measured detection times). The test is valid for any τ chosen
// before the data are seen.
func MixtureScale(tolerance float64) float64 {
	return math.Max(tolerance, DefaultMixture)
}

// CompareErrorRates tests whether the canary's error ratio exceeds the
// stable's by more than tolerance (a difference of ratios: 0.005 for half
// a percentage point) with a one-sided mixture sequential probability
// ratio test (Johari, Pekelis & Walsh, "Always valid inference", 2017) on
// the normal approximation of the difference of the two proportions.
//
// The test of "worse by at most θ₀" mixes the likelihood ratios of the
// alternatives θ > θ₀ with a half-normal weight of scale tau above θ₀
// (one-sided: no weight is spent on alternatives better than θ₀), with
// the variance of the difference under θ₀ itself: the canary's error
// ratio taken as the stable's plus θ₀ (a score test; the stable's ratio is
// estimated from many more requests), plus one error's worth for small
// counts (see variance). Each alternative's likelihood ratio
// is a martingale under θ = θ₀ and a supermartingale under any θ < θ₀, so
// the mixture is too.
//
// The counts must accumulate from the start of the test. Then P and the
// bounds are always valid: the chance that the test ever — at any of any
// number of checks — reports P ≤ 1 − confidence, or puts Lower above the
// true difference, is at most 1 − confidence (Ville's inequality); the
// same for Upper, from the mirrored test of "better than θ₀".
//
// Estimate is the difference of the observed ratios. The stable's ratio
// has one error and one success added (Agresti & Caffo 2000), so a stable
// without errors does not look certain.
func CompareErrorRates(c Counts, tolerance, confidence, tau float64) (Comparison, error) {
	if err := checkConfidence(confidence); err != nil {
		return Comparison{}, err
	}
	if !c.Valid() || !(tau > 0) || math.IsNaN(tolerance) || math.IsInf(tolerance, 0) {
		return Comparison{}, fmt.Errorf("compare error rates %+v, tolerance %v, tau %v: %w", c, tolerance, tau, ErrInvalid)
	}
	if c.CanaryRequests == 0 || c.StableRequests == 0 {
		return Comparison{}, ErrEmpty
	}
	t := newErrorTest(c, tau)
	est := t.est
	logA := math.Log(1 / (1 - confidence))
	cmp := Comparison{
		Test: TestMSPRT, Estimate: est, Lower: t.lower(logA), Upper: t.upper(logA), P: 1,
		Tolerance: tolerance, Confidence: confidence, CanaryN: c.CanaryRequests, StableN: c.StableRequests,
	}
	if est > tolerance {
		cmp.P = math.Min(1, math.Exp(-t.logLR(tolerance, 1)))
	}
	return cmp, nil
}

// errorTest is the mixture test of one set of counts.
type errorTest struct {
	est    float64 // canary ratio − stable ratio
	ps     float64 // the stable's ratio, Agresti-Caffo
	nc, ns float64 // requests + 2
	tau    float64
}

func newErrorTest(c Counts, tau float64) errorTest {
	return errorTest{
		est: c.CanaryErrors/c.CanaryRequests - c.StableErrors/c.StableRequests,
		ps:  (c.StableErrors + 1) / (c.StableRequests + 2),
		nc:  c.CanaryRequests + 2,
		ns:  c.StableRequests + 2,
		tau: tau,
	}
}

// variance is the variance of the estimate when the canary's ratio is the
// stable's plus theta0, with one error's worth (1/n) added to the canary's
// ratio: error counts of a few are skewed to the right, which the normal
// approximation misses, and without it a canary as good as the stable at
// 0.1% errors and 10 requests/s was found worse in 1.9% of 2-hour
// rollouts at 99% confidence (0.8% with it; sequential_test.go).
func (t errorTest) variance(theta0 float64) float64 {
	q := math.Min(math.Max(t.ps+theta0, 0)+1/t.nc, 1-1/t.nc)
	return q*(1-q)/t.nc + t.ps*(1-t.ps)/t.ns
}

// logLR is the log of the one-sided mixture likelihood ratio against
// theta0: side +1 mixes the alternatives above theta0, −1 those below.
func (t errorTest) logLR(theta0, side float64) float64 {
	return logHalfNormalMixture(side*(t.est-theta0), t.variance(theta0), t.tau)
}

// logHalfNormalMixture is the log of
//
//	∫₀^∞ φ(d; δ, v) / φ(d; 0, v) · 2 φ(δ; 0, τ²) dδ
//	  = 2 √(v/(v+τ²)) · exp(τ²d² / (2v(v+τ²))) · Φ(τd / √(v(v+τ²))),
//
// the likelihood ratio of an estimate d (from its null value) with
// variance v, mixed over the alternatives above the null with a
// half-normal weight of scale τ.
func logHalfNormalMixture(d, v, tau float64) float64 {
	t2 := tau * tau
	x := tau * d / math.Sqrt(v*(v+t2))
	return math.Ln2 + 0.5*math.Log(v/(v+t2)) + t2*d*d/(2*v*(v+t2)) + LogNormalSurvival(-x)
}

// lower is the lower bound of the confidence sequence: the largest θ₀
// that the test of "worse by at most θ₀" rejects with log evidence logA
// (−1 when none is).
func (t errorTest) lower(logA float64) float64 {
	rejected := func(th float64) bool { return t.logLR(th, 1) >= logA }
	if !rejected(-1) {
		return -1
	}
	return bisect(-1, t.est, rejected)
}

// upper is the smallest θ₀ that the test of "worse by at least θ₀"
// rejects (1 when none is).
func (t errorTest) upper(logA float64) float64 {
	rejected := func(th float64) bool { return t.logLR(th, -1) >= logA }
	if !rejected(1) {
		return 1
	}
	lo, hi := t.est, 1.0
	// bisect keeps lo on the side where the predicate holds.
	return bisect(hi, lo, rejected)
}

// bisect returns the point between in (where ok holds) and out (where it
// does not, or the boundary) at which ok stops holding, to 1e-12.
func bisect(in, out float64, ok func(float64) bool) float64 {
	for range 80 {
		mid := (in + out) / 2
		if ok(mid) {
			in = mid
		} else {
			out = mid
		}
		if math.Abs(in-out) < 1e-12 {
			break
		}
	}
	return in
}
