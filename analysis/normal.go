package analysis

import "math"

// NormalSurvival is P(Z > z) for a standard normal Z, computed as
// erfc(z/√2)/2 so that it keeps its relative precision far into the upper
// tail (down to the smallest normal float64 near z = 37.5) instead of
// losing it to the cancellation in 1 − Φ(z).
func NormalSurvival(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// NormalCDF is P(Z ≤ z) for a standard normal Z, accurate in the lower
// tail for the same reason as NormalSurvival.
func NormalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}

// LogNormalSurvival is log P(Z > z): for z up to 30 from NormalSurvival,
// beyond from the asymptotic expansion of Mills' ratio, so it stays
// finite where the probability underflows.
func LogNormalSurvival(z float64) float64 {
	if z < 30 {
		return math.Log(NormalSurvival(z))
	}
	// log φ(z) − log z + log(1 − 1/z² + 3/z⁴ − 15/z⁶ + 105/z⁸)
	z2 := z * z
	series := 1 - 1/z2 + 3/(z2*z2) - 15/(z2*z2*z2) + 105/(z2*z2*z2*z2)
	return -z2/2 - math.Log(z) - 0.5*math.Log(2*math.Pi) + math.Log(series)
}
