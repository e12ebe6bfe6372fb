package analysis

import "math"

// TailRequests is how many requests beyond a quantile an estimate of it
// should stand on.
const TailRequests = 5

// QuantileRequests is how many requests a window needs for its quantile q
// (0..1) to stand on TailRequests requests beyond it: 100 for the 95th
// percentile, 500 for the 99th. Fewer, and the "p99" of a window is just
// its slowest request or two.
func QuantileRequests(q float64) int64 {
	if !(q > 0 && q < 1) {
		return TailRequests
	}
	return int64(math.Ceil(TailRequests/(1-q) - 1e-9))
}
