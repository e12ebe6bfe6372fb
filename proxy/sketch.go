package proxy

import (
	"math"
	"time"

	"github.com/canary-dev/canary"
)

// The latency sketch is a log-bucketed histogram in the manner of DDSketch
// (Masson, Rim, Lee, VLDB 2019): bin i > 0 holds latencies in
// (minLatency·γ^(i−1), minLatency·γ^i] with γ = (1+α)/(1−α), and reports
// 2·minLatency·γ^i/(γ+1), which is within a relative error α of every value
// in the bin. Bins add, so per-second histograms merge exactly into any
// window.
const (
	// sketchAlpha is the relative accuracy of every reported quantile.
	sketchAlpha = 0.005
	// minLatency is the top of bin 0, which holds every latency ≤ 1µs.
	minLatency = time.Microsecond
	// maxLatency is the bottom of the last bin, which holds every latency
	// above it (reported as maxLatency).
	maxLatency = 1000 * time.Second
)

var (
	sketchGamma    = (1 + sketchAlpha) / (1 - sketchAlpha)
	sketchInvLnGam = 1 / math.Log(sketchGamma)
	// numBins covers (0, maxLatency] plus the overflow bin.
	numBins = int(math.Ceil(math.Log(float64(maxLatency)/float64(minLatency))*sketchInvLnGam)) + 2
	// binValue[i] is the latency bin i reports.
	binValue = makeBinValues()
)

func makeBinValues() []time.Duration {
	v := make([]time.Duration, numBins)
	v[0] = minLatency
	for i := 1; i < numBins-1; i++ {
		v[i] = time.Duration(math.Round(2 * float64(minLatency) * math.Pow(sketchGamma, float64(i)) / (sketchGamma + 1)))
	}
	v[numBins-1] = maxLatency
	return v
}

// binIndex returns the bin of latency d.
func binIndex(d time.Duration) int {
	if d <= minLatency {
		return 0
	}
	if d > maxLatency {
		return numBins - 1
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(minLatency)) * sketchInvLnGam))
	return min(i, numBins-2)
}

// quantileOf returns the latency at quantile q (0..1) of the histogram
// bins (dense, numBins long) holding total samples: the value reported by
// the bin holding the sample of rank ⌊q·(total−1)⌋ in ascending order.
func quantileOf(bins []uint64, total int64, q float64) time.Duration {
	if total <= 0 || math.IsNaN(q) {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(q * float64(total-1))
	var seen uint64
	for i, c := range bins {
		seen += c
		if seen > rank {
			return binValue[i]
		}
	}
	return binValue[len(binValue)-1]
}

// A latency distribution for Measurement.Latency is the window's sketch
// bins merged into at most maxLatencyBuckets buckets, for the engine's
// rank test of every request's latency (compare: baseline). Buckets are
// groups of size consecutive bins (≈1% each, so buckets ≈2%, 3%, 4%…
// wide), aligned on multiples of size, so bounds are exact bin bounds. The grid is chosen from both tracks
// together, so a window's canary and stable distributions have the same
// bounds and a bucket stands for the same latency in both: the finest
// grid whose buckets span the middle 99.8% of the two tracks' requests.
// The 0.1% at either end fall into the first and the last bucket (the
// first bucket holds every latency up to its bound, the last every
// latency above the previous bound), which keeps the ranks of the rank
// test and barely moves the Hodges-Lehmann shift.
const (
	// maxLatencyBuckets bounds the buckets of one distribution.
	maxLatencyBuckets = 64
	// latencyTrim is the share of requests at each end of the two
	// tracks' distribution that may be clamped into the end buckets.
	latencyTrim = 0.001
	// minGroupSize makes buckets at least two sketch bins (≈2%) wide.
	minGroupSize = 2
)

// latencyGrid is a set of buckets: groups lo..hi of size bins each.
// Group g holds bins (g−1)·size+1 .. g·size, so its upper bound is bin
// g·size's.
type latencyGrid struct {
	size   int
	lo, hi int
}

// groupOf returns the group of sketch bin i (i ≥ 0).
func (g latencyGrid) groupOf(i int) int {
	return (i + g.size - 1) / g.size
}

// bound returns the upper bound of group k in seconds: minLatency·γ^(k·size).
func (g latencyGrid) bound(k int) float64 {
	return minLatency.Seconds() * math.Pow(sketchGamma, float64(k*g.size))
}

// chooseGrid returns the finest grid of at most maxLatencyBuckets buckets
// whose inner buckets span bins, a dense histogram of total samples,
// from its latencyTrim quantile to its 1−latencyTrim quantile. ok is
// false when bins are empty.
func chooseGrid(bins []uint64, total int64) (g latencyGrid, ok bool) {
	if total <= 0 {
		return g, false
	}
	lowRank := uint64(latencyTrim * float64(total))
	highRank := uint64(math.Ceil((1 - latencyTrim) * float64(total)))
	lo, hi := -1, -1
	var seen uint64
	for i, c := range bins {
		seen += c
		if lo < 0 && seen > lowRank {
			lo = i
		}
		if seen >= highRank {
			hi = i
			break
		}
	}
	if lo < 0 || hi < 0 {
		return g, false
	}
	for g.size = minGroupSize; ; g.size++ {
		// One bucket below the lowest group holds the low tail and gives
		// the lowest group its lower bound.
		g.lo, g.hi = g.groupOf(lo)-1, g.groupOf(hi)
		if g.hi-g.lo+1 <= maxLatencyBuckets {
			return g, true
		}
	}
}

// buckets merges bins, a dense histogram, into the grid's buckets,
// clamping bins outside it into the first or the last bucket. Every
// bucket is returned, empty ones too, so distributions on one grid have
// the same bounds.
func (g latencyGrid) buckets(bins []uint64) []canary.LatencyBucket {
	out := make([]canary.LatencyBucket, g.hi-g.lo+1)
	for k := range out {
		out[k].UpperBound = g.bound(g.lo + k)
	}
	for i, c := range bins {
		if c == 0 {
			continue
		}
		k := min(max(g.groupOf(i), g.lo), g.hi)
		out[k-g.lo].Count += int64(c)
	}
	return out
}
