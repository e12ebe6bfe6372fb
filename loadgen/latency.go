package loadgen

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's resolution: 2^subBits buckets per power of
// two, so a quantile is within 1/64 (1.6%) of the latency it stands for.
const subBits = 6

// histogram counts latencies in log-linear buckets: fixed memory (32 KiB)
// however many requests a run sends.
type histogram struct {
	counts [64 << subBits]int64
	n      int64
	max    time.Duration
}

// bucket is the index of d's bucket: values below 2^subBits ns each have
// their own; above, the power of two and the next subBits bits.
func bucket(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 1<<subBits {
		return int(v)
	}
	exp := bits.Len64(v) - 1 - subBits // how far v is shifted
	return (exp+1)<<subBits + int(v>>exp) - 1<<subBits
}

// lower is the smallest latency of bucket i.
func lower(i int) time.Duration {
	if i < 1<<subBits {
		return time.Duration(i)
	}
	exp := i>>subBits - 1
	return time.Duration((uint64(i&(1<<subBits-1)) + 1<<subBits) << exp)
}

// add counts one latency.
func (h *histogram) add(d time.Duration) {
	h.counts[bucket(d)]++
	h.n++
	h.max = max(h.max, d)
}

// quantile is the latency below which a share q of the counted ones fall
// (the lower edge of its bucket; the maximum for q = 1).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	rank := int64(q * float64(h.n-1))
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen > rank {
			return min(lower(i), h.max)
		}
	}
	return h.max
}

// Latency summarizes the measured latencies of a run: requests answered
// (any status) and due after Config.Warmup, each timed from when it was
// due when it started late (so a stall shows; no coordinated omission),
// else from when it was sent. Quantiles are within 1.6% (log-linear
// buckets).
type Latency struct {
	// Count of measured requests.
	Count int64 `json:"count"`
	// P50 .. P999 are quantiles; Max the slowest.
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P95  time.Duration `json:"p95"`
	P99  time.Duration `json:"p99"`
	P999 time.Duration `json:"p999"`
	Max  time.Duration `json:"max"`
}

// summary is h's Latency.
func (h *histogram) summary() Latency {
	return Latency{Count: h.n, P50: h.quantile(0.5), P90: h.quantile(0.9), P95: h.quantile(0.95),
		P99: h.quantile(0.99), P999: h.quantile(0.999), Max: h.max}
}
