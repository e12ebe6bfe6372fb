package analysis

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestShiftTestAgainstR checks ShiftTest on shifts on the grid of 5%
// latency bins against R's wilcox.test and acf (testdata/shifts: `Rscript
// reference.R > reference.csv`), shifts equal to the tolerance computed
// as histogram data give them: from bin logarithms, off by an ulp: the
// p-value corrected for the shifts' autocorrelation, and the
// autocorrelation itself.
func TestShiftTestAgainstR(t *testing.T) {
	step := math.Log(1.05)
	for _, row := range readCSV(t, filepath.Join("testdata", "shifts", "reference.csv")) {
		var d []float64
		for _, f := range strings.Fields(row["k"]) {
			k, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatal(err)
			}
			// As the difference of two bins' logarithms: k·step plus rounding.
			d = append(d, (math.Log(0.2)+k*step)-math.Log(0.2))
		}
		tol, conf := num(t, row, "tol"), num(t, row, "conf")
		c, err := ShiftTest(d, tol, conf, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []struct {
			name      string
			got, want float64
		}{{"p", c.P, num(t, row, "p_corrected")}, {"estimate", c.Estimate, num(t, row, "median_walsh")},
			{"rho", Autocorrelation(snapped(d, math.Log1p(tol))), num(t, row, "rho")}} {
			if !closeTo(v.got, v.want, 1e-9, 1e-12) {
				t.Errorf("%s: %s = %.15g, want %.15g", row["name"], v.name, v.got, v.want)
			}
		}
		// The bounds and the p-value agree; a shift of one bin against a
		// tolerance of one bin is no breach.
		if (c.Outcome() == Worse) != (c.P <= 1-conf) {
			t.Errorf("%s: %s: outcome %s with p %v", row["name"], c, c.Outcome(), c.P)
		}
		if row["name"] == "one-bin" && c.Outcome() == Worse {
			t.Errorf("one-bin: every interval one bin (5%%) slower against worseBy 5%%: %s, want no breach", c)
		}
	}
}

// snapped is d with values within rounding of tol set to it, as
// ShiftTest sees them.
func snapped(d []float64, tol float64) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = v
		if math.Abs(v-tol) <= Roundoff(tol) {
			out[i] = tol
		}
	}
	return out
}

// TestOneBinShiftIsNoBreach is the rounding case of issue 16: every
// interval of the canary exactly one 5% bin slower than the stable's,
// against worseBy 5%, is not worse, though the logarithms of adjacent
// bins differ by log1p(0.05) plus rounding.
func TestOneBinShiftIsNoBreach(t *testing.T) {
	bins := make([]float64, 40)
	for k := range bins {
		bins[k] = 1e-4 * math.Pow(1.05, float64(k+100))
	}
	counts := make([]float64, 40)
	for k := range counts {
		counts[k] = math.Round(300 * math.Exp(-float64((k-20)*(k-20))/50))
	}
	var shifts []float64
	for range 20 {
		y, _ := NewHistogram(bins, counts)
		x, _ := NewHistogram(bins[1:], counts[:39]) // every request one bin up
		d, err := IntervalShift(x, y, true)
		if err != nil {
			t.Fatal(err)
		}
		shifts = append(shifts, d)
	}
	c, err := ShiftTest(shifts, 0.05, 0.99, true)
	if err != nil && err != ErrConstant {
		t.Fatal(err)
	}
	if err == nil && c.Outcome() == Worse {
		t.Errorf("one bin slower, worseBy one bin: %s, want no breach", c)
	}
	if c2, _ := ShiftTest(shifts, 0.04, 0.99, true); c2.Outcome() != Worse {
		t.Errorf("one bin slower, worseBy 4%%: %s, want worse", c2)
	}
}

// latencyNoise is the interval noise of an A/A rollout: each track's own
// lognormal latency factor (σ), AR(1) across intervals (rho), and a
// chance of a slow interval (latencies × slowBy) per track. Noise both
// tracks share cancels within an interval's shift, so it is left out.
type latencyNoise struct {
	sigma, rho, slow, slowBy float64
}

// falseBreaches simulates rollouts of 240 intervals (2 hours of 30s) of a
// canary (300 requests an interval) like the stable (5,700), latencies
// lognormal (σ 0.5) in 5% bins, and returns the share of rollouts in
// which ShiftTest over the last 10 intervals found the canary worse than
// worseBy at 99% at two looks in a row (a rule's for: 1m).
func falseBreaches(t *testing.T, rng *rand.Rand, n latencyNoise, worseBy float64, runs int) float64 {
	const intervals, window = 240, 10
	hist := func(requests, logFactor float64) Sample {
		var vals, counts []float64
		for k := -45; k <= 45; k++ { // ±4.4σ
			lo, hi := (float64(k)-0.5)*math.Log(1.05), (float64(k)+0.5)*math.Log(1.05)
			p := NormalCDF((hi-logFactor)/0.5) - NormalCDF((lo-logFactor)/0.5)
			if c := poissonDraw(rng, requests*p); c > 0 {
				vals, counts = append(vals, math.Exp(float64(k)*math.Log(1.05))), append(counts, c)
			}
		}
		s, err := NewWeighted(vals, counts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	breached := 0
	for range runs {
		var z [2]float64
		var shifts []float64
		streak := 0
		for i := range intervals {
			var f [2]float64
			for tr := range 2 {
				e := rng.NormFloat64()
				if i == 0 {
					z[tr] = e
				} else {
					z[tr] = n.rho*z[tr] + math.Sqrt(1-n.rho*n.rho)*e
				}
				f[tr] = n.sigma * z[tr]
				if rng.Float64() < n.slow {
					f[tr] += math.Log(n.slowBy)
				}
			}
			d, err := IntervalShift(hist(300, f[0]), hist(5700, f[1]), true)
			if err != nil {
				t.Fatal(err)
			}
			shifts = append(shifts, d)
			if len(shifts) > window {
				shifts = shifts[1:]
			}
			c, err := ShiftTest(shifts, worseBy, 0.99, true)
			if err == nil && c.Outcome() == Worse {
				streak++
			} else {
				streak = 0
			}
			if streak >= 2 {
				breached++
				break
			}
		}
	}
	return float64(breached) / float64(runs)
}

// poissonDraw draws a Poisson count (normal approximation above 40).
func poissonDraw(rng *rand.Rand, lambda float64) float64 {
	if lambda > 40 {
		return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64()))
	}
	l, k, p := math.Exp(-lambda), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// TestShiftTestAA: A/A rollouts with correlated noise, 2,000 each: a
// canary like the stable is found worse (at two looks in a row) in at
// most α = 1% of 2-hour rollouts, plus three standard errors, when
// worseBy exceeds the interval-to-interval noise of the shifts; a test on
// every request (Mann-Whitney on the pooled window) would breach far more
// often under the same noise (docs/statistics.md).
func TestShiftTestAA(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	tests := []struct {
		name    string
		noise   latencyNoise
		worseBy float64
	}{
		{"own 5%, worseBy 10%", latencyNoise{sigma: 0.05}, 0.10},
		{"own 5% autocorrelated 0.5, slow 1% ×2, worseBy 20%", latencyNoise{0.05, 0.5, 0.01, 2}, 0.20},
		// worseBy at the noise of one track's interval and at the 5%
		// bins' width: through the engine, under this noise plus shared
		// noise, 6% of healthy rollouts breached before the
		// autocorrelation correction (docs/statistics.md).
		{"own 5% autocorrelated 0.5, slow 1% ×1.5, worseBy 5%", latencyNoise{0.05, 0.5, 0.01, 1.5}, 0.05},
	}
	const runs = 2000
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 16))
			rate := falseBreaches(t, rng, tt.noise, tt.worseBy, runs)
			limit := 0.01 + 3*math.Sqrt(0.01*0.99/runs)
			t.Logf("false breaches %.4f of %d rollouts (limit %.4f)", rate, runs, limit)
			if rate > limit {
				t.Errorf("false breaches %.4f, want at most %.4f", rate, limit)
			}
		})
	}
}
