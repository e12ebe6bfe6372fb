package webmetrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// TestWebRequests: the exact requests of a GET source (path, query,
// headers, the secret header) and of a POST one (its body), and the
// values read with jq, per track.
func TestWebRequests(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type")+" "+string(body))
		mu.Unlock()
		switch q := r.URL.Query(); {
		case r.URL.Path == "/api/v1/stats" && q.Get("metric") == "p95":
			w.Write([]byte(`{"result": {"value": 0.25}}`))
		case r.URL.Path == "/api/v1/stats" && q.Get("metric") == "count":
			w.Write([]byte(`{"result": {"value": "1500"}}`))
		case r.URL.Path == "/q":
			w.Write([]byte(`{"series": [{"track": "stable", "errors": 0.01, "n": 900}, {"track": "canary", "errors": 0.04, "n": 100}]}`))
		default:
			http.Error(w, "unexpected", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	t.Setenv("WEB_TEST_AUTH", "Bearer abc-123-secret")

	get := &canary.WebMetrics{
		URL:           srv.URL + `/api/v1/stats?metric={{.Query | urlquery}}&track={{.Selector}}&window={{.Window}}&svc={{.Service}}`,
		SecretHeaders: map[string]canary.SecretRef{"Authorization": "env:WEB_TEST_AUTH"},
		JQ:            ".result.value",
		Queries:       map[string]string{"latency": "p{{.Percentile}}", "requests": "count"},
		Selector:      map[string]string{"canary": "api-canary", "stable": "api-main"},
	}
	src, err := New(Config{Plan: get, Service: "api"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := src.Measure(context.Background(), canary.Query{Metric: canary.MetricLatencyP95, Track: canary.TrackCanary, Window: 5 * time.Minute})
	if err != nil || m.Value != 0.25 || m.Samples != 1500 {
		t.Fatalf("GET: got %+v, %v; want 0.25 over 1500", m, err)
	}
	post := &canary.WebMetrics{
		URL:     srv.URL + "/q",
		Body:    `{"service": "{{.Service}}", "ns": "{{.Namespace}}", "seconds": {{.Seconds}}}`,
		JQ:      `[.series[] | select(.track == "{{.Track}}") | .{{.Query}}]`,
		Queries: map[string]string{"errorRate": "errors", "requests": "n"},
	}
	if src, err = New(Config{Plan: post, Service: "api", Namespace: "shop"}); err != nil {
		t.Fatal(err)
	}
	for track, want := range map[canary.Track]canary.Measurement{canary.TrackCanary: {Value: 0.04, Samples: 100}, canary.TrackStable: {Value: 0.01, Samples: 900}} {
		m, err := src.Measure(context.Background(), canary.Query{Metric: canary.MetricErrorRate, Track: track, Window: 90 * time.Second})
		if err != nil || m.Value != want.Value || m.Samples != want.Samples {
			t.Errorf("POST %s: got %+v, %v; want %+v", track, m, err, want)
		}
	}
	wantSeen := map[string]bool{
		"GET /api/v1/stats?metric=p95&track=api-canary&window=5m&svc=api Bearer abc-123-secret  ":   true,
		"GET /api/v1/stats?metric=count&track=api-canary&window=5m&svc=api Bearer abc-123-secret  ": true,
		`POST /q  application/json {"service": "api", "ns": "shop", "seconds": 90}`:                 true,
	}
	for _, s := range seen {
		if !wantSeen[s] {
			t.Errorf("unexpected request %q", s)
		}
	}
	if len(seen) != 6 {
		t.Errorf("%d requests, want 6: %q", len(seen), seen)
	}
}

// TestWebAnswers: empty answers are no data; several numbers, non-JSON,
// and a non-number are errors naming the query; the secret never shows.
func TestWebAnswers(t *testing.T) {
	var answer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(answer)) }))
	defer srv.Close()
	t.Setenv("WEB_TEST_KEY", "key-0123456789")
	src, err := New(Config{Plan: &canary.WebMetrics{URL: srv.URL + "/m?q={{.Query}}&t={{.Track}}", JQ: ".data",
		SecretHeaders: map[string]canary.SecretRef{"X-Key": "env:WEB_TEST_KEY"}}, Service: "api"})
	if err != nil {
		t.Fatal(err)
	}
	q := canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackStable, Window: time.Minute}
	tests := []struct {
		answer string
		nodata bool
		kind   error
		msg    string
	}{
		{`{"data": null}`, true, nil, ""},
		{`{"data": []}`, true, nil, ""},
		{`{}`, true, nil, ""},
		{`{"data": [3]}`, false, nil, ""},
		{`{"data": [1, 2]}`, false, metricsrc.ErrSeveralSeries, "2 series"},
		{`<html>oops key-0123456789</html>`, false, metricsrc.ErrBadQuery, "the answer is not JSON"},
		{`{"data": "fast"}`, false, metricsrc.ErrBadQuery, `jq yielded "fast", not a number`},
		{`{"data": {"v": 1}}`, false, metricsrc.ErrBadQuery, `jq yielded {"v":1}, not a number`},
	}
	for _, tt := range tests {
		answer = tt.answer
		m, err := src.Measure(context.Background(), q)
		switch {
		case tt.kind == nil && (err != nil || m.NoData != tt.nodata):
			t.Errorf("%s: got %+v, %v; want nodata=%v", tt.answer, m, err, tt.nodata)
		case tt.kind != nil && (!errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) ||
			!strings.Contains(err.Error(), "web "+srv.URL+": requestRate query `requestRate`")):
			t.Errorf("%s: got %v; want %v naming the query, %q", tt.answer, err, tt.kind, tt.msg)
		}
		if err != nil && strings.Contains(err.Error(), "key-0123456789") {
			t.Errorf("%s: the secret is in the error: %v", tt.answer, err)
		}
	}
}

func TestWebNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		w    canary.WebMetrics
		want string
	}{
		{"jq syntax", canary.WebMetrics{URL: "http://h/", JQ: ".a["}, "jq \".a[\""},
		{"url variable", canary.WebMetrics{URL: "http://h/{{.Metric}}", JQ: "."}, "can't evaluate field Metric"},
		{"not http", canary.WebMetrics{URL: "ftp://h/", JQ: "."}, "not an http(s) URL"},
		{"no jq", canary.WebMetrics{URL: "http://h/"}, "jq is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Plan: &tt.w})
			if err == nil || !strings.Contains(err.Error(), tt.want) || canary.ErrorCode(err) != canary.EINVALID {
				t.Fatalf("got %v, want invalid %q", err, tt.want)
			}
		})
	}
}
