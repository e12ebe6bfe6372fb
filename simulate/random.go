package simulate

import (
	"math"
	"math/rand/v2"
)

// Samplers for request counts. Above these means the normal
// approximation is used: exact enough for a simulation, and O(1).
const normalAbove = 40

// poisson draws from a Poisson distribution with mean lambda.
func poisson(rng *rand.Rand, lambda float64) float64 {
	switch {
	case lambda <= 0:
		return 0
	case lambda > normalAbove:
		return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64()))
	}
	l := math.Exp(-lambda)
	k, p := 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// binomial draws the number of successes of n trials of probability p.
func binomial(rng *rand.Rand, n, p float64) float64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	}
	if p > 0.5 {
		return n - binomial(rng, n, 1-p)
	}
	if mean := n * p; mean > normalAbove && n*(1-p) > normalAbove {
		v := math.Round(mean + math.Sqrt(mean*(1-p))*rng.NormFloat64())
		return math.Min(math.Max(v, 0), n)
	}
	// Waiting times: the gaps between successes are geometric.
	logq := math.Log1p(-p)
	k, i := 0.0, 0.0
	for {
		i += math.Floor(math.Log(1-rng.Float64())/logq) + 1
		if i > n {
			return k
		}
		k++
	}
}

// lognormalFactor is a multiplicative noise factor exp(σZ − σ²/2) (mean
// 1), or exp(σZ) (median 1) when median is set, of a standard normal z.
func lognormalFactor(z, sigma float64, median bool) float64 {
	if sigma <= 0 {
		return 1
	}
	z *= sigma
	if median {
		return math.Exp(z)
	}
	return math.Exp(z - sigma*sigma/2)
}

// newRand returns the random numbers of seed and stream.
func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
