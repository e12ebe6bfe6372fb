package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func lognormals(rng *rand.Rand, n int, median, sigma float64) []float64 {
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = median * math.Exp(sigma*rng.NormFloat64())
	}
	return vs
}

func mustSample(t *testing.T, vs []float64) Sample {
	t.Helper()
	s, err := NewSample(vs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sizes covers the exact and the asymptotic paths.
var sizes = [][2]int{{5, 7}, {12, 9}, {30, 45}, {60, 80}, {300, 250}}

// TestMannWhitneySwapSymmetry: comparing the stable with the canary is
// the mirror image of comparing the canary with the stable.
func TestMannWhitneySwapSymmetry(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range sizes {
		x := mustSample(t, lognormals(rng, sz[0], 0.5, 0.4))
		y := mustSample(t, lognormals(rng, sz[1], 0.45, 0.4))
		a, err := MannWhitney(x, y, 0, 0.99)
		if err != nil {
			t.Fatal(err)
		}
		b, err := MannWhitney(y, x, 0, 0.99)
		if err != nil {
			t.Fatal(err)
		}
		if a.Estimate != -b.Estimate || a.Lower != -b.Upper || a.Upper != -b.Lower {
			t.Errorf("n=%v: %s swapped gives %s, want the mirror image", sz, a, b)
		}
		ug, _ := MannWhitneyU(x, y, 0, Greater)
		ul, _ := MannWhitneyU(y, x, 0, Less)
		if !closeTo(ug.P, ul.P, 1e-9, 0) || ug.U+ul.U != x.N()*y.N() {
			t.Errorf("n=%v: greater(x,y) p=%v U=%v, less(y,x) p=%v U=%v", sz, ug.P, ug.U, ul.P, ul.U)
		}
	}
}

// TestMannWhitneyShiftInvariance: moving both samples by the same amount
// changes nothing; moving the canary alone moves the estimate and the
// bounds by that amount and leaves the test of the moved tolerance alone.
func TestMannWhitneyShiftInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sz := range sizes {
		xs, ys := lognormals(rng, sz[0], 0.5, 0.4), lognormals(rng, sz[1], 0.45, 0.4)
		base, err := MannWhitney(mustSample(t, xs), mustSample(t, ys), 0.01, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		add := func(vs []float64, d float64) []float64 {
			out := make([]float64, len(vs))
			for i, v := range vs {
				out[i] = v + d
			}
			return out
		}
		both, _ := MannWhitney(mustSample(t, add(xs, 3)), mustSample(t, add(ys, 3)), 0.01, 0.95)
		const eps = 1e-9
		if !closeTo(both.Estimate, base.Estimate, 0, eps) || !closeTo(both.Lower, base.Lower, 0, eps) ||
			!closeTo(both.Upper, base.Upper, 0, eps) || !closeTo(both.P, base.P, 1e-9, 0) {
			t.Errorf("n=%v: both shifted by 3: %s, want %s", sz, both, base)
		}
		canary, _ := MannWhitney(mustSample(t, add(xs, 0.25)), mustSample(t, ys), 0.26, 0.95)
		if !closeTo(canary.Estimate, base.Estimate+0.25, 0, eps) || !closeTo(canary.Lower, base.Lower+0.25, 0, eps) ||
			!closeTo(canary.Upper, base.Upper+0.25, 0, eps) || !closeTo(canary.P, base.P, 1e-9, 0) {
			t.Errorf("n=%v: canary shifted by 0.25, tolerance too: %s, want %s moved by 0.25", sz, canary, base)
		}
	}
}

// TestWeightedEqualsExpanded: a histogram (values with counts) gives the
// same answers as the requests it counts.
func TestWeightedEqualsExpanded(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	bins := func(n int, median float64) (vals, counts, expanded []float64) {
		m := map[float64]float64{}
		for _, v := range lognormals(rng, n, median, 0.5) {
			b := math.Round(math.Log(v)/math.Log(1.1)) * math.Log(1.1)
			m[math.Exp(b)]++
		}
		for v, c := range m {
			vals, counts = append(vals, v), append(counts, c)
			for range int(c) {
				expanded = append(expanded, v)
			}
		}
		return
	}
	xv, xc, xe := bins(400, 0.3)
	yv, yc, ye := bins(900, 0.25)
	xw, _ := NewWeighted(xv, xc)
	yw, _ := NewWeighted(yv, yc)
	a, err := MannWhitney(xw, yw, 0.01, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := MannWhitney(mustSample(t, xe), mustSample(t, ye), 0.01, 0.99)
	if a != b {
		t.Errorf("weighted %s, expanded %s", a, b)
	}
}

// TestPairDiffAtBruteForce checks the order statistics of the pairwise
// differences against sorting all of them.
func TestPairDiffAtBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 50 {
		nx, ny := 1+rng.IntN(20), 1+rng.IntN(20)
		var xs, ys, xc, yc []float64
		for range nx {
			xs, xc = append(xs, math.Round(rng.NormFloat64()*5)), append(xc, float64(1+rng.IntN(3)))
		}
		for range ny {
			ys, yc = append(ys, math.Round(rng.NormFloat64()*5)), append(yc, float64(1+rng.IntN(3)))
		}
		x, _ := NewWeighted(xs, xc)
		y, _ := NewWeighted(ys, yc)
		var all []float64
		for i, xv := range xs {
			for j, yv := range ys {
				for range int(xc[i] * yc[j]) {
					all = append(all, xv-yv)
				}
			}
		}
		slices.Sort(all)
		for k := 1; k <= len(all); k++ {
			if got := pairDiffAt(x, y, float64(k)); got != all[k-1] {
				t.Fatalf("k=%d: got %v, want %v", k, got, all[k-1])
			}
		}
	}
}

func TestMannWhitneyRelative(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	xs := lognormals(rng, 2000, 0.5*1.3, 0.4)
	ys := lognormals(rng, 3000, 0.5, 0.4)
	c, err := MannWhitneyRelative(mustSample(t, xs), mustSample(t, ys), 0.1, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	if c.Outcome() != Worse || c.Lower > 0.3 || c.Upper < 0.3 {
		t.Errorf("a 30%% slower canary with a 10%% tolerance: %s, want worse with 0.3 inside the bounds", c)
	}
	c, _ = MannWhitneyRelative(mustSample(t, lognormals(rng, 2000, 0.5, 0.4)), mustSample(t, ys), 0.1, 0.99)
	if c.Outcome() != NotWorse {
		t.Errorf("an equal canary with a 10%% tolerance: %s, want not worse", c)
	}
	if _, err := MannWhitneyRelative(mustSample(t, []float64{0, 1}), mustSample(t, []float64{1, 2}), 0.1, 0.99); err == nil {
		t.Error("a zero latency: no error")
	}
}

func TestMannWhitneyErrors(t *testing.T) {
	one := mustSample(t, []float64{1})
	if _, err := MannWhitney(Sample{}, one, 0, 0.99); err != ErrEmpty {
		t.Errorf("empty: %v, want ErrEmpty", err)
	}
	same := mustSample(t, []float64{1, 1, 1})
	if _, err := MannWhitneyU(same, same, 0, Greater); err != ErrConstant {
		t.Errorf("constant: %v, want ErrConstant", err)
	}
	if _, err := NewSample([]float64{math.NaN()}); err == nil {
		t.Error("NaN: no error")
	}
}

// TestMannWhitneyTooFew: with too few values no bound reaches the
// confidence, so none is given and the comparison is inconclusive, even
// when every canary value is above every stable value.
func TestMannWhitneyTooFew(t *testing.T) {
	x := mustSample(t, []float64{10, 11, 12})
	y := mustSample(t, []float64{1, 2, 3})
	c, err := MannWhitney(x, y, 0, 0.99) // P(U = 9) = 1/20 > 1%
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(c.Lower, -1) || !math.IsInf(c.Upper, 1) || c.Outcome() != Inconclusive {
		t.Errorf("3 vs 3 at 99%%: %s, outcome %s; want no bounds, inconclusive", c, c.Outcome())
	}
	c, _ = MannWhitney(x, y, 0, 0.9)
	if c.Outcome() != Worse || c.Lower != 7 {
		t.Errorf("3 vs 3 at 90%%: %s; want worse, lower bound 7 (the smallest difference)", c)
	}
}
