package proxy

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The golden values were computed by an independent implementation of the
// documented algorithm (Python, arbitrary-precision integers masked to 64
// bits); they pin the contract the flag service relies on.
func TestBucketGolden(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"", 4342},
		{"user-1", 5477},
		{"user-2", 2635},
		{"a", 8315},
		{"42", 2476},
		{"alice@example.com", 3736},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.key), func(t *testing.T) {
			if got := Bucket(tt.key); got != tt.want {
				t.Errorf("Bucket(%q) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
}

// TestStickySplitAccuracy: over 20,000 keys the canary share is within 0.5
// percentage points of the weight.
func TestStickySplitAccuracy(t *testing.T) {
	const n = 20000
	buckets := make([]int, n)
	for i := range buckets {
		buckets[i] = Bucket(fmt.Sprintf("user-%d", i))
		if buckets[i] < 0 || buckets[i] >= Buckets {
			t.Fatalf("Bucket(user-%d) = %d, want 0..%d", i, buckets[i], Buckets-1)
		}
	}
	for _, w := range []int{1, 5, 10, 25, 50, 75, 99} {
		t.Run(fmt.Sprintf("%d%%", w), func(t *testing.T) {
			in := 0
			for _, b := range buckets {
				if onCanary(b, w) {
					in++
				}
			}
			got := 100 * float64(in) / n
			if math.Abs(got-float64(w)) > 0.5 {
				t.Errorf("canary share = %.2f%%, want %d%% ± 0.5", got, w)
			}
		})
	}
}

// TestStickyMonotone: a key on the canary at one weight is on it at every
// higher weight.
func TestStickyMonotone(t *testing.T) {
	weights := []int{0, 1, 5, 10, 25, 50, 75, 100}
	for i := range 20000 {
		key := fmt.Sprintf("session-%x", i)
		b := Bucket(key)
		was := false
		for _, w := range weights {
			now := onCanary(b, w)
			if was && !now {
				t.Fatalf("key %q (bucket %d) left the canary going to %d%%", key, b, w)
			}
			was = now
		}
		if !was {
			t.Fatalf("key %q (bucket %d) not on the canary at 100%%", key, b)
		}
	}
}

// TestSmoothExact: any run of requests sends exactly weight% to the canary,
// evenly spaced, whatever the counter's starting point.
func TestSmoothExact(t *testing.T) {
	for _, w := range []int{1, 5, 10, 25, 33, 50, 99} {
		for _, start := range []uint64{0, 7, 1<<40 + 3} {
			t.Run(fmt.Sprintf("%d%%/from%d", w, start), func(t *testing.T) {
				const n = 2000
				var got, last int
				minGap := n
				for i := range n {
					if !smoothCanary(start+uint64(i), w) {
						continue
					}
					if got > 0 {
						minGap = min(minGap, i-last)
					}
					got++
					last = i
				}
				if want := n * w / 100; got != want {
					t.Errorf("canary requests = %d of %d, want %d", got, n, want)
				}
				// 100/w−1 apart at least: no bursts.
				if w < 100 && float64(minGap) < 100/float64(w)-1 {
					t.Errorf("closest canary requests %d apart, want ≥ %.1f", minGap, 100/float64(w)-1)
				}
			})
		}
	}
}

// TestSmoothWindows: every window of 100 consecutive requests holds
// exactly w canary requests.
func TestSmoothWindows(t *testing.T) {
	for _, w := range []int{5, 10, 25, 50} {
		t.Run(fmt.Sprintf("%d%%", w), func(t *testing.T) {
			for s := uint64(0); s < 300; s++ {
				got := 0
				for i := range uint64(100) {
					if smoothCanary(s+i, w) {
						got++
					}
				}
				if got != w {
					t.Fatalf("requests %d..%d: %d canary, want %d", s, s+99, got, w)
				}
			}
		})
	}
}

func TestStickyKey(t *testing.T) {
	tests := []struct {
		name           string
		header, cookie string // configured names
		reqHeader      http.Header
		want           string
	}{
		{"header", "X-User-Id", "", http.Header{"X-User-Id": {"u1"}}, "u1"},
		{"no key", "X-User-Id", "sid", http.Header{}, ""},
		{"empty header falls back to cookie", "X-User-Id", "sid", http.Header{"X-User-Id": {""}, "Cookie": {"sid=c9"}}, "c9"},
		{"header wins over cookie", "X-User-Id", "sid", http.Header{"X-User-Id": {"u1"}, "Cookie": {"sid=c9"}}, "u1"},
		{"cookie among others", "", "sid", http.Header{"Cookie": {"a=1; sid=abc; b=2"}}, "abc"},
		{"cookie on second line", "", "sid", http.Header{"Cookie": {"a=1", "sid=xyz"}}, "xyz"},
		{"quoted cookie", "", "sid", http.Header{"Cookie": {`sid="q1"`}}, "q1"},
		// A cookie whose name only ends in the wanted name is another cookie.
		{"suffix name", "", "sid", http.Header{"Cookie": {"xsid=no"}}, ""},
		{"unconfigured header ignored", "", "", http.Header{"X-User-Id": {"u1"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header = tt.reqHeader
			h := &fastRequest(t, r).Header
			hdr := ""
			if tt.header != "" {
				hdr = http.CanonicalHeaderKey(tt.header)
			}
			if got := string(stickyKey(h, hdr, tt.cookie)); got != tt.want {
				t.Errorf("stickyKey = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPromBucket: Prometheus buckets are upper-inclusive (le).
func TestPromBucket(t *testing.T) {
	tests := []struct {
		secs float64
		want int
	}{
		{0, 0},
		{0.001, 0},
		{0.0010001, 1},
		{0.6, 11},    // (0.5, 0.6]
		{0.6001, 12}, // (0.6, 0.75]
		{10, 18},
		{10.5, len(durationBuckets)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.secs), func(t *testing.T) {
			if got := promBucket(tt.secs); got != tt.want {
				t.Errorf("promBucket(%g) = %d, want %d", tt.secs, got, tt.want)
			}
		})
	}
}
