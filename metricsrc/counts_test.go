package metricsrc

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// countSource is a counting source whose Run answers each template with
// answers[name] and records the queries sent.
func countSource(t *testing.T, answers map[string]Value) (*Source, func() map[string]string) {
	t.Helper()
	ts, err := ParseTemplates(TemplateConfig{Names: CountNames, Tracks: canary.TrackValues{Stable: `tg "s"`, Canary: "tg-c"},
		Defaults: map[string]string{
			QueryRequests: `{"n":"req {{.Selector}} {{.LoadBalancer}} {{.Since}}-{{.Until}}","q":"{{.Quantile}}"}`,
			QueryErrors:   `{"n":"err {{.Selector}}","d":["{{.Seconds}}",3]}`,
			QueryLatency:  `{"n":"lat p{{.Percentile}} {{.Selector}}"}`,
		}, JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	sent := map[string]string{}
	src := &Source{Kind: "test", Address: "http://h", Templates: ts, Service: "api", LoadBalancer: "app/lb/1", Counts: true,
		Run: func(_ context.Context, name, query string, _ canary.Query) (Value, error) {
			mu.Lock()
			defer mu.Unlock()
			sent[name] = query
			return answers[name], nil
		}}
	return src, func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		return sent
	}
}

// TestCounts: a counting source's measurements are made of its counts
// (errorRate errors/requests, requestRate requests per second, a latency
// as answered, Samples the requests), only the queries a metric needs
// are sent, rendered from JSON templates with the literal selectors and
// the window in milliseconds; no requests is no data.
func TestCounts(t *testing.T) {
	at := time.UnixMilli(1765000300000)
	tests := []struct {
		metric canary.Metric
		track  canary.Track
		want   canary.Measurement
		sent   map[string]string
	}{
		{canary.MetricErrorRate, canary.TrackStable, canary.Measurement{Value: 0.05, Samples: 600}, map[string]string{
			QueryRequests: `{"n":"req tg \"s\" app/lb/1 1765000240000-1765000300000","q":""}`,
			QueryErrors:   `{"d":["60",3],"n":"err tg \"s\""}`}},
		{canary.MetricRequestRate, canary.TrackCanary, canary.Measurement{Value: 10, Samples: 600}, map[string]string{
			QueryRequests: `{"n":"req tg-c app/lb/1 1765000240000-1765000300000","q":""}`}},
		{"latencyP99.9", canary.TrackCanary, canary.Measurement{Value: 0.25, Samples: 600}, map[string]string{
			QueryRequests: `{"n":"req tg-c app/lb/1 1765000240000-1765000300000","q":""}`,
			QueryLatency:  `{"n":"lat p99.9 tg-c"}`}},
	}
	for _, tt := range tests {
		src, sent := countSource(t, map[string]Value{QueryRequests: {V: 600}, QueryErrors: {V: 30}, QueryLatency: {V: 0.25}})
		q := canary.Query{Metric: tt.metric, Track: tt.track, Window: time.Minute, At: at}
		m, err := src.Measure(context.Background(), q)
		if err != nil || m.NoData || m.Samples != tt.want.Samples || math.Abs(m.Value-tt.want.Value) > 1e-12 {
			t.Errorf("%s: got %+v, %v, want %+v", tt.metric, m, err, tt.want)
		}
		got := sent()
		if len(got) != len(tt.sent) {
			t.Errorf("%s: sent %v, want %v", tt.metric, got, tt.sent)
		}
		for name, want := range tt.sent {
			if got[name] != want {
				t.Errorf("%s: %s query %s, want %s", tt.metric, name, got[name], want)
			}
		}
		r, err := src.Render(q)
		if want := map[canary.Metric]string{canary.MetricErrorRate: QueryErrors, canary.MetricRequestRate: QueryRequests}[tt.metric]; err != nil ||
			(want != "" && r.Name != want) || r.Value != got[r.Name] || r.Requests != got[QueryRequests] {
			t.Errorf("%s: rendered %+v, %v; sent %v", tt.metric, r, err, got)
		}
	}
	src, _ := countSource(t, map[string]Value{QueryRequests: {NoData: true}, QueryErrors: {V: 3}, QueryLatency: {NoData: true}})
	for _, metric := range []canary.Metric{canary.MetricErrorRate, canary.MetricRequestRate, "latencyP95"} {
		m, err := src.Measure(context.Background(), canary.Query{Metric: metric, Track: canary.TrackCanary, Window: time.Minute, At: at})
		if err != nil || !m.NoData || m.Samples != 0 {
			t.Errorf("%s without requests: got %+v, %v, want no data", metric, m, err)
		}
	}
}

// TestJSONTemplates: a JSON template's strings are templates, checked
// when parsed and named by their path; a document that is not JSON is
// refused.
func TestJSONTemplates(t *testing.T) {
	for text, want := range map[string]string{
		`{"stat":"p{{.Pct}}"}`:         "queries[latency].stat: ",
		`{"dims":{"a":["x","{{.Tr"]}}`: "queries[latency].dims.a[1]: ",
		`{"stat":`:                     "queries[latency]: not JSON",
	} {
		_, err := ParseTemplates(TemplateConfig{Names: CountNames, JSON: true, Defaults: map[string]string{
			QueryRequests: `{}`, QueryErrors: `{}`, QueryLatency: text}})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v, want an error starting %q", text, err, want)
		}
	}
}

// TestRetry: transient failures are retried up to Retries, a refusal
// and a bad query are not; the failure says how many attempts were made.
func TestRetry(t *testing.T) {
	r := Retry{Retries: 2, Backoff: time.Millisecond}.Defaults()
	tests := []struct {
		name     string
		fail     error
		kind     error
		attempts int
	}{
		{"transient", errors.New("connection refused"), ErrUnavailable, 3},
		{"refused", Refused(errors.New("HTTP 403")), ErrUnavailable, 1},
		{"bad", Bad("no such metric"), ErrBadQuery, 1},
	}
	for _, tt := range tests {
		n := 0
		err := r.Do(context.Background(), func(context.Context) (time.Duration, error) { n++; return 0, tt.fail })
		var f *Failure
		if !errors.As(err, &f) || !errors.Is(err, tt.kind) || f.Attempts != tt.attempts || n != tt.attempts {
			t.Errorf("%s: got %v after %d calls, want %v after %d", tt.name, err, n, tt.kind, tt.attempts)
		}
	}
	n := 0
	if err := r.Do(context.Background(), func(context.Context) (time.Duration, error) {
		if n++; n < 3 {
			return 0, errors.New("reset")
		}
		return 0, nil
	}); err != nil || n != 3 {
		t.Errorf("succeeding third: got %v after %d calls", err, n)
	}
	if d := (Retry{Retries: -1}).Defaults(); d.Retries != 0 || d.Timeout != DefaultTimeout || d.Backoff != DefaultBackoff {
		t.Errorf("defaults: got %+v", d)
	}
}
