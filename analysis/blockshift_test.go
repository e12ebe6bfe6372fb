package analysis

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// rollouts are simulated rollouts of 240 intervals (2 hours of 30s) of a
// canary (300 requests an interval) and the stable (5,700), latencies
// lognormal (σ 0.5) in 5% bins: per interval the shift of the canary's
// log latencies over the stable's (IntervalShift) and both tracks' P95.
type rollouts struct {
	shifts, canaryP95, stableP95 [][]float64
}

// simulateRollouts draws runs rollouts under noise n, the canary slower
// by the factor exp(slower) from interval from on (0: like the stable).
func simulateRollouts(rng *rand.Rand, n latencyNoise, slower float64, from, runs int) rollouts {
	const intervals = 240
	hist := func(requests, logFactor float64) Sample {
		var vals, counts []float64
		for k := -45; k <= 60; k++ { // -4.4σ to +5.9σ
			lo, hi := (float64(k)-0.5)*math.Log(1.05), (float64(k)+0.5)*math.Log(1.05)
			p := NormalCDF((hi-logFactor)/0.5) - NormalCDF((lo-logFactor)/0.5)
			if c := poissonDraw(rng, requests*p); c > 0 {
				vals, counts = append(vals, math.Exp(float64(k)*math.Log(1.05))), append(counts, c)
			}
		}
		s, err := NewWeighted(vals, counts)
		if err != nil {
			panic(err)
		}
		return s
	}
	var out rollouts
	for range runs {
		var z [2]float64
		var shifts, cq, sq []float64
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
			if i >= from {
				f[0] += slower
			}
			x, y := hist(300, f[0]), hist(5700, f[1])
			d, err := IntervalShift(x, y, true)
			if err != nil {
				panic(err)
			}
			shifts, cq, sq = append(shifts, d), append(cq, x.Quantile(0.95)), append(sq, y.Quantile(0.95))
		}
		out.shifts, out.canaryP95, out.stableP95 = append(out.shifts, shifts), append(out.canaryP95, cq), append(out.stableP95, sq)
	}
	return out
}

// judged is a test of a window of intervals [lo, hi) of rollout r.
type judged func(r, lo, hi int) (Comparison, error)

// breaches returns the share of rollouts in which test, over the last 10
// intervals at each, found the canary worse at two looks in a row (a
// rule's for: 1m), and the detection times in intervals from interval
// from, sorted.
func breaches(runs int, from int, test judged) (float64, []int) {
	const intervals, window = 240, 10
	breached := 0
	var found []int
	for r := range runs {
		streak := 0
		for i := range intervals {
			c, err := test(r, max(0, i+1-window), i+1)
			if err == nil && c.Outcome() == Worse {
				streak++
			} else {
				streak = 0
			}
			if streak >= 2 {
				breached++
				found = append(found, i+1-from)
				break
			}
		}
	}
	slices.Sort(found)
	return float64(breached) / float64(runs), found
}

// shiftTests is ShiftTest at worseBy and 99% over ro's shifts.
func shiftTests(ro rollouts, worseBy float64) judged {
	return func(r, lo, hi int) (Comparison, error) {
		return ShiftTest(ro.shifts[r][lo:hi], worseBy, 0.99, true)
	}
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

// arRollouts are the 2,000 A/A rollouts under each track's own 5% noise,
// AR(1) 0.5, slow intervals 1% ×1.5, simulated once for both A/A tests.
var arRollouts = sync.OnceValue(func() rollouts {
	return simulateRollouts(rand.New(rand.NewPCG(2, 16)), latencyNoise{0.05, 0.5, 0.01, 1.5}, 0, 0, 2000)
})

// aaLimit is α = 1% plus three standard errors over runs rollouts.
func aaLimit(runs int) float64 { return 0.01 + 3*math.Sqrt(0.01*0.99/float64(runs)) }

// TestShiftTestAA: A/A rollouts with correlated noise, 2,000 each: a
// canary like the stable is found worse (at two looks in a row) in at
// most α = 1% of 2-hour rollouts as an estimate, with three standard
// errors of slack for the sampling, when worseBy is at least the
// interval-to-interval noise of one track; a test on every request
// (Mann-Whitney on the pooled window) would breach far more often under
// the same noise (docs/statistics.md).
func TestShiftTestAA(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	const runs = 2000
	own := simulateRollouts(rand.New(rand.NewPCG(0, 16)), latencyNoise{sigma: 0.05}, 0, 0, runs)
	ar := arRollouts()
	tests := []struct {
		name    string
		ro      rollouts
		worseBy float64
	}{
		{"own 5%, worseBy 10%", own, 0.10},
		{"own 5% autocorrelated 0.5, slow 1% ×1.5, worseBy 20%", ar, 0.20},
		// worseBy at the noise of one track's interval and at the 5%
		// bins' width: through the engine, under this noise plus shared
		// noise, 6% of healthy rollouts breached before the
		// autocorrelation correction, 1.7% with it and no floor under
		// the estimate (docs/statistics.md).
		{"own 5% autocorrelated 0.5, slow 1% ×1.5, worseBy 5%", ar, 0.05},
		{"own 5% autocorrelated 0.5, slow 1% ×1.5, worseBy 7%", ar, 0.07},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rate, _ := breaches(runs, 0, shiftTests(tt.ro, tt.worseBy))
			t.Logf("false breaches %.4f of %d rollouts (limit %.4f)", rate, runs, aaLimit(runs))
			if rate > aaLimit(runs) {
				t.Errorf("false breaches %.4f, want at most %.4f", rate, aaLimit(runs))
			}
		})
	}
	// The uncorrected test (the signed-rank test as if the intervals were
	// independent) breaches far beyond α under the same noise: the
	// correction is what keeps the promise.
	plain, _ := breaches(runs, 0, func(r, lo, hi int) (Comparison, error) {
		return SignedRank(ar.shifts[r][lo:hi], math.Log1p(0.07), 0.99)
	})
	t.Logf("uncorrected, worseBy 7%%: false breaches %.4f", plain)
	if plain < 2*aaLimit(runs) {
		t.Errorf("uncorrected false breaches %.4f: the noise no longer tests the correction", plain)
	}
}

// TestQuantilePairsAA: the same A/A rollouts judged on per-interval P95
// pairs (a source without histograms, QuantilePairsTest) keep α as an
// estimate under autocorrelated noise, where the signed-rank test on the
// pairs as if independent does not.
func TestQuantilePairsAA(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	const runs = 2000
	ro := arRollouts()
	for _, worseBy := range []float64{0.05, 0.07, 0.10} {
		rate, _ := breaches(runs, 0, func(r, lo, hi int) (Comparison, error) {
			return QuantilePairsTest(ro.canaryP95[r][lo:hi], ro.stableP95[r][lo:hi], worseBy, 0.99, true)
		})
		plain, _ := breaches(runs, 0, func(r, lo, hi int) (Comparison, error) {
			return SignedRankRelative(ro.canaryP95[r][lo:hi], ro.stableP95[r][lo:hi], worseBy, 0.99)
		})
		t.Logf("worseBy %.0f%%: false breaches %.4f corrected, %.4f uncorrected, of %d (limit %.4f)", worseBy*100, rate, plain, runs, aaLimit(runs))
		if rate > aaLimit(runs) {
			t.Errorf("worseBy %.0f%%: false breaches %.4f, want at most %.4f", worseBy*100, rate, aaLimit(runs))
		}
	}
}

// TestShiftTestPower: what the correction costs. Under the same noise a
// canary 45% slower from 10 minutes into the rollout is found worse than
// worseBy 20% in every rollout, half of them within 10 minutes (20
// intervals; 18 before the floor under the autocorrelation, 9 at best:
// the window must fill with slow intervals), and 20% slower against
// worseBy 5% likewise.
func TestShiftTestPower(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	const runs = 200
	noise := latencyNoise{0.05, 0.5, 0.01, 1.5}
	for _, c := range []struct {
		slower, worseBy float64
		from, median    int
	}{{0.45, 0.20, 20, 20}, {0.20, 0.05, 0, 22}} {
		ro := simulateRollouts(rand.New(rand.NewPCG(4, uint64(c.from))), noise, math.Log1p(c.slower), c.from, runs)
		rate, found := breaches(runs, c.from, shiftTests(ro, c.worseBy))
		t.Logf("%.0f%% slower from interval %d against worseBy %.0f%%: found in %.3f, median %d intervals", c.slower*100, c.from, c.worseBy*100, rate, found[len(found)/2])
		if rate < 1 || found[len(found)/2] > c.median {
			t.Errorf("found in %.3f of rollouts, median %d intervals; want all, median at most %d", rate, found[len(found)/2], c.median)
		}
	}
}
