package analysis

import (
	"math"
	"slices"
	"sync"
)

// SignedRank compares paired values: d[i] is the canary's value minus the
// stable's in the same interval (or the difference of their logarithms).
// Pairing cancels what both tracks share in an interval (load, a slow
// dependency), which an unpaired rank test counts as noise. It is the
// Wilcoxon signed-rank test with the Hodges-Lehmann estimate (the median
// of the Walsh averages (dᵢ + dⱼ)/2, i ≤ j) and its one-sided bounds at
// confidence, computed as R's wilcox.test(x, y, paired = TRUE, mu =
// tolerance, conf.int = TRUE): exact for fewer than 50 pairs without ties
// or zeros, otherwise the normal approximation with tie and continuity
// corrections. P is the one-sided p-value of "shifted by at most
// tolerance". Bounds the data are too few for at this confidence are
// infinite.
func SignedRank(d []float64, tolerance, confidence float64) (Comparison, error) {
	if err := checkConfidence(confidence); err != nil {
		return Comparison{}, err
	}
	if len(d) == 0 {
		return Comparison{}, ErrEmpty
	}
	for _, v := range d {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Comparison{}, ErrInvalid
		}
	}
	c := Comparison{Test: TestSignedRank, Tolerance: tolerance, Confidence: confidence,
		CanaryN: float64(len(d)), StableN: float64(len(d))}
	p, exact, err := signedRankP(d, tolerance)
	if err != nil {
		return Comparison{}, err
	}
	c.P, c.Exact = p, exact
	// Like R (and SciPy's default), pairs whose difference is exactly the
	// tolerance carry no sign and are dropped, from the bounds too.
	kept := make([]float64, 0, len(d))
	for _, v := range d {
		if v-tolerance != 0 {
			kept = append(kept, v)
		}
	}
	walsh := walshAverages(kept)
	c.Estimate = median(walsh)
	c.Lower, c.Upper = walshBounds(kept, walsh, confidence, exact)
	return c, nil
}

// TestSignedRank names the paired test in Comparison.Test.
const TestSignedRank = "signed-rank"

// SignedRankRelative is SignedRank on ratios canary/stable of positive
// paired values, reported as relative changes (0.25: 25% higher).
func SignedRankRelative(canary, stable []float64, tolerance, confidence float64) (Comparison, error) {
	if len(canary) != len(stable) || tolerance <= -1 {
		return Comparison{}, ErrInvalid
	}
	d := make([]float64, len(canary))
	for i := range canary {
		if !(canary[i] > 0 && stable[i] > 0) {
			return Comparison{}, ErrInvalid
		}
		d[i] = math.Log(canary[i]) - math.Log(stable[i])
	}
	c, err := SignedRank(d, math.Log1p(tolerance), confidence)
	if err != nil {
		return Comparison{}, err
	}
	c.Estimate, c.Lower, c.Upper = math.Expm1(c.Estimate), math.Expm1(c.Lower), math.Expm1(c.Upper)
	c.Tolerance = tolerance
	return c, nil
}

// signedRankP is the one-sided p-value of V, the sum of the ranks of the
// positive dᵢ − mu (zeros dropped), as R computes it.
func signedRankP(d []float64, mu float64) (p float64, exact bool, err error) {
	var x []float64
	for _, v := range d {
		if v-mu != 0 {
			x = append(x, v-mu)
		}
	}
	n := len(x)
	if n == 0 {
		return 0, false, ErrConstant
	}
	abs := make([]float64, n)
	for i, v := range x {
		abs[i] = math.Abs(v)
	}
	ranks, ties := midranks(abs)
	v := 0.0
	for i, r := range ranks {
		if x[i] > 0 {
			v += r
		}
	}
	zeros := n != len(d)
	if n < exactLimit && ties == 0 && !zeros {
		dist := signRankDist(n)
		return dist.upper(int(math.Round(v))), true, nil
	}
	nf := float64(n)
	sigma := math.Sqrt(nf*(nf+1)*(2*nf+1)/24 - ties/48)
	if sigma == 0 {
		return 0, false, ErrConstant
	}
	z := (v - nf*(nf+1)/4 - 0.5) / sigma
	return NormalSurvival(z), false, nil
}

// midranks returns the ranks of vs (1-based, ties averaged) and Σ(t³ − t)
// over groups of ties.
func midranks(vs []float64) ([]float64, float64) {
	idx := make([]int, len(vs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case vs[a] < vs[b]:
			return -1
		case vs[a] > vs[b]:
			return 1
		}
		return 0
	})
	ranks := make([]float64, len(vs))
	ties := 0.0
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && vs[idx[j]] == vs[idx[i]] {
			j++
		}
		r := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			ranks[idx[k]] = r
		}
		if t := float64(j - i); t > 1 {
			ties += t*t*t - t
		}
		i = j
	}
	return ranks, ties
}

// walshAverages returns the sorted (dᵢ + dⱼ)/2 for i ≤ j.
func walshAverages(d []float64) []float64 {
	w := make([]float64, 0, len(d)*(len(d)+1)/2)
	for i := range d {
		for j := i; j < len(d); j++ {
			w = append(w, (d[i]+d[j])/2)
		}
	}
	slices.Sort(w)
	return w
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// walshBounds returns the one-sided bounds at confidence: order
// statistics of the Walsh averages, with the rank from the exact
// distribution of V (R's qsignrank) or its normal approximation.
func walshBounds(d, walsh []float64, confidence float64, exact bool) (lo, hi float64) {
	n := float64(len(d))
	m := float64(len(walsh))
	var kLo, kHi float64
	if exact {
		q := float64(signRankDist(len(d)).quantile(1 - confidence))
		kLo, kHi = q, m-q+1
	} else {
		// At a shift between two Walsh averages only equal differences tie.
		_, ties := midranks(d)
		sigma := math.Sqrt(n*(n+1)*(2*n+1)/24 - ties/48)
		z := std.Quantile(confidence)
		kLo = m + 1 - math.Ceil(m/2+0.5+z*sigma)
		kHi = m + 1 - math.Ceil(m/2-0.5-z*sigma)
	}
	lo, hi = math.Inf(-1), math.Inf(1)
	if kLo >= 1 {
		lo = walsh[int(math.Min(kLo, m))-1]
	}
	if kHi <= m {
		hi = walsh[int(math.Max(kHi, 1))-1]
	}
	return lo, hi
}

// signRankDists caches exact distributions by n.
var signRankDists sync.Map // int → *dist

// signRankDist returns the exact null distribution of V for n pairs: each
// rank 1..n is positive with probability one half, f(n, v) = f(n−1, v) +
// f(n−1, v − n).
func signRankDist(n int) *dist {
	if d, ok := signRankDists.Load(n); ok {
		return d.(*dist)
	}
	size := n*(n+1)/2 + 1
	f := make([]float64, size)
	f[0] = 1
	for k := 1; k <= n; k++ {
		for v := k * (k + 1) / 2; v >= k; v-- {
			f[v] += f[v-k]
		}
	}
	total := math.Ldexp(1, n)
	d := &dist{p: make([]float64, size)}
	for v, c := range f {
		d.p[v] = c / total
	}
	signRankDists.Store(n, d)
	return d
}
