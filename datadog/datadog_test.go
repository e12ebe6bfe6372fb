package datadog

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/apisrc"
)

const (
	testAPIKey = "dd-api-0123456789abcdef"
	testAppKey = "dd-app-fedcba9876543210"
)

// recorded is a local Datadog API: answer gives the status and body for
// each request's query, and every request is kept.
type recorded struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	answer func(query string) (int, string)
}

func newRecorded(t *testing.T, answer func(query string) (int, string)) *recorded {
	r := &recorded{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.mu.Unlock()
		code, body := r.answer(req.URL.Query().Get("query"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorded) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

func file(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newSource(t *testing.T, addr string, queries map[string]string) *apisrc.Source {
	t.Helper()
	t.Setenv("DD_TEST_API_KEY", testAPIKey)
	t.Setenv("DD_TEST_APP_KEY", testAppKey)
	src, err := New(Config{
		Plan: canary.DatadogMetrics{Address: addr, APIKey: "env:DD_TEST_API_KEY", ApplicationKey: "env:DD_TEST_APP_KEY",
			Selector: map[string]string{"stable": "version:v1", "canary": "version:v2"}, Queries: queries,
			Timeout: canary.Duration(5 * time.Second)},
		Service: "shop", Namespace: "prod", Backoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

var at = time.Unix(1765000300, 0)

// TestRequests checks the exact requests of an errorRate measurement
// and the value made of the recorded answers: 500 requests (the hits
// points summed, null skipped), no errors series (none).
func TestRequests(t *testing.T) {
	rec := newRecorded(t, func(q string) (int, string) {
		if strings.Contains(q, ".hits") {
			return 200, file(t, "hits.json")
		}
		return 200, file(t, "empty.json")
	})
	src := newSource(t, rec.srv.URL, nil)
	m, err := src.Measure(context.Background(), canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary,
		Window: 5 * time.Minute, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if m.NoData || m.Value != 0 || m.Samples != 500 {
		t.Errorf("got %+v, want value 0 with 500 samples", m)
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2 (requests and errors)", len(reqs))
	}
	got := map[string]bool{}
	for _, r := range reqs {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
			t.Errorf("got %s %s, want GET /api/v1/query", r.Method, r.URL.Path)
		}
		if r.Header.Get("DD-API-KEY") != testAPIKey || r.Header.Get("DD-APPLICATION-KEY") != testAppKey {
			t.Errorf("auth headers %q %q, want the keys from the environment", r.Header.Get("DD-API-KEY"), r.Header.Get("DD-APPLICATION-KEY"))
		}
		want := url.Values{"from": {"1765000000"}, "to": {"1765000300"}, "query": {r.URL.Query().Get("query")}}
		if r.URL.RawQuery != want.Encode() {
			t.Errorf("query string %q, want %q", r.URL.RawQuery, want.Encode())
		}
		got[r.URL.Query().Get("query")] = true
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
			rec := newRecorded(t, func(q string) (int, string) {
				switch {
				case strings.Contains(q, ".hits"):
					return 200, file(t, "hits.json")
				case strings.Contains(q, ".errors"):
					return 200, errs
				}
				return 200, p99
			})
			m, err := newSource(t, rec.srv.URL, nil).Measure(context.Background(),
				canary.Query{Metric: tt.metric, Track: canary.TrackStable, Window: 5 * time.Minute, At: at})
			if err != nil {
				t.Fatal(err)
			}
			if m.Samples != tt.want.Samples || m.NoData || diff(m.Value, tt.want.Value) > 1e-9 {
				t.Errorf("got %+v, want %+v", m, tt.want)
			}
			sent := false
			for _, r := range rec.requests() {
				sent = sent || r.URL.Query().Get("query") == tt.sent
			}
			if !sent {
				t.Errorf("%q was not sent", tt.sent)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		rec := newRecorded(t, func(string) (int, string) { return 200, file(t, "empty.json") })
		for _, metric := range []canary.Metric{canary.MetricErrorRate, canary.MetricRequestRate, "latencyP95"} {
			m, err := newSource(t, rec.srv.URL, nil).Measure(context.Background(),
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
	tests := []struct {
		name     string
		answers  [][2]any // status, body, one per attempt (the last repeats)
		kind     error
		contains []string
		attempts int
	}{
		{"several series", [][2]any{{200, "several.json"}}, apisrc.ErrSeveralSeries,
			[]string{"errors query `sum:trace.http.request.errors{service:shop,version:v2}.as_count()`", "2 series",
				"trace.http.request.errors{service:shop,version:v1}"}, 1},
		{"malformed", [][2]any{{200, `{"status":"ok","series":[{"pointlist":"x"}]}`}}, apisrc.ErrBadQuery,
			[]string{"errors query `sum:", "not Datadog's query JSON"}, 1},
		{"refused", [][2]any{{400, "error400.json"}}, apisrc.ErrBadQuery,
			[]string{"errors query `", "didn't match"}, 1},
		{"forbidden", [][2]any{{403, "forbidden.json"}}, apisrc.ErrUnavailable,
			[]string{"403 Forbidden", "check apiKey and applicationKey"}, 1},
		{"retried 5xx", [][2]any{{502, "bad gateway"}, {503, "unavailable"}, {200, "several.json"}}, apisrc.ErrSeveralSeries,
			[]string{"(after 3 attempts)"}, 3},
		{"retried 429", [][2]any{{429, `{"errors":["Rate limit exceeded"]}`}, {200, "several.json"}}, apisrc.ErrSeveralSeries,
			[]string{"(after 2 attempts)"}, 2},
		{"unavailable", [][2]any{{500, "oops"}}, apisrc.ErrUnavailable, []string{"500 Internal Server Error: oops", "(after 3 attempts)"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			rec := newRecorded(t, func(q string) (int, string) {
				if strings.Contains(q, ".hits") {
					return 200, file(t, "hits.json")
				}
				mu.Lock()
				a := tt.answers[min(n, len(tt.answers)-1)]
				n++
				mu.Unlock()
				body := a[1].(string)
				if strings.HasSuffix(body, ".json") {
					body = file(t, body)
				}
				return a[0].(int), body
			})
			_, err := newSource(t, rec.srv.URL, nil).Measure(context.Background(),
				canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: 5 * time.Minute, At: at})
			if !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, want %v", err, tt.kind)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if n != tt.attempts {
				t.Errorf("got %d attempts, want %d", n, tt.attempts)
			}
			for _, secret := range []string{testAPIKey, testAppKey} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds a key", err)
				}
			}
		})
	}
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
