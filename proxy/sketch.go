package proxy

import (
	"math"
	"time"
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
