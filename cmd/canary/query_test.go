package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/canary-dev/canary/canarytest"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/promql/promqltest"
	"github.com/canary-dev/canary/proxy"
	"github.com/canary-dev/canary/sample"
	"github.com/prometheus/client_golang/prometheus"
)

// runQueryCmd runs `canary query args...`.
func runQueryCmd(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(ctx, append([]string{"query"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// squash collapses runs of spaces, so table rows match whatever the
// column widths.
func squash(s string) string { return spaces.ReplaceAllString(s, " ") }

var spaces = regexp.MustCompile(` +`)

const queryPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: query-e2e, namespace: shop}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 30, hold: 10s}, {weight: 100}]
  analysis:
    interval: 1s
%s
  rules:
    - {metric: latencyP95, above: 300ms, window: 20s, action: rollback-gradual}
    - {metric: errorRate, above: 5%%, window: 20s, action: rollback-immediate}
    - {metric: burnRate, above: 2x, window: 20s, action: rollback-gradual}
    - {metric: requestRate, below: 1, window: 20s, action: pause}
`

// queryEnv is canary's proxy at 30% in front of two backends, after 4s of
// load, scraped by a real Prometheus whose counters are at rest.
type queryEnv struct {
	prom           *promqltest.Server
	stable, canary *sample.Server
	dir            string
}

func newQueryEnv(t *testing.T) *queryEnv {
	t.Helper()
	promqltest.Binary(t)
	ctx := t.Context()
	e := &queryEnv{dir: t.TempDir()}
	var err error
	if e.stable, err = sample.Start(ctx, "", sample.Config{Latency: fastLatency, ErrorRate: 0.01, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if e.canary, err = sample.Start(ctx, "", sample.Config{Latency: fastLatency, ErrorRate: 0.1, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	rec, err := proxy.NewRecorder(proxy.RecorderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.New(proxy.Config{Stable: e.stable.URL(), Canary: e.canary.URL(), Weight: 30, Recorder: rec,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	frontSrv := proxy.NewServer("", px)
	frontAddr, err := frontSrv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frontSrv.Close() })
	admin := httptest.NewServer(proxy.AdminHandler(reg))
	t.Cleanup(admin.Close)
	e.prom = promqltest.Start(t, promqltest.Options{Targets: []string{admin.Listener.Addr().String()}})
	e.prom.WaitUp(20 * time.Second)
	res, err := loadgen.Run(ctx, loadgen.Config{Target: "http://" + frontAddr.String() + "/", Rate: 150, Duration: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	canarytest.WaitFor(t, 10*time.Second, fmt.Sprintf("prometheus scraping the final %d requests", res.Requests), func() (bool, string) {
		v, err := e.prom.Query(ctx, "sum(canary_proxy_requests_total)")
		return err == nil && len(v) == 1 && v[0] == float64(res.Requests), fmt.Sprintf("last %v %v", v, err)
	})
	return e
}

// plan writes a plan whose analysis has the given metrics block.
func (e *queryEnv) plan(t *testing.T, name, metrics string) string {
	t.Helper()
	file := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(queryPlan, metrics)), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestQueryCommand runs `canary query` against a real Prometheus: every
// row of a good plan answers with the values the backends served; a wrong
// template, a wrong address and a plan without Prometheus fail clearly
// with exit codes 2, 5 and 2.
func TestQueryCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("real Prometheus and 4s of load")
	}
	t.Parallel()
	e := newQueryEnv(t)
	ctx := t.Context()
	good := e.plan(t, "good", "    metrics: {prometheus: {address: \""+e.prom.URL()+"\"}}")

	t.Run("json values per track", func(t *testing.T) {
		code, out, stderr := runQueryCmd(ctx, "-o", "json", good)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
		var rep queryReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if rep.Rollout != "query-e2e" || rep.Namespace != "shop" || rep.Address != e.prom.URL() || len(rep.Queries) != 6 {
			t.Fatalf("report %+v, want query-e2e in shop at %s with 6 rows", rep, e.prom.URL())
		}
		for _, q := range rep.Queries {
			if q.Status != statusOK || q.SamplesStatus != statusOK || q.Value == nil || q.Samples == nil || q.Expr == "" || q.RequestsExpr == "" {
				t.Errorf("row %s %s: %+v, want ok with a value, samples and the PromQL", q.Metric, q.Track, q)
				continue
			}
			backend := e.stable.Service().Stats()
			if q.Track == canary.TrackCanary {
				backend = e.canary.Service().Stats()
			}
			// Counters at rest: the ratio is exact; increase() may
			// extrapolate the count by up to a scrape interval.
			if s := float64(*q.Samples); s < 0.98*float64(backend.Requests) || s > 1.15*float64(backend.Requests) {
				t.Errorf("row %s %s: %d samples, the backend served %d", q.Metric, q.Track, *q.Samples, backend.Requests)
			}
			if _, latency := q.Metric.Quantile(); latency {
				// The latency histogram holds the window's requests too.
				if q.BucketsStatus != statusOK || q.Buckets == nil || *q.Buckets == 0 || q.BucketsExpr == "" {
					t.Errorf("row %s %s: histogram %s %v (%s), want its buckets", q.Metric, q.Track, q.BucketsStatus, q.Buckets, q.BucketsError)
				} else if n := float64(*q.BucketRequests); n < 0.98*float64(backend.Requests) || n > 1.15*float64(backend.Requests) {
					t.Errorf("row %s %s: %d requests in the histogram, the backend served %d", q.Metric, q.Track, *q.BucketRequests, backend.Requests)
				}
			}
			if q.Metric == canary.MetricErrorRate {
				want := float64(backend.Errors) / float64(backend.Requests)
				if math.Abs(*q.Value-want) > 0.002 {
					t.Errorf("%s error rate %.4f, the backend served %.4f", q.Track, *q.Value, want)
				}
				if q.Track == canary.TrackCanary && (len(q.Rules) != 2 || !strings.HasPrefix(q.Rules[1], "burnRate")) {
					t.Errorf("canary errorRate row serves rules %q, want the errorRate and the burnRate rule", q.Rules)
				}
			}
		}
	})

	t.Run("text table", func(t *testing.T) {
		code, out, stderr := runQueryCmd(ctx, "--show-queries", good)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
		out = squash(out)
		for _, want := range []string{"Prometheus " + e.prom.URL(), "METRIC", "errorRate 20s canary", "requestRate",
			"errorRate > 5% for 1s; burnRate > 2x", "ok, histogram", "buckets, ",
			`latencyBuckets: sum by (le) (increase(canary_proxy_request_duration_seconds_bucket{track="canary"}[20s]))`, `histogram_quantile(0.95, sum by (le) (rate(canary_proxy_request_duration_seconds_bucket{track="canary"}[20s])))`} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	tests := []struct {
		name     string
		metrics  string
		args     []string
		wantCode int
		want     []string // in stdout+stderr
	}{
		{"several series", `    metrics: {prometheus: {address: "` + e.prom.URL() + `", queries: {latency: 'rate(canary_proxy_request_duration_seconds_bucket{track="{{.Track}}"}[{{.Window}}])'}}}`,
			nil, ExitInvalid, []string{"latency query `rate(canary_proxy_request_duration_seconds_bucket{track=\"canary\"}[20s])`",
				"`: several series where one is expected: 20 series (aggregate them", "a query template is wrong"}},
		{"syntax error", `    metrics: {prometheus: {address: "` + e.prom.URL() + `", queries: {errorRate: 'sum(rate(x[{{.Window}}])'}}}`,
			nil, ExitInvalid, []string{"errorRate query `sum(rate(x[20s])`: bad query", "parse error"}},
		{"no data", `    metrics: {prometheus: {address: "` + e.prom.URL() + `", queries: {requestRate: 'sum(rate(nobody_exports_this{track="{{.Track}}"}[{{.Window}}]))'}}}`,
			nil, 0, []string{"requestRate 20s canary nodata", "nodata: the query returned no series or NaN"}},
		{"wrong address", `    metrics: {prometheus: {address: "http://127.0.0.1:1", timeout: 1s}}`,
			nil, ExitUnavailable, []string{"Prometheus http://127.0.0.1:1 did not answer", "prometheus http://127.0.0.1:1: latency query", "connection refused"}},
		{"builtin plan", "", nil, ExitInvalid, []string{"the plan measures with the builtin metrics, not Prometheus", "--address"}},
		{"builtin plan with --address", "", []string{"--address", e.prom.URL()}, 0, []string{"errorRate 20s stable"}},
		{"bad output flag", "", []string{"-o", "yaml"}, ExitInvalid, []string{`-o "yaml": use json or text`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := e.plan(t, strings.ReplaceAll(tt.name, " ", "-"), tt.metrics)
			code, out, stderr := runQueryCmd(ctx, append(tt.args, file)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tt.wantCode, out, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(squash(out+stderr), w) {
					t.Errorf("output lacks %q:\n%s\n%s", w, out, stderr)
				}
			}
		})
	}
}
