package analysis

import (
	"fmt"
	"math"
)

// Counts are the requests and errors of the two tracks since a
// sequential test began.
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
// error-rate test uses (see MixtureScale).
const DefaultMixture = 0.01

// MixtureScale is the standard deviation τ of the normal mixture over the
// difference of error ratios for a tolerance: the tolerance, but at least
// DefaultMixture (1 percentage point). The test detects differences near
// τ beyond the tolerance fastest; it is valid for any τ chosen before the
// data are seen.
func MixtureScale(tolerance float64) float64 {
	return math.Max(tolerance, DefaultMixture)
}

// CompareErrorRates tests whether the canary's error ratio exceeds the
// stable's by more than tolerance (a difference of ratios: 0.005 for half
// a percentage point) with a mixture sequential probability ratio test:
// the normal approximation of the difference of the two proportions, its
// likelihood ratio mixed over a normal distribution of alternatives with
// standard deviation tau around the tolerance (Johari, Pekelis & Walsh,
// "Always valid inference", 2017).
//
// The counts must accumulate from the start of the test. Then P and the
// bounds are always valid: the chance that the test ever — at any of any
// number of checks — puts the true difference outside [Lower, Upper] or
// reports P ≤ 1 − confidence under "not worse by more than tolerance" is at
// most 1 − confidence (Ville's inequality for the mixture martingale).
//
// Estimate is the difference of the observed ratios. The variance uses
// each ratio with one error and one success added (Agresti & Caffo 2000),
// so a track without errors does not look certain.
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
	est := c.CanaryErrors/c.CanaryRequests - c.StableErrors/c.StableRequests
	v := diffVariance(c)
	b := mixtureBound(v, tau, 1-confidence)
	cmp := Comparison{
		Test: TestMSPRT, Estimate: est, Lower: math.Max(est-b, -1), Upper: math.Min(est+b, 1), P: 1,
		Tolerance: tolerance, Confidence: confidence, CanaryN: c.CanaryRequests, StableN: c.StableRequests,
	}
	if est > tolerance {
		cmp.P = math.Min(1, 1/mixtureLR(est, v, tolerance, tau))
	}
	return cmp, nil
}

// diffVariance is the variance of the difference of the error ratios,
// with Agresti-Caffo's added error and success per track.
func diffVariance(c Counts) float64 {
	pc := (c.CanaryErrors + 1) / (c.CanaryRequests + 2)
	ps := (c.StableErrors + 1) / (c.StableRequests + 2)
	return pc*(1-pc)/(c.CanaryRequests+2) + ps*(1-ps)/(c.StableRequests+2)
}

// mixtureLR is the likelihood ratio of an estimate est with variance v,
// mixed over alternatives θ ~ N(theta0, tau²), against θ = theta0:
//
//	∫ φ(est; θ, v) / φ(est; θ₀, v) · φ(θ; θ₀, τ²) dθ
//	  = √(v / (v + τ²)) · exp(τ² (est − θ₀)² / (2 v (v + τ²))).
func mixtureLR(est, v, theta0, tau float64) float64 {
	t2 := tau * tau
	d := est - theta0
	return math.Sqrt(v/(v+t2)) * math.Exp(t2*d*d/(2*v*(v+t2)))
}

// mixtureBound is the half-width b of the confidence sequence: the
// distance |est − θ₀| at which mixtureLR reaches 1/alpha.
func mixtureBound(v, tau, alpha float64) float64 {
	t2 := tau * tau
	return math.Sqrt(v * (v + t2) / t2 * (2*math.Log(1/alpha) + math.Log((v+t2)/v)))
}
