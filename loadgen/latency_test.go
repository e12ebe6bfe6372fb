package loadgen

import (
	"context"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// TestBuckets: every latency falls in the bucket whose edges hold it, and
// a bucket is at most 1/64 of its lower edge wide.
func TestBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		d := time.Duration(r.Int64N(int64(time.Hour)) >> r.IntN(40))
		i := bucket(d)
		lo, hi := lower(i), lower(i+1)
		if d < lo || d >= hi {
			t.Fatalf("%d ns in bucket %d: [%d, %d)", d, i, lo, hi)
		}
		if lo >= 64 && float64(hi-lo) > float64(lo)/64 {
			t.Fatalf("bucket %d [%d, %d) is wider than 1/64", i, lo, hi)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for v := 1; v <= 10000; v++ {
		h.add(time.Duration(v) * time.Microsecond)
	}
	s := h.summary()
	near := func(name string, got, want time.Duration) {
		if d := float64(want-got) / float64(want); d < 0 || d > 1.0/64 {
			t.Errorf("%s = %s, want %s to 1/64 below", name, got, want)
		}
	}
	near("p50", s.P50, 5000*time.Microsecond)
	near("p90", s.P90, 9000*time.Microsecond)
	near("p99", s.P99, 9900*time.Microsecond)
	if s.Count != 10000 || s.Max != 10*time.Millisecond {
		t.Errorf("count %d, max %s; want 10000 and 10ms", s.Count, s.Max)
	}
	if (&histogram{}).summary() != (Latency{}) {
		t.Error("an empty histogram has quantiles")
	}
}

// TestLatencyMeasured: answers that take at least 20ms are measured at
// 20ms or more, and the warmup's requests (those due in the first 100ms
// of 20 at 100/s: 10) are counted but not measured.
func TestLatencyMeasured(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(20 * time.Millisecond) })
	res, err := Run(context.Background(), Config{Target: srv.URL, Rate: 100, MaxRequests: 20, Warmup: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 20 || res.Latency.Count != 10 {
		t.Errorf("%d requests, %d measured; want 20 and 10", res.Requests, res.Latency.Count)
	}
	if res.Latency.P50 < 20*time.Millisecond*63/64 || res.Latency.Max < 20*time.Millisecond {
		t.Errorf("latency %+v: below the server's 20ms", res.Latency)
	}
}
