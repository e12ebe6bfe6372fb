package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

// writeQueryPlan writes queryPlan with metrics as its analysis.metrics.
func writeQueryPlan(t *testing.T, metrics string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(queryPlan, metrics)), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// checkQueryValues runs `canary query -o json` on file and checks every
// row's value and samples against want (by metric and track), and that
// the report names the source.
func checkQueryValues(t *testing.T, file, source, address string, want map[string]map[canary.Track][2]float64, args ...string) {
	t.Helper()
	code, out, stderr := runQueryCmd(t.Context(), append(append([]string{"-o", "json"}, args...), file)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	var rep queryReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Source != source || rep.Address != address || len(rep.Queries) != 6 {
		t.Fatalf("report %+v, want %s %s with 6 rows", rep, source, address)
	}
	for _, q := range rep.Queries {
		w, ok := want[string(q.Metric)][q.Track]
		if !ok {
			continue // burnRate's errorRate rows repeat errorRate's
		}
		if q.Status != statusOK || q.Value == nil || q.Samples == nil || q.Expr == "" {
			t.Errorf("%s %s: %+v, want ok with a value, samples and the query", q.Metric, q.Track, q)
			continue
		}
		if d := *q.Value - w[0]; d > 1e-9 || d < -1e-9 || *q.Samples != int64(w[1]) {
			t.Errorf("%s %s: got %v over %d, want %v over %v", q.Metric, q.Track, *q.Value, *q.Samples, w[0], w[1])
		}
	}
}

// TestQueryWeb: `canary query` against a web source's own HTTP server:
// the values per track it answered, the secret header sent and never
// printed, and a server that is down exits 5 naming the source.
func TestQueryWeb(t *testing.T) {
	t.Setenv("QUERY_WEB_TOKEN", "Bearer tok-9f8e7d6c5b")
	values := map[string]map[string]float64{
		"stable": {"latency": 0.120, "errorRate": 0.001, "requestRate": 70, "requests": 1400},
		"canary": {"latency": 0.180, "errorRate": 0.02, "requestRate": 30, "requests": 600},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("Authorization") != "Bearer tok-9f8e7d6c5b" || q.Get("window") != "20s" || q.Get("service") != "query-e2e" {
			http.Error(w, "unexpected request "+r.URL.String(), http.StatusBadRequest)
			return
		}
		v, ok := values[q.Get("track")][q.Get("metric")]
		if !ok {
			http.Error(w, "no such metric", http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"value": v}})
	}))
	defer srv.Close()
	metrics := `    metrics:
      web:
        url: "` + srv.URL + `/v1/stat?service={{.Service}}&track={{.Track}}&metric={{.Query}}&window={{.Window}}"
        secretHeaders: {Authorization: env:QUERY_WEB_TOKEN}
        jq: .data.value`
	file := writeQueryPlan(t, metrics)
	checkQueryValues(t, file, "web", srv.URL, map[string]map[canary.Track][2]float64{
		"latencyP95":  {canary.TrackStable: {0.120, 1400}, canary.TrackCanary: {0.180, 600}},
		"errorRate":   {canary.TrackStable: {0.001, 1400}, canary.TrackCanary: {0.02, 600}},
		"requestRate": {canary.TrackStable: {70, 1400}, canary.TrackCanary: {30, 600}},
	})
	code, out, stderr := runQueryCmd(t.Context(), "--show-queries", file)
	if code != 0 || strings.Contains(out+stderr, "tok-9f8e7d6c5b") || !strings.Contains(out, "web "+srv.URL) {
		t.Errorf("text: exit %d, want 0 naming the source, never the token:\n%s\n%s", code, out, stderr)
	}
	srv.Close()
	code, out, stderr = runQueryCmd(t.Context(), file)
	if code != ExitUnavailable || !strings.Contains(out+stderr, "web "+srv.URL+" did not answer") {
		t.Errorf("down: exit %d, want %d naming the source:\n%s\n%s", code, ExitUnavailable, out, stderr)
	}
}

// TestQueryInfluxDB: `canary query` against a real influxd fed one point
// per request of each track over the last 20s: the default queries'
// values per track.
func TestQueryInfluxDB(t *testing.T) {
	srv := srvtest.StartInflux(t, "metrics")
	now := time.Now().Truncate(time.Second) // the query's --at
	var b strings.Builder
	for i := range 400 { // stable: 400 requests, 4 failed, 10..409ms
		status := 200
		if i%100 == 0 {
			status = 502
		}
		fmt.Fprintf(&b, "http_requests,service=query-e2e,track=stable duration_ms=%d,status=%di %d\n", 10+i, status, now.Add(-time.Duration(i+1)*40*time.Millisecond).UnixMilli())
	}
	for i := range 100 { // canary: 100 requests, 20 failed, 500..599ms
		status := 200
		if i%5 == 0 {
			status = 500
		}
		fmt.Fprintf(&b, "http_requests,service=query-e2e,track=canary duration_ms=%d,status=%di %d\n", 500+i, status, now.Add(-time.Duration(i+1)*150*time.Millisecond).UnixMilli())
	}
	if err := srv.Write(b.String()); err != nil {
		t.Fatal(err)
	}
	file := writeQueryPlan(t, `    metrics: {influxdb: {address: "`+srv.URL+`", database: metrics}}`)
	checkQueryValues(t, file, "influxdb", srv.URL, map[string]map[canary.Track][2]float64{
		"latencyP95":  {canary.TrackStable: {0.389, 400}, canary.TrackCanary: {0.594, 100}},
		"errorRate":   {canary.TrackStable: {0.01, 400}, canary.TrackCanary: {0.2, 100}},
		"requestRate": {canary.TrackStable: {20, 400}, canary.TrackCanary: {5, 100}},
	}, "--at", now.Format(time.RFC3339))
}

// TestQueryGraphite: `canary query` against a real Carbon and
// graphite-web fed statsd's names for each track over the last 20s: the
// default targets' values per track.
func TestQueryGraphite(t *testing.T) {
	g := srvtest.StartGraphite(t)
	now := time.Now().Add(-5 * time.Second).Truncate(time.Second) // the query's --at
	var pts []srvtest.Point
	add := func(path string, v float64, i int) {
		pts = append(pts, srvtest.Point{Path: "stats" + path, Value: v, At: now.Add(-time.Duration(i) * time.Second)})
	}
	for i := range 20 {
		add("_counts.query-e2e.stable.requests", 20, i) // 400 requests, 4 failed
		if i%5 == 0 {
			add("_counts.query-e2e.stable.errors", 1, i)
		}
		add(".timers.query-e2e.stable.latency.upper_95", 389, i)
		add("_counts.query-e2e.canary.requests", 5, i) // 100 requests, 20 failed
		add("_counts.query-e2e.canary.errors", 1, i)
		add(".timers.query-e2e.canary.latency.upper_95", 594, i)
	}
	if err := g.Write(pts); err != nil {
		t.Fatalf("%v\n%s", err, g.Logs())
	}
	file := writeQueryPlan(t, `    metrics: {graphite: {address: "`+g.URL+`", resolution: 1s}}`)
	checkQueryValues(t, file, "graphite", g.URL, map[string]map[canary.Track][2]float64{
		"latencyP95":  {canary.TrackStable: {0.389, 400}, canary.TrackCanary: {0.594, 100}},
		"errorRate":   {canary.TrackStable: {0.01, 400}, canary.TrackCanary: {0.2, 100}},
		"requestRate": {canary.TrackStable: {20, 400}, canary.TrackCanary: {5, 100}},
	}, "--at", now.Format(time.RFC3339))
}
