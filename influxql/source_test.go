package influxql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

// TestInfluxDB feeds a real influxd one point per request (stable: 900
// requests, 9 of them 5xx, 100..999ms; canary: 100 requests, 10 of them
// 5xx, 1000..1099ms) and measures them with the default queries: exact
// counts, error ratios and P95s; an empty window is no data; several
// series and a refused statement are errors naming the query.
func TestInfluxDB(t *testing.T) {
	srv := srvtest.StartInflux(t, "telegraf")
	end := time.Now().Truncate(time.Second)
	var b strings.Builder
	for i := range 900 {
		status := 200
		if i%100 == 0 {
			status = 503
		}
		fmt.Fprintf(&b, "http_requests,service=api,track=stable duration_ms=%d,status=%di %d\n", 100+i, status, end.Add(-time.Duration(i+1)*time.Millisecond*50).UnixMilli())
	}
	for i := range 100 {
		status := 200
		if i%10 == 0 {
			status = 500
		}
		fmt.Fprintf(&b, "http_requests,service=api,track=canary duration_ms=%d,status=%di %d\n", 1000+i, status, end.Add(-time.Duration(i+1)*time.Millisecond*400).UnixMilli())
	}
	// Another service's points must not count.
	fmt.Fprintf(&b, "http_requests,service=web,track=canary duration_ms=5,status=500i %d\n", end.Add(-time.Second).UnixMilli())
	if err := srv.Write(b.String()); err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Plan: &canary.InfluxDBMetrics{Address: srv.URL, Database: "telegraf"}, Service: "api"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	measure := func(m canary.Metric, track canary.Track, window time.Duration) (canary.Measurement, error) {
		return src.Measure(ctx, canary.Query{Metric: m, Track: track, Window: window, At: end})
	}
	tests := []struct {
		metric  canary.Metric
		track   canary.Track
		value   float64
		samples int64
	}{
		{canary.MetricErrorRate, canary.TrackStable, 9.0 / 900, 900},
		{canary.MetricErrorRate, canary.TrackCanary, 10.0 / 100, 100},
		{canary.MetricRequestRate, canary.TrackStable, 900.0 / 60, 900},
		{canary.MetricLatencyP95, canary.TrackStable, 0.954, 900}, // nearest rank: the 855th of 100..999
		{canary.MetricLatencyP95, canary.TrackCanary, 1.094, 100}, // the 95th of 1000..1099
	}
	for _, tt := range tests {
		m, err := measure(tt.metric, tt.track, time.Minute)
		if err != nil || m.NoData || math.Abs(m.Value-tt.value) > 1e-9 || m.Samples != tt.samples {
			t.Errorf("%s %s: got %+v, %v; want %v over %d", tt.metric, tt.track, m, err, tt.value, tt.samples)
		}
	}
	// A window before any point: no data, no samples.
	m, err := src.Measure(ctx, canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute, At: end.Add(-time.Hour)})
	if err != nil || !m.NoData || m.Samples != 0 {
		t.Errorf("empty window: got %+v, %v; want no data", m, err)
	}

	bad := func(queries map[string]string) error {
		s, err := New(Config{Plan: &canary.InfluxDBMetrics{Address: srv.URL, Database: "telegraf", Queries: queries}, Service: "api"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Measure(ctx, canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: time.Minute, At: end})
		return err
	}
	err = bad(map[string]string{"errorRate": `SELECT COUNT("status") FROM "http_requests" WHERE time > {{.Start}}s GROUP BY "track"`})
	if !errors.Is(err, metricsrc.ErrSeveralSeries) || !strings.Contains(err.Error(), "influxdb "+srv.URL+": errorRate query `SELECT COUNT(\"status\")") {
		t.Errorf("several series: got %v", err)
	}
	err = bad(map[string]string{"errorRate": `SELEKT 1`})
	if !errors.Is(err, metricsrc.ErrBadQuery) || !strings.Contains(err.Error(), "errorRate query `SELEKT 1`: bad query: ") {
		t.Errorf("syntax: got %v", err)
	}
	err = bad(map[string]string{"errorRate": `SELECT COUNT("status") FROM "http_requests" WHERE time > {{.Start}}s GROUP BY time(10s)`})
	if !errors.Is(err, metricsrc.ErrSeveralSeries) || !strings.Contains(err.Error(), "rows (remove GROUP BY time()") {
		t.Errorf("several rows: got %v", err)
	}
}
