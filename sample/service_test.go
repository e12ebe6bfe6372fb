package sample

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary/canarytest"
)

// get serves one request to s in-process and returns the recorder.
func get(s *Service, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// mustNew builds a Service or fails the test.
func mustNew(t *testing.T, cfg Config) *Service {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestErrorRate(t *testing.T) {
	const n = 4000
	tests := []struct {
		rate float64
		tol  float64 // about 3 standard deviations at n requests
	}{
		{0, 0},
		{0.01, 0.005},
		{0.2, 0.02},
		{1, 0},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatFloat(tt.rate, 'g', -1, 64), func(t *testing.T) {
			s := mustNew(t, Config{Name: "api", Version: "v2", ErrorRate: tt.rate, Seed: 7})
			codes := map[int]int{}
			for range n {
				codes[get(s, "/api/recover").Code]++
			}
			errs := codes[500] + codes[503]
			if got := float64(errs) / n; math.Abs(got-tt.rate) > tt.tol {
				t.Errorf("error share = %.4f, want %.4f ± %.4f", got, tt.rate, tt.tol)
			}
			if codes[200]+errs != n {
				t.Errorf("status codes = %v, want only 200, 500 and 503", codes)
			}
			if tt.rate == 0.2 && (codes[500] == 0 || codes[503] == 0) {
				t.Errorf("status codes = %v, want both 500 and 503", codes)
			}
			st := s.Stats()
			if st.Requests != n || st.Errors != int64(errs) {
				t.Errorf("stats = %+v, want %d requests, %d errors", st, n, errs)
			}
			var m struct {
				Rate     float64 `json:"avg_success_rate"`
				Requests int64   `json:"requests"`
			}
			decode(t, get(s, "/elite/metrics"), &m)
			if want := 1 - float64(errs)/n; m.Rate != want || m.Requests != n {
				t.Errorf("/elite/metrics = %+v, want avg_success_rate %v over %d requests", m, want, n)
			}
		})
	}
}

// decode reads a JSON answer into v.
func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("answer %q: %v", rec.Body, err)
	}
}

func TestAnswers(t *testing.T) {
	s := mustNew(t, Config{Name: "recoveryos", Version: "v1.0.0-elite", Features: map[string]any{"elite_ai": true}})
	tests := []struct {
		path string
		want map[string]any
	}{
		{"/", map[string]any{"service": "recoveryos", "version": "v1.0.0-elite"}},
		{"/elite/system-status", map[string]any{"service": "recoveryos", "version": "v1.0.0-elite",
			"status": "ok", "features": map[string]any{"elite_ai": true}}},
		{"/elite/metrics", map[string]any{"service": "recoveryos", "version": "v1.0.0-elite",
			"requests": 1.0, "errors": 0.0, "avg_success_rate": 1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(s, tt.path)
			var got map[string]any
			decode(t, rec, &got)
			if rec.Code != 200 || !equalJSON(got, tt.want) {
				t.Errorf("GET %s = %d %v, want 200 %v", tt.path, rec.Code, got, tt.want)
			}
		})
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestLatencyDistSamples(t *testing.T) {
	tests := []LatencyDist{
		{Median: 2 * time.Millisecond, P95: 6 * time.Millisecond},
		{Median: 100 * time.Millisecond, P95: 150 * time.Millisecond},
		{Median: 5 * time.Millisecond}, // constant
	}
	for _, d := range tests {
		t.Run(d.Median.String()+"/"+d.P95.String(), func(t *testing.T) {
			s := mustNew(t, Config{Latency: d, Seed: 3})
			samples := make([]time.Duration, 20000)
			for i := range samples {
				samples[i] = d.sample(s.rng)
			}
			slices.Sort(samples)
			p95 := d.P95
			if p95 == 0 {
				p95 = d.Median
			}
			checkNear(t, "median", samples[len(samples)/2], d.Median, 0.04)
			checkNear(t, "p95", samples[len(samples)*95/100], p95, 0.06)
			checkNear(t, "Quantile(0.5)", d.Quantile(0.5), d.Median, 0.001)
			checkNear(t, "Quantile(0.95)", d.Quantile(0.95), p95, 0.001)
		})
	}
}

// checkNear fails unless got is within a relative tolerance of want.
func checkNear(t *testing.T, what string, got, want time.Duration, rel float64) {
	t.Helper()
	if math.Abs(float64(got-want)) > rel*float64(want) {
		t.Errorf("%s = %s, want %s ± %.1f%%", what, got, want, rel*100)
	}
}

// TestLatencyServed checks that answers really take the drawn time: a
// sleep is never short, and on a loaded machine only a little long.
func TestLatencyServed(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time latencies: runs in the serial pass")
	}
	d := LatencyDist{Median: 2 * time.Millisecond, P95: 6 * time.Millisecond}
	s := mustNew(t, Config{Latency: d, Seed: 11})
	const n, workers = 400, 8
	took := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				start := time.Now()
				get(s, "/")
				took[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	slices.Sort(took)
	median, p95 := took[n/2], took[n*95/100]
	// Lower bounds are the service's doing; upper bounds leave room for a
	// busy machine's scheduling delays.
	if median < d.Median*8/10 || median > d.Median+20*time.Millisecond {
		t.Errorf("median = %s, want about %s", median, d.Median)
	}
	if p95 < d.P95*7/10 || p95 > d.P95+50*time.Millisecond {
		t.Errorf("p95 = %s, want about %s", p95, d.P95)
	}
}

func TestFaultsFollowTheClock(t *testing.T) {
	base := time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)
	clock := canarytest.NewClock(base)
	slow := LatencyDist{Median: 800 * time.Millisecond, P95: 1200 * time.Millisecond}
	s := mustNew(t, Config{
		ErrorRate: 0.001,
		Faults: []Fault{
			{From: 10 * time.Second, Until: 20 * time.Second, ErrorRate: 1},
			{From: 30 * time.Second, Latency: slow},
			{From: 40 * time.Second, Until: 50 * time.Second, ErrorRate: 0.5},
		},
		Clock: clock,
	})
	tests := []struct {
		at       time.Duration
		wantRate float64
		wantLat  LatencyDist
	}{
		{0, 0.001, LatencyDist{}},
		{10 * time.Second, 1, LatencyDist{}},
		{20*time.Second - time.Nanosecond, 1, LatencyDist{}},
		{20 * time.Second, 0.001, LatencyDist{}},
		{30 * time.Second, 0.001, slow},
		{45 * time.Second, 0.5, slow}, // overlapping faults combine
		{time.Hour, 0.001, slow},      // until zero: never ends
	}
	for _, tt := range tests {
		t.Run(tt.at.String(), func(t *testing.T) {
			clock.Set(base.Add(tt.at))
			rate, lat := s.Behavior()
			if rate != tt.wantRate || lat != tt.wantLat {
				t.Errorf("behavior at %s = %v, %+v; want %v, %+v", tt.at, rate, lat, tt.wantRate, tt.wantLat)
			}
		})
	}
	// The answers follow: all errors inside the first fault, none after it
	// (the base rate makes one unlikely in 50 requests; the seed fixes it).
	clock.Set(base.Add(15 * time.Second))
	if got := countErrors(s, 50); got != 50 {
		t.Errorf("errors during the fault = %d of 50, want 50", got)
	}
	clock.Set(base.Add(25 * time.Second))
	if got := countErrors(s, 50); got != 0 {
		t.Errorf("errors after the fault = %d of 50, want 0", got)
	}
}

func countErrors(s *Service, n int) int {
	errs := 0
	for range n {
		if get(s, "/").Code >= 500 {
			errs++
		}
	}
	return errs
}

func TestSetBehaviorConcurrent(t *testing.T) {
	s := mustNew(t, Config{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { countErrors(s, 200) })
	}
	for i := range 100 {
		if err := s.SetBehavior(float64(i%2), LatencyDist{}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := s.SetBehavior(1, LatencyDist{}); err != nil {
		t.Fatal(err)
	}
	if got := countErrors(s, 20); got != 20 {
		t.Errorf("errors after SetBehavior(1) = %d of 20, want 20", got)
	}
	if st := s.Stats(); st.Requests != 4*200+20 {
		t.Errorf("requests = %d, want %d", st.Requests, 4*200+20)
	}
}

func TestCancelDuringLatency(t *testing.T) {
	s := mustNew(t, Config{Latency: LatencyDist{Median: 30 * time.Second}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	start := time.Now()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ServeHTTP took %s after cancellation, want it to return at once", d)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("answer %q, want none", rec.Body)
	}
	if st := s.Stats(); st != (Stats{Canceled: 1}) {
		t.Errorf("stats = %+v, want one canceled request", st)
	}
}

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"rate above 1", Config{ErrorRate: 1.5}, "error rate 1.5 is not between 0 and 1"},
		{"negative rate", Config{ErrorRate: -0.1}, "error rate -0.1 is not between 0 and 1"},
		{"NaN rate", Config{ErrorRate: math.NaN()}, "error rate NaN is not between 0 and 1"},
		{"p95 below median", Config{Latency: LatencyDist{Median: 10 * time.Millisecond, P95: 5 * time.Millisecond}},
			"latency p95 5ms is below the median 10ms"},
		{"p95 without median", Config{Latency: LatencyDist{P95: 5 * time.Millisecond}}, "needs a median"},
		{"fault span", Config{Faults: []Fault{{From: 10 * time.Second, Until: 5 * time.Second, ErrorRate: 1}}},
			"faults[0]: from 10s until 5s is not a time span"},
		{"fault rate", Config{Faults: []Fault{{ErrorRate: 2}}}, "faults[0]: error rate 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
