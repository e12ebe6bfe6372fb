package analysis

import (
	"math"
	"sync"
)

// dist is the exact null distribution of U for samples of n and m
// distinct values: p[u] = P(U = u), u = 0..n·m.
type dist struct{ p []float64 }

// wilcoxDists caches distributions by sample sizes; they are pure.
var wilcoxDists sync.Map // [2]int → *dist

// wilcoxDist returns the exact distribution of U for sizes n and m. The
// count of arrangements with U = u follows f(n,m,u) = f(n−1,m,u−m) +
// f(n,m−1,u): the largest value is either an x (beating all m y's) or a y.
func wilcoxDist(n, m int) *dist {
	key := [2]int{n, m}
	if d, ok := wilcoxDists.Load(key); ok {
		return d.(*dist)
	}
	size := n*m + 1
	// row[j] holds f(i, j, ·) for the current i.
	prev := make([][]float64, m+1)
	for j := range prev {
		prev[j] = make([]float64, size)
		prev[j][0] = 1 // f(0, j, 0) = 1
	}
	cur := make([][]float64, m+1)
	for j := range cur {
		cur[j] = make([]float64, size)
	}
	for i := 1; i <= n; i++ {
		clear(cur[0])
		cur[0][0] = 1 // f(i, 0, 0) = 1
		for j := 1; j <= m; j++ {
			c, up, left := cur[j], prev[j], cur[j-1]
			for u := range c {
				v := left[u]
				if u >= j {
					v += up[u-j]
				}
				c[u] = v
			}
		}
		prev, cur = cur, prev
	}
	counts := prev[m]
	total := 0.0
	for _, c := range counts {
		total += c
	}
	d := &dist{p: make([]float64, size)}
	for u, c := range counts {
		d.p[u] = c / total
	}
	wilcoxDists.Store(key, d)
	return d
}

// cdf is P(U ≤ u).
func (d *dist) cdf(u int) float64 {
	s := 0.0
	for k := 0; k <= u && k < len(d.p); k++ {
		s += d.p[k]
	}
	return math.Min(s, 1)
}

// upper is P(U ≥ u).
func (d *dist) upper(u int) float64 {
	s := 0.0
	for k := max(u, 0); k < len(d.p); k++ {
		s += d.p[k]
	}
	return math.Min(s, 1)
}

// quantile is the smallest q with P(U ≤ q) ≥ p, computed as R's qwilcox
// does (with its 10·ε fuzz), so bounds match R's exactly.
func (d *dist) quantile(p float64) int {
	const eps = 2.220446049250313e-16
	nm := len(d.p) - 1
	cum := 0.0
	if p <= 0.5 {
		p -= 10 * eps
		for q := 0; q <= nm; q++ {
			cum += d.p[q]
			if cum >= p {
				return q
			}
		}
		return nm
	}
	p = 1 - p + 10*eps
	for q := 0; q <= nm; q++ {
		cum += d.p[q]
		if cum > p {
			return nm - q
		}
	}
	return 0
}

// HodgesLehmann returns the Hodges-Lehmann estimate of the shift of x
// over y: the median of all pairwise differences xᵢ − yⱼ (each weighted by
// the product of the counts). It takes O((n + m)·log) time over the
// distinct values, not O(n·m), so it suits per-request histograms. NaN for
// an empty sample.
func HodgesLehmann(x, y Sample) float64 {
	if x.n == 0 || y.n == 0 {
		return math.NaN()
	}
	n := x.n * y.n
	if n == math.Trunc(n) && math.Mod(n, 2) == 0 {
		return (pairDiffAt(x, y, n/2) + pairDiffAt(x, y, n/2+1)) / 2
	}
	return pairDiffAt(x, y, math.Ceil(n/2))
}

// pairDiffAt returns the k-th smallest (1-based) pairwise difference
// xᵢ − yⱼ, each counted cxᵢ·cyⱼ times: the smallest difference d with at
// least k differences ≤ d. It bisects on the value with a linear count
// until no other difference lies between the bracket's lower end and the
// answer, so it takes as many steps as it needs to separate the answer
// from the difference before it.
func pairDiffAt(x, y Sample, k float64) float64 {
	lo := x.vals[0] - y.vals[len(y.vals)-1]
	hi := x.vals[len(x.vals)-1] - y.vals[0]
	suffix := suffixCounts(y)
	if countLE(x, y, suffix, lo) >= k {
		return lo
	}
	// Invariant: countLE(lo) < k ≤ countLE(hi).
	for range 2000 {
		if next := smallestAbove(x, y, lo); countLE(x, y, suffix, next) >= k {
			return next
		}
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if countLE(x, y, suffix, mid) >= k {
			hi = mid
		} else {
			lo = mid
		}
	}
	return smallestAbove(x, y, lo)
}

// countLE is the weighted number of pairs with xᵢ − yⱼ ≤ d. For each xᵢ
// (increasing) the yⱼ with xᵢ − yⱼ ≤ d are a suffix of y whose start only
// moves right. suffix is suffixCounts(y).
func countLE(x, y Sample, suffix []float64, d float64) float64 {
	total := 0.0
	j := 0
	for i, xv := range x.vals {
		for j < len(y.vals) && xv-y.vals[j] > d {
			j++
		}
		total += x.counts[i] * suffix[j]
	}
	return total
}

// smallestAbove is the smallest difference xᵢ − yⱼ greater than d.
func smallestAbove(x, y Sample, d float64) float64 {
	best := math.Inf(1)
	j := 0
	for _, xv := range x.vals {
		for j < len(y.vals) && xv-y.vals[j] > d {
			j++
		}
		// y[j-1] is the largest y with xv − y > d: the smallest such diff.
		if j > 0 && xv-y.vals[j-1] < best {
			best = xv - y.vals[j-1]
		}
	}
	return best
}

// suffixCounts returns s[j] = Σ counts[j:], with s[len] = 0.
func suffixCounts(y Sample) []float64 {
	s := make([]float64, len(y.counts)+1)
	for j := len(y.counts) - 1; j >= 0; j-- {
		s[j] = s[j+1] + y.counts[j]
	}
	return s
}
