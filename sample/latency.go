package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// z95 is the standard normal's 95th percentile.
const z95 = 1.6448536269514722

// maxFactor caps a sampled latency at maxFactor × P95, so one draw from a
// heavy tail never hangs a demo.
const maxFactor = 10

// LatencyDist is a latency distribution given by its median and 95th
// percentile: a lognormal with mu = ln(median) and
// sigma = ln(p95/median)/1.645. The zero value is no latency.
type LatencyDist struct {
	// Median latency. Zero means no added latency.
	Median time.Duration
	// P95 is the 95th percentile, at least Median. Zero (or equal to
	// Median) makes every latency exactly Median.
	P95 time.Duration
}

// IsZero reports whether d adds no latency.
func (d LatencyDist) IsZero() bool { return d.Median == 0 && d.P95 == 0 }

// Validate checks that d describes a distribution.
func (d LatencyDist) Validate() error {
	switch {
	case d.Median < 0 || d.P95 < 0:
		return fmt.Errorf("latency median %s, p95 %s: must not be negative", d.Median, d.P95)
	case d.P95 != 0 && d.P95 < d.Median:
		return fmt.Errorf("latency p95 %s is below the median %s", d.P95, d.Median)
	case d.Median == 0 && d.P95 != 0:
		return fmt.Errorf("latency p95 %s needs a median", d.P95)
	}
	return nil
}

// sigma is the lognormal's shape; zero for a constant latency.
func (d LatencyDist) sigma() float64 {
	if d.P95 <= d.Median || d.Median <= 0 {
		return 0
	}
	return math.Log(float64(d.P95)/float64(d.Median)) / z95
}

// Quantile returns the latency below which a share q (0 < q < 1) of
// samples fall, before the cap at 10× P95.
func (d LatencyDist) Quantile(q float64) time.Duration {
	if d.Median <= 0 {
		return 0
	}
	z := math.Sqrt2 * math.Erfinv(2*q-1)
	return time.Duration(float64(d.Median) * math.Exp(d.sigma()*z))
}

// sample draws one latency from d using r.
func (d LatencyDist) sample(r *rand.Rand) time.Duration {
	if d.Median <= 0 {
		return 0
	}
	s := d.sigma()
	if s == 0 {
		return d.Median
	}
	v := time.Duration(float64(d.Median) * math.Exp(s*r.NormFloat64()))
	return min(v, maxFactor*d.P95)
}
