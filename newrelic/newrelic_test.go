package newrelic

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

const testKey = "NRAK-0123456789ABCDEFGHIJ"

// body decodes a call's NerdGraph request, refusing unknown fields.
func body(t *testing.T, c srvtest.Call) request {
	var r request
	dec := json.NewDecoder(bytes.NewReader(c.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Errorf("request body %s: %v", c.Body, err)
	}
	return r
}

// route answers each NRQL with answer.
func route(t *testing.T, answer func(nrql string) srvtest.Reply) func(srvtest.Call) srvtest.Reply {
	return func(c srvtest.Call) srvtest.Reply {
		nrql, _ := body(t, c).Variables["nrql"].(string)
		return answer(nrql)
	}
}

func newSource(t *testing.T, addr string) *metricsrc.Source {
	t.Helper()
	t.Setenv("NR_TEST_KEY", testKey)
	src, err := New(Config{
		Plan: canary.NewRelicMetrics{AccountID: 1234567, Address: addr + "/graphql", APIKey: "env:NR_TEST_KEY"},
		Env:  metricsrc.Env{Service: "shop", Backoff: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

var at = time.UnixMilli(1765000300000)

// answers routes the default queries to recorded answers.
func answers(t *testing.T) func(srvtest.Call) srvtest.Reply {
	return route(t, func(nrql string) srvtest.Reply {
		switch {
		case strings.HasPrefix(nrql, "SELECT percentile"):
			return srvtest.File(t, 200, "percentile.json")
		case strings.Contains(nrql, "error IS true"):
			return srvtest.File(t, 200, "errors.json")
		}
		return srvtest.File(t, 200, "count.json")
	})
}

// TestRequests checks the exact NerdGraph requests of a latency
// measurement and the measurement made of the recorded answers.
func TestRequests(t *testing.T) {
	rec := srvtest.Record(t, answers(t))
	m, err := newSource(t, rec.URL).Measure(context.Background(),
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
	calls := rec.Calls()
	if len(calls) != 2 {
		t.Fatalf("got %d requests, want 2", len(calls))
	}
	for _, c := range calls {
		key, ct := c.Header.Get("API-Key"), c.Header.Get("Content-Type")
		if c.Method != http.MethodPost || c.Path != "/graphql" || c.RawQuery != "" || key != testKey || ct != "application/json" {
			t.Errorf("got %s %s?%s API-Key %q Content-Type %q, want POST /graphql with the key, JSON", c.Method, c.Path, c.RawQuery, key, ct)
		}
		b := body(t, c)
		if b.Query != GraphQL {
			t.Errorf("GraphQL %q, want %q", b.Query, GraphQL)
		}
		if id, _ := b.Variables["accountId"].(float64); id != 1234567 || len(b.Variables) != 2 {
			t.Errorf("variables %v, want accountId 1234567 and nrql", b.Variables)
		}
		nrql, _ := b.Variables["nrql"].(string)
		if !want[nrql] {
			t.Errorf("unexpected NRQL %q", nrql)
		}
		delete(want, nrql)
	}
}

// TestMeasure: errorRate and requestRate from the counts; empty rows
// and null values are no data.
func TestMeasure(t *testing.T) {
	rec := srvtest.Record(t, answers(t))
	src := newSource(t, rec.URL)
	q := canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: time.Minute, At: at}
	if m, err := src.Measure(context.Background(), q); err != nil || !reflect.DeepEqual(m, canary.Measurement{Value: 0.05, Samples: 480}) {
		t.Errorf("errorRate: got %+v, %v, want 5%% of 480", m, err)
	}
	q.Metric = canary.MetricRequestRate
	if m, err := src.Measure(context.Background(), q); err != nil || !reflect.DeepEqual(m, canary.Measurement{Value: 8, Samples: 480}) {
		t.Errorf("requestRate: got %+v, %v, want 8/s", m, err)
	}
	for _, f := range []string{"empty.json", "null.json"} {
		rec.SetAnswer(func(srvtest.Call) srvtest.Reply { return srvtest.File(t, 200, f) })
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
	file := func(status int, name string) srvtest.Reply { return srvtest.File(t, status, name) }
	unavailable := []string{"metric source unavailable"}
	cases := []srvtest.FailureCase{
		{Name: "facet", Replies: []srvtest.Reply{file(200, "facet.json")}, Kind: metricsrc.ErrSeveralSeries, Attempts: 1,
			Contains: []string{"latency query `SELECT percentile(duration, 95)", "2 rows", `"facet":"stable"`}},
		{Name: "syntax", Replies: []srvtest.Reply{file(200, "syntax.json")}, Kind: metricsrc.ErrBadQuery, Attempts: 1,
			Contains: []string{"unexpected 'FORM'"}},
		{Name: "two fields", Replies: []srvtest.Reply{{Body: `{"data":{"actor":{"account":{"nrql":{"results":[{"a":1,"b":2}]}}}}}`}},
			Kind: metricsrc.ErrBadQuery, Attempts: 1, Contains: []string{"2 fields (a, b)"}},
		{Name: "not json", Replies: []srvtest.Reply{{Body: `<html>`}}, Kind: metricsrc.ErrBadQuery, Attempts: 1,
			Contains: []string{"not NerdGraph JSON"}},
		{Name: "unauthorized", Replies: []srvtest.Reply{{Status: 401, Body: `{"errors":[{"message":"Invalid API key"}]}`}},
			Kind: metricsrc.ErrUnavailable, Attempts: 1, Contains: append(unavailable, "401 Unauthorized", "check apiKey")},
		{Name: "retried 5xx then 429", Replies: []srvtest.Reply{{Status: 503, Body: "busy"}, {Status: 429, Body: "slow down"}, file(200, "facet.json")},
			Kind: metricsrc.ErrSeveralSeries, Attempts: 3, Contains: []string{"(after 3 attempts)"}},
		{Name: "unavailable", Replies: []srvtest.Reply{{Status: 500, Body: "oops"}}, Kind: metricsrc.ErrUnavailable, Attempts: 3,
			Contains: append(unavailable, "500 Internal Server Error", "(after 3 attempts)")},
	}
	for i := range cases { // every error names the source and its address
		cases[i].Contains = append(cases[i].Contains, "newRelic http://127.0.0.1")
	}
	srvtest.Failures(t, cases, []string{testKey}, func(t *testing.T, next func() srvtest.Reply) error {
		rec := srvtest.Record(t, route(t, func(nrql string) srvtest.Reply {
			if !strings.HasPrefix(nrql, "SELECT percentile") {
				return srvtest.File(t, 200, "count.json")
			}
			return next()
		}))
		_, err := newSource(t, rec.URL).Measure(context.Background(),
			canary.Query{Metric: "latencyP95", Track: canary.TrackCanary, Window: time.Minute, At: at})
		return err
	})
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
