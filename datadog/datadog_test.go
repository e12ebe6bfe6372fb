package datadog

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

const (
	testAPIKey = "dd-api-0123456789abcdef"
	testAppKey = "dd-app-fedcba9876543210"
)

func newSource(t *testing.T, addr string, queries map[string]string) *metricsrc.Source {
	t.Helper()
	t.Setenv("DD_TEST_API_KEY", testAPIKey)
	t.Setenv("DD_TEST_APP_KEY", testAppKey)
	src, err := New(Config{
		Plan: canary.DatadogMetrics{Address: addr, APIKey: "env:DD_TEST_API_KEY", ApplicationKey: "env:DD_TEST_APP_KEY",
			Selector: map[string]string{"stable": "version:v1", "canary": "version:v2"}, Queries: queries,
			Timeout: canary.Duration(5 * time.Second)},
		Env: metricsrc.Env{Service: "shop", Namespace: "prod", Backoff: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// query is the Datadog query of a call.
func query(c srvtest.Call) string {
	q, _ := url.ParseQuery(c.RawQuery)
	return q.Get("query")
}

var at = time.Unix(1765000300, 0)

// TestRequests checks the exact requests of an errorRate measurement
// and the value made of the recorded answers: 500 requests (the hits
// points summed, null skipped), no errors series (none).
func TestRequests(t *testing.T) {
	rec := srvtest.Record(t, func(c srvtest.Call) srvtest.Reply {
		if strings.Contains(query(c), ".hits") {
			return srvtest.File(t, 200, "hits.json")
		}
		return srvtest.File(t, 200, "empty.json")
	})
	src := newSource(t, rec.URL, nil)
	m, err := src.Measure(context.Background(), canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary,
		Window: 5 * time.Minute, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if m.NoData || m.Value != 0 || m.Samples != 500 {
		t.Errorf("got %+v, want value 0 with 500 samples", m)
	}
	calls := rec.Calls()
	if len(calls) != 2 {
		t.Fatalf("got %d requests, want 2 (requests and errors)", len(calls))
	}
	got := map[string]bool{}
	for _, c := range calls {
		if c.Method != http.MethodGet || c.Path != "/api/v1/query" || len(c.Body) != 0 {
			t.Errorf("got %s %s with %d bytes, want GET /api/v1/query without a body", c.Method, c.Path, len(c.Body))
		}
		if c.Header.Get("DD-API-KEY") != testAPIKey || c.Header.Get("DD-APPLICATION-KEY") != testAppKey ||
			c.Header.Get("Accept") != "application/json" {
			t.Errorf("headers %v, want the keys from the environment, Accept: application/json", c.Header)
		}
		want := url.Values{"from": {"1765000000"}, "to": {"1765000300"}, "query": {query(c)}}
		if c.RawQuery != want.Encode() {
			t.Errorf("query string %q, want %q", c.RawQuery, want.Encode())
		}
		got[query(c)] = true
	}
	for _, q := range []string{"sum:trace.http.request.hits{service:shop,version:v2}.as_count()",
		"sum:trace.http.request.errors{service:shop,version:v2}.as_count()"} {
		if !got[q] {
			t.Errorf("query %q not sent (sent %v)", q, got)
		}
	}
}

// TestMeasure covers the metrics, the stable track's selector and the
// answers that are no data.
func TestMeasure(t *testing.T) {
	errs := `{"status":"ok","series":[{"metric":"trace.http.request.errors","scope":"service:shop,version:v1","pointlist":[[1765000000000.0,25.0],[1765000060000.0,0.0]]}]}`
	p99 := `{"status":"ok","series":[{"metric":"trace.http.request","scope":"service:shop,version:v1","pointlist":[[1765000000000.0,0.2],[1765000060000.0,0.4]]}]}`
	tests := []struct {
		name   string
		metric canary.Metric
		want   canary.Measurement
		sent   string
	}{
		{"error rate", canary.MetricErrorRate, canary.Measurement{Value: 0.05, Samples: 500},
			"sum:trace.http.request.errors{service:shop,version:v1}.as_count()"},
		{"request rate", canary.MetricRequestRate, canary.Measurement{Value: 500.0 / 300, Samples: 500},
			"sum:trace.http.request.hits{service:shop,version:v1}.as_count()"},
		{"latency", "latencyP99", canary.Measurement{Value: 0.3, Samples: 500},
			"p99:trace.http.request{service:shop,version:v1}.rollup(300)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := srvtest.Record(t, func(c srvtest.Call) srvtest.Reply {
				switch q := query(c); {
				case strings.Contains(q, ".hits"):
					return srvtest.File(t, 200, "hits.json")
				case strings.Contains(q, ".errors"):
					return srvtest.Reply{Body: errs}
				}
				return srvtest.Reply{Body: p99}
			})
			m, err := newSource(t, rec.URL, nil).Measure(context.Background(),
				canary.Query{Metric: tt.metric, Track: canary.TrackStable, Window: 5 * time.Minute, At: at})
			if err != nil {
				t.Fatal(err)
			}
			if m.Samples != tt.want.Samples || m.NoData || diff(m.Value, tt.want.Value) > 1e-9 {
				t.Errorf("got %+v, want %+v", m, tt.want)
			}
			sent := false
			for _, c := range rec.Calls() {
				sent = sent || query(c) == tt.sent
			}
			if !sent {
				t.Errorf("%q was not sent", tt.sent)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		rec := srvtest.Record(t, func(srvtest.Call) srvtest.Reply { return srvtest.File(t, 200, "empty.json") })
		for _, metric := range []canary.Metric{canary.MetricErrorRate, canary.MetricRequestRate, "latencyP95"} {
			m, err := newSource(t, rec.URL, nil).Measure(context.Background(),
				canary.Query{Metric: metric, Track: canary.TrackCanary, Window: time.Minute, At: at})
			if err != nil || !m.NoData {
				t.Errorf("%s: got %+v, %v, want no data", metric, m, err)
			}
		}
	})
}

func diff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestFailures: several series, a malformed answer and a refused query
// are errors that name the query and say what went wrong, without
// retrying; 5xx and 429 answers are retried.
func TestFailures(t *testing.T) {
	file := func(status int, name string) srvtest.Reply { return srvtest.File(t, status, name) }
	srvtest.Failures(t, []srvtest.FailureCase{
		{Name: "several series", Replies: []srvtest.Reply{file(200, "several.json")}, Kind: metricsrc.ErrSeveralSeries, Attempts: 1,
			Contains: []string{"errors query `sum:trace.http.request.errors{service:shop,version:v2}.as_count()`", "2 series",
				"trace.http.request.errors{service:shop,version:v1}"}},
		{Name: "malformed", Replies: []srvtest.Reply{{Body: `{"status":"ok","series":[{"pointlist":"x"}]}`}}, Kind: metricsrc.ErrBadQuery,
			Attempts: 1, Contains: []string{"errors query `sum:", "not Datadog's query JSON"}},
		{Name: "refused", Replies: []srvtest.Reply{file(400, "error400.json")}, Kind: metricsrc.ErrBadQuery, Attempts: 1,
			Contains: []string{"errors query `", "didn't match"}},
		{Name: "forbidden", Replies: []srvtest.Reply{file(403, "forbidden.json")}, Kind: metricsrc.ErrUnavailable, Attempts: 1,
			Contains: []string{"403 Forbidden", "check apiKey and applicationKey"}},
		{Name: "retried 5xx", Replies: []srvtest.Reply{{Status: 502, Body: "bad gateway"}, {Status: 503, Body: "unavailable"}, file(200, "several.json")},
			Kind: metricsrc.ErrSeveralSeries, Attempts: 3, Contains: []string{"(after 3 attempts)"}},
		{Name: "retried 429", Replies: []srvtest.Reply{{Status: 429, Body: `{"errors":["Rate limit exceeded"]}`}, file(200, "several.json")},
			Kind: metricsrc.ErrSeveralSeries, Attempts: 2, Contains: []string{"(after 2 attempts)"}},
		{Name: "unavailable", Replies: []srvtest.Reply{{Status: 500, Body: "oops"}}, Kind: metricsrc.ErrUnavailable, Attempts: 3,
			Contains: []string{"500 Internal Server Error: oops", "(after 3 attempts)"}},
	}, []string{testAPIKey, testAppKey}, func(t *testing.T, next func() srvtest.Reply) error {
		rec := srvtest.Record(t, func(c srvtest.Call) srvtest.Reply {
			if strings.Contains(query(c), ".hits") {
				return srvtest.File(t, 200, "hits.json")
			}
			return next()
		})
		_, err := newSource(t, rec.URL, nil).Measure(context.Background(),
			canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: 5 * time.Minute, At: at})
		return err
	})
}

// TestKeysNeverShown: a server echoing the request (URL and headers) in
// its error, an unreachable server and a bad template produce errors
// without the keys.
func TestKeysNeverShown(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"status":"error","error":"bad query ` + r.URL.String() + `"}`))
	}))
	defer echo.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, addr := range []string{echo.URL, dead.URL} {
		_, err := newSource(t, addr, nil).Measure(context.Background(),
			canary.Query{Metric: "latencyP95", Track: canary.TrackCanary, Window: time.Minute, At: at})
		if err == nil {
			t.Fatalf("%s: no error", addr)
		}
		for _, secret := range []string{testAPIKey, testAppKey} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q holds a key", err)
			}
		}
	}
	t.Setenv("DD_TEST_API_KEY", testAPIKey)
	_, err := New(Config{Plan: canary.DatadogMetrics{APIKey: "env:DD_TEST_API_KEY", ApplicationKey: "env:DD_TEST_NOT_SET"}})
	if err == nil || !strings.Contains(err.Error(), "applicationKey") || strings.Contains(err.Error(), testAPIKey) {
		t.Errorf("got %v, want an error naming applicationKey without the api key", err)
	}
	_, err = New(Config{Plan: canary.DatadogMetrics{APIKey: "env:DD_TEST_API_KEY", ApplicationKey: "env:DD_TEST_API_KEY",
		Queries: map[string]string{"latency": "p95:x{{{.Trak}}}"}}})
	if err == nil || !strings.Contains(err.Error(), "queries[latency]") {
		t.Errorf("got %v, want an error naming queries[latency]", err)
	}
}
