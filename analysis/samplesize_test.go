package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func TestQuantileRequests(t *testing.T) {
	for _, tt := range []struct {
		q    float64
		want int64
	}{{0.5, 10}, {0.9, 50}, {0.95, 100}, {0.99, 500}, {0.999, 5000}} {
		if got := QuantileRequests(tt.q); got != tt.want {
			t.Errorf("QuantileRequests(%v) = %d, want %d", tt.q, got, tt.want)
		}
	}
}

func TestMinIntervals(t *testing.T) {
	// 2⁻³ > 10% ≥ 2⁻⁴; 2⁻⁶ > 1% ≥ 2⁻⁷; 2⁻⁹ > 0.1% ≥ 2⁻¹⁰.
	for _, tt := range []struct {
		conf float64
		want int
	}{{0.9, 4}, {0.99, 7}, {0.999, 10}} {
		if got := MinIntervals(tt.conf); got != tt.want {
			t.Errorf("MinIntervals(%v) = %d, want %d", tt.conf, got, tt.want)
		}
	}
	// And the test agrees: with that many pairs all worse, the lower bound
	// exists; with one fewer it does not.
	for _, conf := range []float64{0.99, 0.999} {
		k := MinIntervals(conf)
		for _, n := range []int{k - 1, k} {
			var d []float64
			for i := range n {
				d = append(d, 1+float64(i))
			}
			c, _ := SignedRank(d, 0, conf)
			if got := !math.IsInf(c.Lower, -1); got != (n == k) {
				t.Errorf("confidence %v, %d pairs: lower bound %v", conf, n, c.Lower)
			}
		}
	}
}

// TestErrorSampleSizeMatchesTest checks the arithmetic against the test
// itself: at RequestsToPass a canary like the stable passes about
// Power of the time, and a canary worse by DetectableErrorDiff is found
// worse about Power of the time.
func TestErrorSampleSizeMatchesTest(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	const p0, tol, conf, ratio = 0.001, 0.0025, 0.99996, 19.0
	tau := MixtureScale(tol)
	rng := rand.New(rand.NewPCG(21, 22))
	frac := func(n, diff float64, want Outcome) float64 {
		bc := distuv.Binomial{N: math.Round(n), P: p0 + diff, Src: rng}
		bs := distuv.Binomial{N: math.Round(n * ratio), P: p0, Src: rng}
		hits := 0
		const runs = 2000
		for range runs {
			c, err := CompareErrorRates(Counts{math.Round(n), bc.Rand(), math.Round(n * ratio), bs.Rand()}, tol, conf, tau)
			if err != nil {
				t.Fatal(err)
			}
			if c.Outcome() == want {
				hits++
			}
		}
		return float64(hits) / runs
	}
	n := RequestsToPass(ratio, p0, tol, conf, tau)
	if got := frac(n, 0, NotWorse); got < 0.7 || got > 0.95 {
		t.Errorf("after RequestsToPass = %.0f requests a healthy canary passed %.2f of the time, want about %.1f", n, got, Power)
	}
	d := DetectableErrorDiff(n, n*ratio, p0, tol, conf, tau)
	if got := frac(n, d, Worse); got < 0.7 || got > 0.95 {
		t.Errorf("a canary worse by DetectableErrorDiff = %.4f was found worse %.2f of the time, want about %.1f", d, got, Power)
	}
	t.Logf("pass after %.0f canary requests; then detects +%.3fpp", n, 100*d)
}

func TestDetectableShiftMatchesTest(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	const n, m, sigma, tol, conf = 600, 6000, 0.5, 0.2, 0.999
	shift := DetectableShift(n, m, sigma, tol, conf)
	rng := rand.New(rand.NewPCG(23, 24))
	hits := 0
	const runs = 300
	for range runs {
		x := mustSample(t, lognormals(rng, n, 0.2*(1+shift), sigma))
		y := mustSample(t, lognormals(rng, m, 0.2, sigma))
		c, err := MannWhitneyRelative(x, y, tol, conf)
		if err != nil {
			t.Fatal(err)
		}
		if c.Outcome() == Worse {
			hits++
		}
	}
	if got := float64(hits) / runs; got < 0.7 || got > 0.92 {
		t.Errorf("a canary %.1f%% slower was found worse %.2f of the time, want about %.1f", 100*shift, got, Power)
	}
}

func TestSampleSizeLimits(t *testing.T) {
	if got := DetectableErrorDiff(0, 100, 0.001, 0.0025, 0.99, 0.01); !math.IsInf(got, 1) {
		t.Errorf("no canary requests: detectable %v, want +Inf", got)
	}
	if got := RequestsToPass(19, 0.001, 0, 0.99, 0.01); !math.IsInf(got, 1) {
		t.Errorf("tolerance 0: %v requests, want +Inf (never shown)", got)
	}
	a, b := RequestsToPass(19, 0.001, 0.0025, 0.99, 0.01), RequestsToPass(19, 0.001, 0.005, 0.99, 0.01)
	if !(a > 2*b) {
		t.Errorf("halving the tolerance: %v requests vs %v, want more than twice as many", a, b)
	}
}

// TestRateExceedingMatchesWindows: windows of n requests at the ratio
// RateExceeding returns exceed the threshold about Power of the time, and
// windows at the threshold itself about half the time or less.
func TestRateExceedingMatchesWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	over := func(n, p, threshold float64) float64 {
		b := distuv.Binomial{N: n, P: p, Src: rng}
		hits := 0
		const runs = 4000
		for range runs {
			if b.Rand()/n > threshold {
				hits++
			}
		}
		return float64(hits) / runs
	}
	tests := []struct{ threshold, n float64 }{{0.01, 2000}, {0.05, 500}, {0.2, 100}}
	for _, tt := range tests {
		r := RateExceeding(tt.threshold, tt.n)
		if r <= tt.threshold || r >= 1 {
			t.Fatalf("RateExceeding(%v, %v) = %v, want between the threshold and 1", tt.threshold, tt.n, r)
		}
		if got := over(tt.n, r, tt.threshold); got < 0.72 || got > 0.88 {
			t.Errorf("threshold %v, %v requests: windows at %.4f exceed it %.3f of the time, want about %.1f", tt.threshold, tt.n, r, got, Power)
		}
		if got := over(tt.n, tt.threshold, tt.threshold); got > 0.55 {
			t.Errorf("threshold %v, %v requests: windows at the threshold exceed it %.3f of the time, want at most about half", tt.threshold, tt.n, got)
		}
	}
}
