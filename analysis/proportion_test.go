package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMixtureIntegral checks the closed form of the truncated Beta
// mixtures against numerical integration of q^k (1−q)^(n−k) over the
// truncated prior.
func TestMixtureIntegral(t *testing.T) {
	tests := []struct {
		a, b, s, f, p0 float64
		upper          bool
	}{
		{1, 1, 3, 0, 0.05, true},
		{1, 10, 6, 94, 0.05, true},
		{1, 50, 2, 300, 0.01, true},
		{1, 1, 0, 400, 0.01, false},
		{1, 1, 1, 469, 0.002, false},
	}
	for _, tt := range tests {
		lo, hi := 0.0, tt.p0
		if tt.upper {
			lo, hi = tt.p0, 1
		}
		prior := func(q float64) float64 { return math.Pow(q, tt.a-1) * math.Pow(1-q, tt.b-1) }
		num := simpson(func(q float64) float64 { return math.Pow(q, tt.s) * math.Pow(1-q, tt.f) * prior(q) }, lo, hi)
		den := simpson(prior, lo, hi)
		want := math.Log(num / den)
		got := logTruncBetaRatio(tt.a, tt.b, tt.s, tt.f, tt.p0, tt.upper)
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("log mixture Beta(%g,%g) k=%g f=%g p0=%g upper=%v: got %.9g, want %.9g (numerical)",
				tt.a, tt.b, tt.s, tt.f, tt.p0, tt.upper, got, want)
		}
	}
}

func simpson(f func(float64) float64, a, b float64) float64 {
	const n = 200000
	h := (b - a) / n
	s := f(a) + f(b)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(a+float64(i)*h)
	}
	return s * h / 3
}

// TestProportionCases: the decisions issue 15 names.
func TestProportionCases(t *testing.T) {
	tests := []struct {
		name     string
		k, n     int64
		p0, conf float64
		above    bool
		below    bool
	}{
		// a dead canary: every request failing is evidence within 3
		{"3 of 3 failing vs 5% at 99%", 3, 3, 0.05, 0.99, true, false},
		{"8 of 8 failing vs 5% at 99%", 8, 8, 0.05, 0.99, true, false},
		{"2 of 2 failing vs 5% at 95%", 2, 2, 0.05, 0.95, true, false},
		// one stray error is not evidence: 2.13x as a point estimate
		{"1 error in 470 vs 2 × 0.1%", 1, 470, 0.002, 0.95, false, false},
		{"1 of 1 vs 5%", 1, 1, 0.05, 0.95, false, false},
		// showing a rate is under the threshold takes its scale in requests
		{"0 of 600 vs 1%", 0, 600, 0.01, 0.95, false, true},
		{"0 of 200 vs 1%", 0, 200, 0.01, 0.95, false, false},
		{"6 of 100 vs 1% at 95%", 6, 100, 0.01, 0.95, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProportionAbove(tt.k, tt.n, tt.p0, tt.conf); got != tt.above {
				t.Errorf("above = %v, want %v (evidence %+v)", got, tt.above, TestProportion(tt.k, tt.n, tt.p0))
			}
			if got := ProportionBelow(tt.k, tt.n, tt.p0, tt.conf); got != tt.below {
				t.Errorf("below = %v, want %v (evidence %+v)", got, tt.below, TestProportion(tt.k, tt.n, tt.p0))
			}
		})
	}
}

// TestProportionBounds: the bounds bracket the estimate and agree with
// the tests they invert.
func TestProportionBounds(t *testing.T) {
	for _, c := range []struct{ k, n int64 }{{0, 10}, {1, 470}, {3, 3}, {6, 100}, {50, 1000}, {999, 1000}} {
		lo, hi := ProportionLower(c.k, c.n, 0.95), ProportionUpper(c.k, c.n, 0.95)
		est := float64(c.k) / float64(c.n)
		if lo > est || hi < est || lo < 0 || hi > 1 {
			t.Errorf("%d of %d: bounds [%g, %g] do not bracket %g", c.k, c.n, lo, hi, est)
		}
		if lo > 0 && (!ProportionAbove(c.k, c.n, lo*0.999, 0.95) || ProportionAbove(c.k, c.n, lo*1.01, 0.95)) {
			t.Errorf("%d of %d: lower bound %g does not invert ProportionAbove", c.k, c.n, lo)
		}
		if hi < 1 && (!ProportionBelow(c.k, c.n, math.Min(hi*1.001, 1-1e-9), 0.95) || ProportionBelow(c.k, c.n, hi*0.99, 0.95)) {
			t.Errorf("%d of %d: upper bound %g does not invert ProportionBelow", c.k, c.n, hi)
		}
	}
}

// TestProportionRepeatedLooks: at p = p0, looking after every 10 requests
// up to 2,000, the share of streams ever judged above p0 stays within
// 1 − confidence (Ville), and likewise below. A fixed-sample test looked
// at this often would be wrong in most streams.
func TestProportionRepeatedLooks(t *testing.T) {
	const streams, looks, every, conf = 400, 200, 10, 0.9
	rng := rand.New(rand.NewPCG(15, 1))
	for _, p0 := range []float64{0.01, 0.05, 0.3} {
		var above, below int
		for range streams {
			var k, n int64
			a, b := false, false
			for range looks {
				for range every {
					n++
					if rng.Float64() < p0 {
						k++
					}
				}
				a = a || ProportionAbove(k, n, p0, conf)
				b = b || ProportionBelow(k, n, p0, conf)
			}
			if a {
				above++
			}
			if b {
				below++
			}
		}
		// 1 − confidence = 10%: 40 of 400, plus 3 standard deviations of
		// the binomial count (18).
		if above > 58 || below > 58 {
			t.Errorf("p = p0 = %g: %d and %d of %d streams ever judged above and below at 90%%, want ≤ 10%% (+ noise)",
				p0, above, below, streams)
		}
	}
}
