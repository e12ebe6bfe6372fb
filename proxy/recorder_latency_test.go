package proxy

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/analysis"
)

// recordLognormal records n requests of track with lognormal latencies
// (median, σ) spread over the minute before base, and returns them.
func recordLognormal(r *Recorder, rng *rand.Rand, track canary.Track, n int, median time.Duration, sigma float64) []time.Duration {
	vals := make([]time.Duration, n)
	for i := range vals {
		vals[i] = time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
		r.Record(track, 200, vals[i], base.Add(-time.Duration(i%60)*time.Second))
	}
	return vals
}

func measureLatency(t *testing.T, r *Recorder, track canary.Track, window time.Duration, at time.Time) canary.Measurement {
	t.Helper()
	m, err := r.Measure(context.Background(), canary.Query{Metric: canary.MetricLatencyP95, Track: track, Window: window, At: at})
	if err != nil {
		t.Fatalf("Measure %s: %v", track, err)
	}
	return m
}

// bucketCounts counts vals in buckets: (0, b₀], (b₀, b₁], …, the last
// bucket also holding everything above its bound.
func bucketCounts(vals []time.Duration, buckets []canary.LatencyBucket) []int64 {
	out := make([]int64, len(buckets))
	for _, v := range vals {
		s := v.Seconds()
		k := 0
		for k < len(buckets)-1 && s > buckets[k].UpperBound {
			k++
		}
		out[k]++
	}
	return out
}

// histogramOf is the analysis sample the engine builds from buckets.
func histogramOf(t *testing.T, buckets []canary.LatencyBucket) analysis.Sample {
	t.Helper()
	bounds := make([]float64, len(buckets))
	counts := make([]float64, len(buckets))
	for i, b := range buckets {
		bounds[i], counts[i] = b.UpperBound, float64(b.Count)
	}
	s, err := analysis.NewHistogram(bounds, counts)
	if err != nil {
		t.Fatalf("NewHistogram: %v", err)
	}
	return s
}

// TestMeasureLatencyDistribution: a latency measurement carries the
// window's distribution: at most 64 buckets, the same bounds for both
// tracks, every request in the bucket its latency belongs to (up to the
// 0.1% tails folded into the end buckets), fine enough (≤ 7% wide for a
// typical lognormal) that the engine's rank test measures a 30% slower
// canary as 30% ± 5% and a canary like the stable as like it.
func TestMeasureLatencyDistribution(t *testing.T) {
	tests := []struct {
		name        string
		factor      float64 // the canary's latencies over the stable's
		wantShift   float64
		wantOutcome analysis.Outcome
	}{
		{"canary 30% slower", 1.3, 0.3, analysis.Worse},
		{"canary like the stable", 1, 0, analysis.NotWorse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(t, 0)
			rng := rand.New(rand.NewPCG(3, 4))
			stableVals := recordLognormal(r, rng, canary.TrackStable, 60000, 200*time.Millisecond, 0.5)
			canaryVals := recordLognormal(r, rng, canary.TrackCanary, 3000, time.Duration(tt.factor*float64(200*time.Millisecond)), 0.5)
			c := measureLatency(t, r, canary.TrackCanary, time.Minute, base)
			s := measureLatency(t, r, canary.TrackStable, time.Minute, base)
			for _, x := range []struct {
				name string
				m    canary.Measurement
				vals []time.Duration
			}{{"canary", c, canaryVals}, {"stable", s, stableVals}} {
				b := x.m.Latency
				if len(b) < 10 || len(b) > maxLatencyBuckets {
					t.Fatalf("%s: %d buckets, want 10 to %d", x.name, len(b), maxLatencyBuckets)
				}
				var sum int64
				for i, bk := range b {
					sum += bk.Count
					if i > 0 && !(bk.UpperBound > b[i-1].UpperBound) {
						t.Fatalf("%s: bounds not increasing at %d: %v, %v", x.name, i, b[i-1].UpperBound, bk.UpperBound)
					}
				}
				if sum != int64(len(x.vals)) || sum != x.m.Samples {
					t.Errorf("%s: buckets hold %d requests, want every one of %d (samples %d)", x.name, sum, len(x.vals), x.m.Samples)
				}
				// Bounds are exact sketch bin bounds; a latency within
				// float rounding of one may land either side.
				want := bucketCounts(x.vals, b)
				var off int64
				for i := range b {
					off += max(b[i].Count-want[i], want[i]-b[i].Count)
				}
				if off > 4 {
					t.Errorf("%s: %d requests in another bucket than their latency's\ngot  %v\nwant %v", x.name, off, counts(b), want)
				}
				if ratio := b[2].UpperBound / b[1].UpperBound; ratio > 1.07 {
					t.Errorf("%s: buckets %.1f%% wide, want at most 7%%", x.name, 100*(ratio-1))
				}
			}
			if !slices.EqualFunc(c.Latency, s.Latency, func(a, b canary.LatencyBucket) bool { return a.UpperBound == b.UpperBound }) {
				t.Fatalf("the tracks' bounds differ:\ncanary %v\nstable %v", c.Latency, s.Latency)
			}
			cmp, err := analysis.MannWhitneyRelative(histogramOf(t, c.Latency), histogramOf(t, s.Latency), 0.2, 0.99)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d buckets, %.1f%% wide: %v", len(c.Latency), 100*(c.Latency[2].UpperBound/c.Latency[1].UpperBound-1), cmp)
			if math.Abs(cmp.Estimate-tt.wantShift) > 0.05 {
				t.Errorf("estimated shift %+.3f, want %+.2f ± 0.05", cmp.Estimate, tt.wantShift)
			}
			if got := cmp.Outcome(); got != tt.wantOutcome {
				t.Errorf("outcome %s at worseBy 20%%, want %s", got, tt.wantOutcome)
			}
		})
	}
}

func counts(b []canary.LatencyBucket) []int64 {
	out := make([]int64, len(b))
	for i, bk := range b {
		out[i] = bk.Count
	}
	return out
}

// TestLatencyDistributionOutliers: a few timeouts (30s) among 200ms
// requests, and a distribution spread from 1ms to 10s, stay within 64
// buckets; the timeouts count in the last bucket rather than widening
// every bucket.
func TestLatencyDistributionOutliers(t *testing.T) {
	r := newRecorder(t, 0)
	rng := rand.New(rand.NewPCG(5, 6))
	recordLognormal(r, rng, canary.TrackStable, 20000, 200*time.Millisecond, 0.5)
	for i := range 5 {
		r.Record(canary.TrackStable, 504, 30*time.Second, base.Add(-time.Duration(i)*time.Second))
	}
	m := measureLatency(t, r, canary.TrackStable, time.Minute, base)
	last := m.Latency[len(m.Latency)-1]
	if last.Count < 5 || last.UpperBound > 5 {
		t.Errorf("last bucket %+v, want the 5 timeouts in a bucket below 5s", last)
	}
	if ratio := m.Latency[2].UpperBound / m.Latency[1].UpperBound; ratio > 1.07 {
		t.Errorf("buckets %.1f%% wide with 5 outliers, want at most 7%%", 100*(ratio-1))
	}

	wide := newRecorder(t, 0)
	for i := range 20000 {
		d := time.Duration(float64(time.Millisecond) * math.Pow(10, 4*rng.Float64()))
		wide.Record(canary.TrackCanary, 200, d, base.Add(-time.Duration(i%60)*time.Second))
	}
	m = measureLatency(t, wide, canary.TrackCanary, time.Minute, base)
	if n := len(m.Latency); n > maxLatencyBuckets || n < maxLatencyBuckets/2 {
		t.Errorf("1ms to 10s: %d buckets, want %d to %d", n, maxLatencyBuckets/2, maxLatencyBuckets)
	}
	if lo, hi := m.Latency[0].UpperBound, m.Latency[len(m.Latency)-1].UpperBound; lo > 0.0011 || hi < 9 {
		t.Errorf("1ms to 10s: bounds %.4gs to %.4gs, want the whole range", lo, hi)
	}
}

// TestLatencyDistributionSharedGrid: the canary is measured, then more
// requests (some much slower) finish in the current second before the
// stable is measured, as happens between the two queries of one
// evaluation: both come on the same grid, and neither counts the second
// still under way (windows hold complete seconds only).
func TestLatencyDistributionSharedGrid(t *testing.T) {
	r := newRecorder(t, 0)
	rng := rand.New(rand.NewPCG(7, 8))
	recordLognormal(r, rng, canary.TrackStable, 6000, 100*time.Millisecond, 0.4)
	recordLognormal(r, rng, canary.TrackCanary, 300, 100*time.Millisecond, 0.4)
	at := base.Add(-300 * time.Millisecond) // the second ending at base is under way
	c := measureLatency(t, r, canary.TrackCanary, 30*time.Second, at)
	before := measureLatency(t, r, canary.TrackStable, 30*time.Second, at).Samples
	for range 200 {
		r.Record(canary.TrackStable, 200, 20*time.Second, base.Add(-100*time.Millisecond))
	}
	s := measureLatency(t, r, canary.TrackStable, 30*time.Second, at)
	if len(c.Latency) == 0 || !slices.EqualFunc(c.Latency, s.Latency, func(a, b canary.LatencyBucket) bool { return a.UpperBound == b.UpperBound }) {
		t.Fatalf("bounds differ after requests in the current second:\ncanary %v\nstable %v", c.Latency, s.Latency)
	}
	if s.Samples != before {
		t.Errorf("stable requests = %d after 200 more in the running second, want %d (complete seconds only)", s.Samples, before)
	}
}

// TestLatencyDistributionSize: a measurement with its distribution stays
// small in JSON (it is an input of the engine, not persisted; this keeps
// it cheap to pass around and log).
func TestLatencyDistributionSize(t *testing.T) {
	r := newRecorder(t, 0)
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 50000 {
		d := time.Duration(float64(time.Millisecond) * math.Pow(10, 4*rng.Float64()))
		r.Record(canary.TrackCanary, 200, d, base.Add(-time.Duration(i%60)*time.Second))
	}
	m := measureLatency(t, r, canary.TrackCanary, time.Minute, base)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d buckets, %d bytes of JSON", len(m.Latency), len(b))
	if len(b) > 4096 {
		t.Errorf("measurement is %d bytes of JSON, want at most 4 KiB", len(b))
	}
}

// TestChooseGrid covers the grid's edge cases.
func TestChooseGrid(t *testing.T) {
	if _, ok := chooseGrid(make([]uint64, numBins), 0); ok {
		t.Error("a grid for no samples")
	}
	one := make([]uint64, numBins)
	one[binIndex(50*time.Millisecond)] = 7
	g, ok := chooseGrid(one, 7)
	if !ok || g.size != minGroupSize || g.hi-g.lo != 1 {
		t.Fatalf("grid of one latency %+v, want two buckets of the finest grid", g)
	}
	b := g.buckets(one)
	if b[1].Count != 7 || !(b[0].UpperBound < 0.05 && 0.05 <= b[1].UpperBound) {
		t.Errorf("buckets %+v, want 7 in the second, whose range holds 50ms", b)
	}
	// Everything at or below 1µs and above 1000s: the grid's ends.
	ends := make([]uint64, numBins)
	ends[0], ends[numBins-1] = 1, 1
	if g, ok := chooseGrid(ends, 2); !ok || g.hi-g.lo+1 > maxLatencyBuckets {
		t.Errorf("grid of 1µs and 1000s %+v, want at most %d buckets", g, maxLatencyBuckets)
	}
}

// BenchmarkMeasureLatency is one latency measurement with its
// distribution (the track's window and the grid from both tracks'),
// 1,000 requests/s on the stable and 50/s on the canary.
func BenchmarkMeasureLatency(b *testing.B) {
	r := newRecorder(b, 0)
	rng := rand.New(rand.NewPCG(11, 12))
	for s := range 3600 {
		at := base.Add(-time.Duration(s) * time.Second)
		for i := range 1050 {
			tr := canary.TrackStable
			if i < 50 {
				tr = canary.TrackCanary
			}
			r.Record(tr, 200, time.Duration(float64(100*time.Millisecond)*math.Exp(0.5*rng.NormFloat64())), at)
		}
	}
	for _, w := range []time.Duration{30 * time.Second, 5 * time.Minute, time.Hour} {
		b.Run(w.String(), func(b *testing.B) {
			b.ReportAllocs()
			q := canary.Query{Metric: canary.MetricLatencyP95, Track: canary.TrackCanary, Window: w, At: base}
			for b.Loop() {
				m, err := r.Measure(context.Background(), q)
				if err != nil || len(m.Latency) == 0 {
					b.Fatalf("Measure = %d buckets, %v", len(m.Latency), err)
				}
			}
		})
	}
}
