package proxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// base is a whole second, so windows ending at base+k·s are exact.
var base = time.Unix(1_700_000_000, 0)

func newRecorder(t testing.TB, retention time.Duration) *Recorder {
	t.Helper()
	r, err := NewRecorder(RecorderConfig{Retention: retention})
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	return r
}

func stats(t *testing.T, r *Recorder, track canary.Track, window time.Duration, at time.Time) WindowStats {
	t.Helper()
	st, err := r.Stats(track, window, at)
	if err != nil {
		t.Fatalf("Stats(%s, %s, %s): %v", track, window, at, err)
	}
	return st
}

// TestQuantileAccuracy records known latency sets spread over a minute and
// checks the merged quantiles against the exact order statistics.
func TestQuantileAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100000
	gen := map[string]func() float64{ // milliseconds
		"uniform 1-100ms": func() float64 { return 1 + 99*rng.Float64() },
		"lognormal median 20ms": func() float64 {
			return 20 * math.Exp(rng.NormFloat64())
		},
		// 80% fast around 5ms, 20% slow around 300ms; no quantile tested
		// sits on the gap between the modes.
		"bimodal 5ms/300ms": func() float64 {
			if rng.Float64() < 0.8 {
				return math.Max(0.5, 5+rng.NormFloat64())
			}
			return math.Max(1, 300+30*rng.NormFloat64())
		},
	}
	for _, name := range []string{"uniform 1-100ms", "lognormal median 20ms", "bimodal 5ms/300ms"} {
		t.Run(name, func(t *testing.T) {
			r := newRecorder(t, 0)
			vals := make([]time.Duration, n)
			for i := range vals {
				vals[i] = time.Duration(gen[name]() * float64(time.Millisecond))
				at := base.Add(-time.Duration(i%60) * time.Second)
				r.Record(canary.TrackCanary, 200, vals[i], at)
			}
			slices.Sort(vals)
			st := stats(t, r, canary.TrackCanary, time.Minute, base)
			if st.Requests != n || st.LatencySamples != n {
				t.Fatalf("requests, latency samples = %d, %d; want %d, %d", st.Requests, st.LatencySamples, n, n)
			}
			for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999} {
				exact := vals[int(q*float64(n-1))]
				got := st.Quantile(q)
				rel := math.Abs(float64(got-exact)) / float64(exact)
				if rel > 0.01 {
					t.Errorf("p%g = %s, want %s ± 1%% (off by %.3f%%)", q*100, got, exact, rel*100)
				}
			}
		})
	}
}

func TestSketchBins(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want time.Duration // reported value
		tol  float64
	}{
		{"zero clamps to 1µs", 0, minLatency, 0},
		{"1µs", time.Microsecond, minLatency, 0},
		{"1ms", time.Millisecond, time.Millisecond, sketchAlpha},
		{"600ms", 600 * time.Millisecond, 600 * time.Millisecond, sketchAlpha},
		{"999s", 999 * time.Second, 999 * time.Second, sketchAlpha},
		{"beyond the range clamps", time.Hour, maxLatency, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := binValue[binIndex(tt.d)]
			if rel := math.Abs(float64(got-tt.want)) / float64(tt.want); rel > tt.tol {
				t.Errorf("value of bin of %s = %s, want %s ± %.2f%%", tt.d, got, tt.want, tt.tol*100)
			}
		})
	}
}

// TestWindows records one request per second for ten minutes, every tenth
// a 503, and reads windows of 1s, 1m and 5m ending at the last second.
func TestWindows(t *testing.T) {
	r := newRecorder(t, 0)
	for i := 1; i <= 600; i++ {
		status := 200
		if i%10 == 0 {
			status = 503
		}
		r.Record(canary.TrackStable, status, time.Duration(i)*time.Millisecond, base.Add(time.Duration(i)*time.Second))
	}
	end := base.Add(600 * time.Second)
	tests := []struct {
		window       time.Duration
		at           time.Time
		requests     int64
		errors       int64
		rate         float64
		p50          time.Duration
		start, endAt time.Time
	}{
		{time.Second, end, 1, 1, 1, 600 * time.Millisecond, end.Add(-time.Second), end},
		{time.Minute, end, 60, 6, 1, 570 * time.Millisecond, end.Add(-time.Minute), end},
		{5 * time.Minute, end, 300, 30, 1, 450 * time.Millisecond, end.Add(-5 * time.Minute), end},
		// A window ending between seconds ends at the last whole second
		// before it: it never reads a second that is still running.
		{time.Second, end.Add(-1500 * time.Millisecond), 1, 0, 1, 598 * time.Millisecond, end.Add(-3 * time.Second), end.Add(-2 * time.Second)},
		// A window entirely after the last request is empty.
		{time.Minute, end.Add(time.Minute), 0, 0, 0, 0, end, end.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s at +%s", tt.window, tt.at.Sub(base)), func(t *testing.T) {
			st := stats(t, r, canary.TrackStable, tt.window, tt.at)
			if st.Requests != tt.requests || st.Errors != tt.errors {
				t.Errorf("requests, errors = %d, %d; want %d, %d", st.Requests, st.Errors, tt.requests, tt.errors)
			}
			if got := st.RequestRate(); math.Abs(got-tt.rate) > 1e-9 {
				t.Errorf("request rate = %g, want %g", got, tt.rate)
			}
			if got := st.Quantile(0.5); math.Abs(float64(got-tt.p50)) > sketchAlpha*float64(tt.p50) {
				t.Errorf("p50 = %s, want %s", got, tt.p50)
			}
			if !st.Start.Equal(tt.start) || !st.End.Equal(tt.endAt) {
				t.Errorf("window = (%s, %s], want (%s, %s]", st.Start, st.End, tt.start, tt.endAt)
			}
			if other := stats(t, r, canary.TrackCanary, tt.window, tt.at); other.Requests != 0 {
				t.Errorf("canary requests = %d, want 0 (all were stable)", other.Requests)
			}
		})
	}
}

// TestWindowEdges: the window is (at−w, at]: a request finishing exactly at
// at is in, one finishing exactly at at−w is out.
func TestWindowEdges(t *testing.T) {
	tests := []struct {
		name   string
		finish time.Duration // after base
		window time.Duration
		want   int64
	}{
		{"at the end", 0, time.Second, 1},
		{"just before the end", -time.Nanosecond, time.Second, 1},
		{"exactly at the start", -time.Second, time.Second, 0},
		{"just after the start", -time.Second + time.Nanosecond, time.Second, 1},
		{"after the end", time.Nanosecond, time.Second, 0},
		{"start of a minute window", -time.Minute + time.Millisecond, time.Minute, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(t, 0)
			r.Record(canary.TrackCanary, 200, time.Millisecond, base.Add(tt.finish))
			if got := stats(t, r, canary.TrackCanary, tt.window, base).Requests; got != tt.want {
				t.Errorf("requests in (base−%s, base] = %d, want %d", tt.window, got, tt.want)
			}
		})
	}
}

// TestExpiry: a second's data is gone once the ring slot is reused a
// retention later, and a request older than the retention is dropped.
func TestExpiry(t *testing.T) {
	r := newRecorder(t, time.Minute)
	r.Record(canary.TrackCanary, 500, time.Millisecond, base)
	if got := stats(t, r, canary.TrackCanary, time.Second, base).Errors; got != 1 {
		t.Fatalf("errors at base = %d, want 1", got)
	}
	later := base.Add(time.Minute) // same slot
	r.Record(canary.TrackCanary, 200, time.Millisecond, later)
	r.Record(canary.TrackCanary, 200, time.Millisecond, later.Add(time.Second)) // seals later on some shard
	tests := []struct {
		name   string
		window time.Duration
		at     time.Time
		want   int64
	}{
		{"expired second", time.Second, base, 0},
		{"retention-long window", time.Minute, later.Add(time.Second), 2},
		{"window before the reuse", time.Minute, later.Add(-time.Second), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stats(t, r, canary.TrackCanary, tt.window, tt.at).Requests; got != tt.want {
				t.Errorf("requests = %d, want %d", got, tt.want)
			}
		})
	}
	// Late by more than the retention: the slot holds a newer second.
	r.Record(canary.TrackCanary, 500, time.Millisecond, base)
	if got := stats(t, r, canary.TrackCanary, time.Minute, later.Add(time.Second)).Errors; got != 0 {
		t.Errorf("errors after a too-late record = %d, want 0", got)
	}
}

// TestLateRecords: requests recorded after later seconds were sealed still
// count in their own second, through every shard.
func TestLateRecords(t *testing.T) {
	r := newRecorder(t, 0)
	for i := range 1000 {
		r.Record(canary.TrackStable, 200, time.Millisecond, base.Add(time.Duration(i%5)*time.Second))
	}
	for s := range 5 {
		at := base.Add(time.Duration(s) * time.Second)
		if got := stats(t, r, canary.TrackStable, time.Second, at).Requests; got != 200 {
			t.Errorf("requests in second %d = %d, want 200", s, got)
		}
	}
}

func TestStatsErrors(t *testing.T) {
	r := newRecorder(t, time.Hour)
	tests := []struct {
		name   string
		track  canary.Track
		window time.Duration
		want   error
	}{
		{"unknown track", "blue", time.Minute, ErrUnknownTrack},
		{"zero window", canary.TrackCanary, 0, ErrWindow},
		{"beyond retention", canary.TrackCanary, time.Hour + time.Second, ErrWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := r.Stats(tt.track, tt.window, base); !errors.Is(err, tt.want) {
				t.Errorf("Stats error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := NewRecorder(RecorderConfig{Retention: -time.Second}); err == nil {
		t.Error("NewRecorder(retention -1s) = nil error, want an error")
	}
	if got := newRecorder(t, 1500*time.Millisecond).Retention(); got != 2*time.Second {
		t.Errorf("retention 1.5s rounds to %s, want 2s", got)
	}
}

func TestMeasure(t *testing.T) {
	r := newRecorder(t, 0)
	// Canary, last minute: 100 requests at 10..1000ms, two of them 502;
	// one WebSocket upgrade (no latency). Stable: one request 10m ago.
	for i := 1; i <= 100; i++ {
		status := 200
		if i == 50 || i == 100 {
			status = 502
		}
		r.Record(canary.TrackCanary, status, time.Duration(i)*10*time.Millisecond, base.Add(-time.Duration(i%60)*time.Second))
	}
	r.Record(canary.TrackCanary, 101, time.Hour, base)
	r.Record(canary.TrackStable, 200, time.Second, base.Add(-10*time.Minute))
	r.Record(canary.TrackStable, 101, time.Minute, base)

	tests := []struct {
		name   string
		q      canary.Query
		want   canary.Measurement
		relTol float64
	}{
		{"p95", canary.Query{Metric: canary.MetricLatencyP95, Track: canary.TrackCanary, Window: time.Minute, At: base},
			canary.Measurement{Value: 0.95, Samples: 101}, sketchAlpha},
		{"p50", canary.Query{Metric: "latencyP50", Track: canary.TrackCanary, Window: time.Minute, At: base},
			canary.Measurement{Value: 0.5, Samples: 101}, sketchAlpha},
		{"errorRate", canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute, At: base},
			canary.Measurement{Value: 2.0 / 101, Samples: 101}, 1e-12},
		{"requestRate", canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackCanary, Window: time.Minute, At: base},
			canary.Measurement{Value: 101.0 / 60, Samples: 101}, 1e-12},
		{"no requests", canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: 5 * time.Minute, At: base.Add(-time.Second)},
			canary.Measurement{NoData: true}, 0},
		{"no latency, only an upgrade", canary.Query{Metric: canary.MetricLatencyP95, Track: canary.TrackStable, Window: time.Second, At: base},
			canary.Measurement{Samples: 1, NoData: true}, 0},
		{"requestRate of nothing", canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackCanary, Window: time.Minute, At: base.Add(time.Hour)},
			canary.Measurement{NoData: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Measure(context.Background(), tt.q)
			if err != nil {
				t.Fatalf("Measure: %v", err)
			}
			if got.Samples != tt.want.Samples || got.NoData != tt.want.NoData {
				t.Errorf("samples, nodata = %d, %v; want %d, %v", got.Samples, got.NoData, tt.want.Samples, tt.want.NoData)
			}
			if diff := math.Abs(got.Value - tt.want.Value); diff > tt.relTol*tt.want.Value {
				t.Errorf("value = %g, want %g (±%g relative)", got.Value, tt.want.Value, tt.relTol)
			}
		})
	}
}

func TestMeasureErrors(t *testing.T) {
	r := newRecorder(t, 0)
	tests := []struct {
		name string
		q    canary.Query
		want error
	}{
		{"burnRate is derived, not base", canary.Query{Metric: canary.MetricBurnRate, Track: canary.TrackCanary, Window: time.Minute, At: base}, ErrUnknownMetric},
		{"unknown name", canary.Query{Metric: "cpu", Track: canary.TrackCanary, Window: time.Minute, At: base}, ErrUnknownMetric},
		{"bad quantile", canary.Query{Metric: "latencyP100", Track: canary.TrackCanary, Window: time.Minute, At: base}, ErrUnknownMetric},
		{"unknown track", canary.Query{Metric: canary.MetricErrorRate, Track: "", Window: time.Minute, At: base}, ErrUnknownTrack},
		{"window too long", canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: 2 * time.Hour, At: base}, ErrWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := r.Measure(context.Background(), tt.q); !errors.Is(err, tt.want) {
				t.Errorf("Measure error = %v, want %v", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q := canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute, At: base}
	if _, err := r.Measure(ctx, q); !errors.Is(err, context.Canceled) {
		t.Errorf("Measure with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestRecordConcurrent: writers on both tracks across second boundaries
// and a concurrent reader; no request is lost or counted twice.
func TestRecordConcurrent(t *testing.T) {
	r := newRecorder(t, 0)
	const writers, perWriter = 8, 5000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() { // reads while writers seal seconds
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := r.Stats(canary.TrackCanary, time.Minute, base.Add(time.Minute)); err != nil {
				t.Errorf("Stats: %v", err)
				return
			}
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				track := canary.TrackStable
				if (i+w)%4 == 0 {
					track = canary.TrackCanary
				}
				at := base.Add(time.Duration(1+i*50/perWriter) * time.Second)
				r.Record(track, 200+300*(i%2), time.Duration(i)*time.Microsecond, at)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-readerDone
	c := stats(t, r, canary.TrackCanary, time.Minute, base.Add(time.Minute))
	s := stats(t, r, canary.TrackStable, time.Minute, base.Add(time.Minute))
	if got, want := c.Requests+s.Requests, int64(writers*perWriter); got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
	if got, want := c.Requests, int64(writers*perWriter/4); got != want {
		t.Errorf("canary requests = %d, want %d", got, want)
	}
	if got, want := c.Errors+s.Errors, int64(writers*perWriter/2); got != want {
		t.Errorf("errors = %d, want %d", got, want)
	}
	if c.LatencySamples != c.Requests {
		t.Errorf("canary latency samples = %d, want %d", c.LatencySamples, c.Requests)
	}
}

// TestWindowPhase: a 1s window holds one whole second of traffic at every
// phase of the second it is read at (issue 15: read 2ms after a second
// boundary, the window used to hold 2ms of traffic and report no data).
// Ten requests a second, evenly spread; every phase must count ten.
func TestWindowPhase(t *testing.T) {
	r := newRecorder(t, 0)
	for i := range 100 {
		r.Record(canary.TrackCanary, 503, time.Millisecond, base.Add(time.Duration(i)*100*time.Millisecond+50*time.Millisecond))
	}
	for phase := time.Duration(0); phase < time.Second; phase += 7 * time.Millisecond {
		at := base.Add(5*time.Second + phase)
		st := stats(t, r, canary.TrackCanary, time.Second, at)
		if st.Requests != 10 || st.Errors != 10 {
			t.Fatalf("1s window at phase %s: %d requests, %d errors; want 10, 10", phase, st.Requests, st.Errors)
		}
		if st.End.After(at) || at.Sub(st.End) >= time.Second {
			t.Fatalf("1s window at phase %s ends at %s: want the last whole second at or before %s", phase, st.End, at)
		}
	}
}
