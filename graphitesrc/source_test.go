package graphitesrc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

// graphite is the package's one Graphite (starting it takes seconds);
// nil when it is not installed.
var graphite *srvtest.Graphite

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if srvtest.GraphiteInstalled() == nil {
			dir, err := os.MkdirTemp("", "graphitesrc")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			start := time.Now()
			if graphite, err = srvtest.LaunchGraphite(dir); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer graphite.Close()
			if testing.Verbose() {
				fmt.Printf("graphite started in %s\n", time.Since(start).Round(time.Millisecond))
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func server(t *testing.T) *srvtest.Graphite {
	t.Helper()
	srvtest.SkipWithoutGraphite(t)
	return graphite
}

// feed writes statsd's names for one window ending at end (60 points at
// 1s, the window (end-60s, end]) of service svc: the stable 15 requests
// a second, 9 of them errors, latency upper_95 alternating 100 and 200
// ms; the canary 2 requests a second for 50 seconds, 12 errors, upper_95
// 1000 ms and upper_99_9 2000 ms; the service svc+"quiet" has 3 canary
// requests a second and no errors counter. Points at end-60s (outside
// the window) must not count. Each test feeds its own service: a
// window of one test must not see another's points.
func feed(t *testing.T, g *srvtest.Graphite, svc string, end time.Time) {
	t.Helper()
	var pts []srvtest.Point
	add := func(path string, v float64, i int) {
		path = strings.Replace(strings.Replace(path, ".api.", "."+svc+".", 1), ".quiet.", "."+svc+"quiet.", 1)
		pts = append(pts, srvtest.Point{Path: path, Value: v, At: end.Add(-time.Duration(i) * time.Second)})
	}
	for i := range 60 {
		add("stats_counts.api.stable.requests", 15, i)
		add("stats.timers.api.stable.latency.upper_95", float64(100+100*(i%2)), i)
		if i%7 == 0 && i/7 < 9 {
			add("stats_counts.api.stable.errors", 1, i)
		}
		if i < 50 {
			add("stats_counts.api.canary.requests", 2, i)
			add("stats.timers.api.canary.latency.upper_95", 1000, i)
			add("stats.timers.api.canary.latency.upper_99_9", 2000, i)
		}
		if i%5 == 0 {
			add("stats_counts.api.canary.errors", 1, i)
		}
		add("stats_counts.quiet.canary.requests", 3, i)
	}
	add("stats_counts.api.stable.requests", 1000, 60)
	add("stats_counts.api.canary.errors", 1000, 60)
	if err := g.Write(pts); err != nil {
		t.Fatalf("%v\n%s", err, g.Logs())
	}
}

func newSource(t *testing.T, m canary.GraphiteMetrics, service string) *metricsrc.Source {
	t.Helper()
	src, err := New(Config{Plan: &m, Service: service})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestGraphite measures statsd-named series in a real Carbon and
// graphite-web with the default targets: exact counts, error ratios,
// rates and latencies per track; a service without an errors counter has
// an error rate of 0; an empty window is no data.
func TestGraphite(t *testing.T) {
	g := server(t)
	end := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	feed(t, g, "api", end)
	src := newSource(t, canary.GraphiteMetrics{Address: g.URL}, "api")
	ctx := context.Background()
	tests := []struct {
		service string
		metric  canary.Metric
		track   canary.Track
		value   float64
		samples int64
	}{
		{"api", canary.MetricErrorRate, canary.TrackStable, 9.0 / 900, 900},
		{"api", canary.MetricErrorRate, canary.TrackCanary, 12.0 / 100, 100},
		{"api", canary.MetricRequestRate, canary.TrackStable, 900.0 / 60, 900},
		{"api", canary.MetricRequestRate, canary.TrackCanary, 100.0 / 60, 100},
		{"api", canary.MetricLatencyP95, canary.TrackStable, 0.15, 900},
		{"api", canary.MetricLatencyP95, canary.TrackCanary, 1.0, 100},
		{"api", canary.Metric("latencyP99.9"), canary.TrackCanary, 2.0, 100},
		{"apiquiet", canary.MetricErrorRate, canary.TrackCanary, 0, 180},
	}
	for _, tt := range tests {
		s := src
		if tt.service != "api" {
			s = newSource(t, canary.GraphiteMetrics{Address: g.URL}, tt.service)
		}
		m, err := s.Measure(ctx, canary.Query{Metric: tt.metric, Track: tt.track, Window: time.Minute, At: end})
		if err != nil || m.NoData || math.Abs(m.Value-tt.value) > 1e-6 || m.Samples != tt.samples {
			t.Errorf("%s %s %s: got %+v, %v; want %v over %d", tt.service, tt.metric, tt.track, m, err, tt.value, tt.samples)
		}
	}
	// A window before any point: no data, no samples.
	m, err := src.Measure(ctx, canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute, At: end.Add(-time.Hour)})
	if err != nil || !m.NoData || m.Samples != 0 {
		t.Errorf("empty window: got %+v, %v; want no data", m, err)
	}
	// A selector: the canary's series is the path node v2 (none here).
	sel := newSource(t, canary.GraphiteMetrics{Address: g.URL, Selector: map[string]string{"canary": "v2"}}, "api")
	m, err = sel.Measure(ctx, canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute, At: end})
	if err != nil || !m.NoData {
		t.Errorf("selector v2: got %+v, %v; want no data", m, err)
	}
	m, err = sel.Measure(ctx, canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: time.Minute, At: end})
	if err != nil || m.Samples != 900 {
		t.Errorf("selector, stable: got %+v, %v; want 900 samples", m, err)
	}
}

// TestGraphiteQueryErrors: several series, several points and an
// unknown function (graphite-web answers 400) are errors naming the
// query. (graphite-web's parser accepts an unclosed parenthesis.)
func TestGraphiteQueryErrors(t *testing.T) {
	g := server(t)
	end := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	feed(t, g, "errs", end)
	ctx := context.Background()
	measure := func(target string) error {
		src := newSource(t, canary.GraphiteMetrics{Address: g.URL, Queries: map[string]string{"errorRate": target}}, "errs")
		_, err := src.Measure(ctx, canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: time.Minute, At: end})
		return err
	}
	err := measure(`summarize(stats_counts.errs.*.requests, "1y", "sum", true)`)
	if !errors.Is(err, metricsrc.ErrSeveralSeries) || !strings.Contains(err.Error(), "graphite "+g.URL+": errorRate query `summarize(stats_counts.errs.*.requests") ||
		!strings.Contains(err.Error(), "2 series") {
		t.Errorf("several series: got %v", err)
	}
	err = measure(`stats_counts.errs.{{.Selector}}.requests`)
	if !errors.Is(err, metricsrc.ErrSeveralSeries) || !strings.Contains(err.Error(), "errorRate query `stats_counts.errs.stable.requests`") ||
		!strings.Contains(err.Error(), "60 points (summarize the target") {
		t.Errorf("several points: got %v", err)
	}
	err = measure(`summarise(stats_counts.errs.stable.requests, "1y")`)
	if !errors.Is(err, metricsrc.ErrBadQuery) || !strings.Contains(err.Error(), "errorRate query `summarise(stats_counts.errs.stable.requests, \"1y\")`: bad query: HTTP 400") {
		t.Errorf("malformed: got %v", err)
	}
}

// TestGraphiteRetriesAndCredentials: a 503 in front of the real
// graphite-web is retried and the value read; the basic-auth password
// and a bearer token reach the server and never an error message; an
// answer that is not the render API's JSON is a bad query.
func TestGraphiteRetriesAndCredentials(t *testing.T) {
	g := server(t)
	end := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	feed(t, g, "retry", end)
	target, _ := url.Parse(g.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var calls atomic.Int64
	var auth atomic.Value
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		switch n := calls.Add(1); {
		case r.URL.Query().Get("target") == "html":
			fmt.Fprint(w, "<html>a login page</html>")
		case r.URL.Query().Get("target") == "refuse":
			http.Error(w, "denied: "+r.Header.Get("Authorization"), http.StatusUnauthorized)
		case n == 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	defer front.Close()
	t.Setenv("GRAPHITE_PASSWORD", "s3cret-pw")
	src := newSource(t, canary.GraphiteMetrics{Address: front.URL,
		BasicAuth: &canary.BasicAuth{Username: "canary", Password: "env:GRAPHITE_PASSWORD"}}, "retry")
	m, err := src.Measure(context.Background(), canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackStable, Window: time.Minute, At: end})
	if err != nil || m.Value != 15 || m.Samples != 900 {
		t.Fatalf("after a 503: got %+v, %v; want 15 over 900", m, err)
	}
	if c := calls.Load(); c != 3 { // 503, then value and requests
		t.Errorf("calls: got %d, want 3", c)
	}
	if a, _ := auth.Load().(string); a != "Basic Y2FuYXJ5OnMzY3JldC1wdw==" {
		t.Errorf("Authorization: got %q", a)
	}
	src = newSource(t, canary.GraphiteMetrics{Address: front.URL, Queries: map[string]string{"errorRate": "html"}}, "retry")
	_, err = src.Measure(context.Background(), canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: time.Minute, At: end})
	if !errors.Is(err, metricsrc.ErrBadQuery) || !strings.Contains(err.Error(), "errorRate query `html`: bad query: the answer is not the render API's JSON") {
		t.Errorf("not JSON: got %v", err)
	}
	t.Setenv("GRAPHITE_TOKEN", "tok-123456")
	src = newSource(t, canary.GraphiteMetrics{Address: front.URL, BearerToken: "env:GRAPHITE_TOKEN",
		Queries: map[string]string{"errorRate": "refuse"}}, "retry")
	_, err = src.Measure(context.Background(), canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: time.Minute, At: end})
	if !errors.Is(err, metricsrc.ErrUnavailable) || strings.Contains(err.Error(), "tok-123456") || !strings.Contains(err.Error(), "401") {
		t.Errorf("refused token: got %v; want unavailable, 401, without the token", err)
	}
}
