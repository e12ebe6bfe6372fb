package newrelic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/apisrc"
)

const testKey = "NRAK-0123456789ABCDEFGHIJ"

type call struct {
	method, path, key, contentType string
	body                           request
}

// recorded is a local NerdGraph: answer gives the status and body for
// each request's NRQL, and every request is kept.
type recorded struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []call
	answer func(nrql string) (int, string)
}

func newRecorded(t *testing.T, answer func(nrql string) (int, string)) *recorded {
	r := &recorded{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		c := call{method: req.Method, path: req.URL.RequestURI(), key: req.Header.Get("API-Key"), contentType: req.Header.Get("Content-Type")}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c.body); err != nil {
			t.Errorf("request body %s: %v", raw, err)
		}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		answer := r.answer
		r.mu.Unlock()
		nrql, _ := c.body.Variables["nrql"].(string)
		code, body := answer(nrql)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorded) sent() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func file(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newSource(t *testing.T, addr string) *apisrc.Source {
	t.Helper()
	t.Setenv("NR_TEST_KEY", testKey)
	src, err := New(Config{
		Plan:    canary.NewRelicMetrics{AccountID: 1234567, Address: addr + "/graphql", APIKey: "env:NR_TEST_KEY"},
		Service: "shop", Backoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

var at = time.UnixMilli(1765000300000)

// answers routes the default queries to recorded answers.
func answers(t *testing.T) func(string) (int, string) {
	return func(nrql string) (int, string) {
		switch {
		case strings.HasPrefix(nrql, "SELECT percentile"):
			return 200, file(t, "percentile.json")
		case strings.Contains(nrql, "error IS true"):
			return 200, file(t, "errors.json")
		}
		return 200, file(t, "count.json")
	}
}

// TestRequests checks the exact NerdGraph requests of a latency
// measurement and the measurement made of the recorded answers.
func TestRequests(t *testing.T) {
	rec := newRecorded(t, answers(t))
	m, err := newSource(t, rec.srv.URL).Measure(context.Background(),
		canary.Query{Metric: "latencyP95", Track: canary.TrackCanary, Window: 5 * time.Minute, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, canary.Measurement{Value: 0.231, Samples: 480}) {
		t.Errorf("got %+v, want 0.231s over 480 samples", m)
	}
	want := map[string]bool{
		"SELECT count(*) FROM Transaction WHERE appName = 'shop' AND tags.track = 'canary' SINCE 1765000000000 UNTIL 1765000300000":                 true,
		"SELECT percentile(duration, 95) FROM Transaction WHERE appName = 'shop' AND tags.track = 'canary' SINCE 1765000000000 UNTIL 1765000300000": true,
	}
	calls := rec.sent()
	if len(calls) != 2 {
		t.Fatalf("got %d requests, want 2", len(calls))
	}
	for _, c := range calls {
		if c.method != http.MethodPost || c.path != "/graphql" || c.key != testKey || c.contentType != "application/json" {
			t.Errorf("got %s %s API-Key %q Content-Type %q, want POST /graphql with the key, JSON", c.method, c.path, c.key, c.contentType)
		}
		if c.body.Query != GraphQL {
			t.Errorf("GraphQL %q, want %q", c.body.Query, GraphQL)
		}
		if id, _ := c.body.Variables["accountId"].(float64); id != 1234567 || len(c.body.Variables) != 2 {
			t.Errorf("variables %v, want accountId 1234567 and nrql", c.body.Variables)
		}
		nrql, _ := c.body.Variables["nrql"].(string)
		if !want[nrql] {
			t.Errorf("unexpected NRQL %q", nrql)
		}
		delete(want, nrql)
	}
}

// TestMeasure: errorRate and requestRate from the counts; empty rows
// and null values are no data.
func TestMeasure(t *testing.T) {
	rec := newRecorded(t, answers(t))
	src := newSource(t, rec.srv.URL)
	q := canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: time.Minute, At: at}
	if m, err := src.Measure(context.Background(), q); err != nil || !reflect.DeepEqual(m, canary.Measurement{Value: 0.05, Samples: 480}) {
		t.Errorf("errorRate: got %+v, %v, want 5%% of 480", m, err)
	}
	q.Metric = canary.MetricRequestRate
	if m, err := src.Measure(context.Background(), q); err != nil || !reflect.DeepEqual(m, canary.Measurement{Value: 8, Samples: 480}) {
		t.Errorf("requestRate: got %+v, %v, want 8/s", m, err)
	}
	for _, f := range []string{"empty.json", "null.json"} {
		rec.mu.Lock()
		rec.answer = func(string) (int, string) { return 200, file(t, f) }
		rec.mu.Unlock()
		for _, metric := range []canary.Metric{canary.MetricErrorRate, "latencyP99"} {
			q.Metric = metric
			if m, err := src.Measure(context.Background(), q); err != nil || !m.NoData {
				t.Errorf("%s %s: got %+v, %v, want no data", f, metric, m, err)
			}
		}
	}
}

// TestFailures: several rows, a syntax error and malformed answers are
// errors naming the query; 5xx and 429 are retried; the key is never in
// an error.
func TestFailures(t *testing.T) {
	tests := []struct {
		name     string
		answers  [][2]any
		kind     error
		contains []string
		attempts int
	}{
		{"facet", [][2]any{{200, "facet.json"}}, apisrc.ErrSeveralSeries,
			[]string{"latency query `SELECT percentile(duration, 95)", "2 rows", `"facet":"stable"`}, 1},
		{"syntax", [][2]any{{200, "syntax.json"}}, apisrc.ErrBadQuery, []string{"unexpected 'FORM'"}, 1},
		{"two fields", [][2]any{{200, `{"data":{"actor":{"account":{"nrql":{"results":[{"a":1,"b":2}]}}}}}`}}, apisrc.ErrBadQuery,
			[]string{"2 fields (a, b)"}, 1},
		{"not json", [][2]any{{200, `<html>`}}, apisrc.ErrBadQuery, []string{"not NerdGraph JSON"}, 1},
		{"unauthorized", [][2]any{{401, `{"errors":[{"message":"Invalid API key"}]}`}}, apisrc.ErrUnavailable,
			[]string{"401 Unauthorized", "check apiKey"}, 1},
		{"retried 5xx then 429", [][2]any{{503, "busy"}, {429, "slow down"}, {200, "facet.json"}}, apisrc.ErrSeveralSeries,
			[]string{"(after 3 attempts)"}, 3},
		{"unavailable", [][2]any{{500, "oops"}}, apisrc.ErrUnavailable, []string{"500 Internal Server Error", "(after 3 attempts)"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			rec := newRecorded(t, func(nrql string) (int, string) {
				if !strings.HasPrefix(nrql, "SELECT percentile") {
					return 200, file(t, "count.json")
				}
				mu.Lock()
				defer mu.Unlock()
				a := tt.answers[min(n, len(tt.answers)-1)]
				n++
				body := a[1].(string)
				if strings.HasSuffix(body, ".json") {
					body = file(t, body)
				}
				return a[0].(int), body
			})
			_, err := newSource(t, rec.srv.URL).Measure(context.Background(),
				canary.Query{Metric: "latencyP95", Track: canary.TrackCanary, Window: time.Minute, At: at})
			if !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, want %v", err, tt.kind)
			}
			for _, s := range append(tt.contains, "newRelic http://127.0.0.1") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if n != tt.attempts {
				t.Errorf("got %d attempts, want %d", n, tt.attempts)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q holds the key", err)
			}
		})
	}
}

// TestConfig: regions, a missing account, a key that cannot be read.
func TestConfig(t *testing.T) {
	for region, want := range map[string]string{"": USAddress, "us": USAddress, "EU": EUAddress} {
		if got, err := Endpoint(region); got != want || err != nil {
			t.Errorf("Endpoint(%q) = %q, %v, want %q", region, got, err, want)
		}
	}
	t.Setenv("NR_TEST_KEY", testKey)
	for _, tt := range []struct {
		plan canary.NewRelicMetrics
		want string
	}{
		{canary.NewRelicMetrics{AccountID: 1, APIKey: "env:NR_TEST_KEY", Region: "APAC"}, `region "APAC" is not US or EU`},
		{canary.NewRelicMetrics{APIKey: "env:NR_TEST_KEY"}, "accountID: required"},
		{canary.NewRelicMetrics{AccountID: 1, APIKey: "env:NR_TEST_UNSET"}, "apiKey: "},
		{canary.NewRelicMetrics{AccountID: 1, APIKey: "env:NR_TEST_KEY", Queries: map[string]string{"p95": "x"}}, "queries[p95]: not a query name"},
	} {
		_, err := New(Config{Plan: tt.plan})
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), testKey) {
			t.Errorf("%+v: got %v, want %q", tt.plan, err, tt.want)
		}
	}
}
