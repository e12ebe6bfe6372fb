package promql

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/sample"
)

// quietEnv is the proxy scraped by Prometheus, without traffic: every
// series exists (the proxy exports zero counters) but no request was made.
func quietEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, sample.Config{}, sample.Config{}, 0)
	// rate() needs two scrapes in its window.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if v, err := e.prom.Query(t.Context(), "count(rate(canary_proxy_requests_total[1m]))"); err == nil && len(v) == 1 {
			return e
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("prometheus has no rate of the proxy's counters after 10s")
	return nil
}

// TestQuietPrometheus runs the tests that need Prometheus but no traffic
// against one server (each Prometheus takes about 5s to scrape its first
// target).
func TestQuietPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("real Prometheus")
	}
	t.Parallel()
	e := quietEnv(t)
	t.Run("failures name the query", func(t *testing.T) { testFailuresNameTheQuery(t, e) })
	t.Run("no data is never zero", func(t *testing.T) { testNoDataIsNeverZero(t, e) })
	t.Run("retries and timeouts", func(t *testing.T) { testRetriesAndTimeouts(t, e) })
	t.Run("auth and TLS", func(t *testing.T) { testAuthAndTLS(t, e) })
}

// deadAddr returns an http URL on which nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// testFailuresNameTheQuery checks the query failures a plan author makes:
// each is an error (never a silent value) that names the server, the
// query template and the PromQL, and no data is NoData (never 0).
func testFailuresNameTheQuery(t *testing.T, e *env) {
	dead := deadAddr(t)
	q := func(m canary.Metric) canary.Query {
		return canary.Query{Metric: m, Track: canary.TrackCanary, Window: time.Minute}
	}
	tests := []struct {
		name     string
		addr     string
		queries  map[string]string
		query    canary.Query
		wantKind error
		want     []string // in the message
		attempts int      // requests made; 0: not checked
	}{
		{"several series", "", map[string]string{"requestRate": `rate(canary_proxy_requests_total{track="{{.Track}}"}[{{.Window}}])`},
			q(canary.MetricRequestRate), ErrSeveralSeries,
			[]string{e.prom.URL(), "requestRate query `rate(canary_proxy_requests_total{track=\"canary\"}[1m])`",
				"several series where one is expected: 5 series", `code="1xx"`, "and 2 more", "sum(...)"}, 1},
		{"syntax error", "", map[string]string{"latency": `histogram_quantile({{.Quantile}}, sum by (le) (rate(x[{{.Window}}]))`},
			q(canary.MetricLatencyP95), ErrBadQuery,
			[]string{e.prom.URL(), "latency query `histogram_quantile(0.95, sum by (le) (rate(x[1m]))`", "bad query: 1:", "parse error"}, 1},
		{"range vector", "", map[string]string{"errorRate": `canary_proxy_requests_total{track="{{.Track}}",code="5xx"}[{{.Window}}]`},
			q(canary.MetricErrorRate), ErrBadQuery, []string{"errorRate query", "returned a matrix, not an instant vector or a scalar"}, 1},
		{"execution error", "", map[string]string{"requests": `canary_proxy_requests_total / on(track) canary_proxy_requests_total{track="{{.Track}}"}`},
			q(canary.MetricErrorRate), ErrBadQuery, []string{"requests query", "bad query", "many-to-many matching not allowed"}, 1},
		{"wrong address", dead, nil, q(canary.MetricErrorRate), ErrUnavailable,
			[]string{"prometheus " + dead + ": ", "query `", "connection refused", "(after 3 attempts)"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr
			if addr == "" {
				addr = e.prom.URL()
			}
			src := newSource(t, Config{Address: addr, Queries: tt.queries})
			m, err := src.Measure(t.Context(), tt.query)
			if err == nil {
				t.Fatalf("Measure = %+v, want an error", m)
			}
			if !errors.Is(err, tt.wantKind) {
				t.Errorf("error %q is not %v", err, tt.wantKind)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var qe *QueryError
			if !errors.As(err, &qe) || (tt.attempts > 0 && qe.Attempts != tt.attempts) {
				t.Errorf("error %#v: want a *QueryError after %d attempts", err, tt.attempts)
			}
		})
	}
}

// testNoDataIsNeverZero: a track without requests has no error rate and no
// latency (0/0 and an empty histogram are NaN), a query for a metric
// nobody exports is empty; all are NoData. A rate of zero requests is a
// real 0.
func testNoDataIsNeverZero(t *testing.T, e *env) {
	src := newSource(t, Config{Address: e.prom.URL()})
	missing := newSource(t, Config{Address: e.prom.URL(), Queries: map[string]string{
		"requestRate": `sum(rate(nobody_exports_this_total{track="{{.Track}}"}[{{.Window}}]))`}})
	tests := []struct {
		name   string
		src    *Source
		metric canary.Metric
		want   canary.Measurement
	}{
		{"error rate of no requests", src, canary.MetricErrorRate, canary.Measurement{NoData: true}},
		{"latency of no requests", src, canary.MetricLatencyP95, canary.Measurement{NoData: true}},
		{"empty result", missing, canary.MetricRequestRate, canary.Measurement{NoData: true}},
		{"zero request rate", src, canary.MetricRequestRate, canary.Measurement{Value: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.src.Measure(t.Context(), canary.Query{Metric: tt.metric, Track: canary.TrackCanary, Window: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// front is an HTTP server in front of Prometheus whose answers a test
// controls; it counts the requests that reach it.
type front struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newFront(t *testing.T, promURL string, tls bool, h func(n int64, w http.ResponseWriter, r *http.Request) bool) *front {
	t.Helper()
	target, _ := url.Parse(promURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	f := &front{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h(f.hits.Add(1), w, r) {
			rp.ServeHTTP(w, r)
		}
	})
	f.srv = httptest.NewUnstartedServer(handler)
	// Handshakes the tests make fail on purpose are not news.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

// testRetriesAndTimeouts: transient failures (5xx, 429) are retried with
// backoff a bounded number of times; a query refused by Prometheus is not
// retried; a server that does not answer fails at the query timeout.
func testRetriesAndTimeouts(t *testing.T, e *env) {
	failFirst := func(n int64, status int) func(int64, http.ResponseWriter, *http.Request) bool {
		return func(hit int64, w http.ResponseWriter, _ *http.Request) bool {
			if hit <= n {
				http.Error(w, "upstream overloaded", status)
				return false
			}
			return true
		}
	}
	tests := []struct {
		name     string
		handler  func(int64, http.ResponseWriter, *http.Request) bool
		expr     string
		timeout  time.Duration
		wantErr  []string
		wantHits int64
		maxTime  time.Duration
	}{
		{"two 503 then success", failFirst(2, 503), "vector(1)", 0, nil, 3, 2 * time.Second},
		{"429 then success", failFirst(1, 429), "vector(1)", 0, nil, 2, 2 * time.Second},
		{"503 for ever", failFirst(100, 503), "vector(1)", 0,
			[]string{"server error: 503: upstream overloaded", "(after 3 attempts)"}, 3, 2 * time.Second},
		{"502 from a proxy", failFirst(100, 502), "vector(1)", 0, []string{"server error: 502"}, 3, 2 * time.Second},
		{"syntax error is not retried", failFirst(0, 0), "sum(", 0, []string{"bad query", "parse error"}, 1, 2 * time.Second},
		{"401 is not retried", failFirst(100, 401), "vector(1)", 0,
			[]string{"client error: 401 (check the bearer token or basic auth credentials)"}, 1, 2 * time.Second},
		{"no answer", hang,
			"vector(1)", 300 * time.Millisecond, []string{"no answer within 300ms (the query timeout)"}, 1, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFront(t, e.prom.URL(), false, tt.handler)
			src := newSource(t, Config{Address: f.srv.URL, Timeout: tt.timeout})
			start := time.Now()
			v, err := src.Instant(t.Context(), "probe", tt.expr, time.Time{})
			took := time.Since(start)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr == nil && v.V != 1:
				t.Errorf("value %+v, want 1", v)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("value %+v, want an error", v)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if got := f.hits.Load(); got != tt.wantHits {
				t.Errorf("%d requests reached the server, want %d", got, tt.wantHits)
			}
			if took > tt.maxTime {
				t.Errorf("took %s, want at most %s", took, tt.maxTime)
			}
		})
	}
}

// hang answers nothing until the client goes away (seen once the body is
// read) or 5s pass.
func hang(_ int64, _ http.ResponseWriter, r *http.Request) bool {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
	return false
}

// testAuthAndTLS puts an https server that demands credentials in front of
// Prometheus and queries through it with a bearer token file, basic auth
// and the server's CA.
func testAuthAndTLS(t *testing.T, e *env) {
	const token, user, pass = "tok-4f9a", "canary", "pa55-7c1e"
	f := newFront(t, e.prom.URL(), true, func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		u, p, basic := r.BasicAuth()
		if r.Header.Get("Authorization") == "Bearer "+token || (basic && u == user && p == pass) {
			return true
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return false
	})
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", certPEM(f.srv.Certificate()))
	tokenFile := canary.SecretRef("file:" + writeFile(t, dir, "token", []byte(token+"\n")))
	wrongToken := canary.SecretRef("file:" + writeFile(t, dir, "wrong", []byte("not-the-token")))
	passFile := canary.SecretRef("file:" + writeFile(t, dir, "pass", []byte(pass)))
	withUser := strings.Replace(f.srv.URL, "https://", "https://"+user+":"+pass+"@", 1)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"bearer token", Config{Address: f.srv.URL, CAFile: caFile, BearerToken: tokenFile}, ""},
		{"basic auth", Config{Address: f.srv.URL, CAFile: caFile, BasicAuth: &BasicAuth{Username: user, Password: passFile}}, ""},
		{"user info in the address", Config{Address: withUser, CAFile: caFile}, ""},
		{"wrong token", Config{Address: f.srv.URL, CAFile: caFile, BearerToken: wrongToken}, "401 (check the bearer token"},
		{"no credentials", Config{Address: f.srv.URL, CAFile: caFile}, "401"},
		{"untrusted certificate", Config{Address: f.srv.URL, BearerToken: tokenFile}, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newSource(t, tt.cfg)
			m, err := src.Measure(context.Background(), canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackStable, Window: time.Minute})
			if tt.wantErr == "" {
				if err != nil || m.NoData {
					t.Fatalf("Measure = %+v, %v; want a value", m, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
			for _, secret := range []string{token, pass, "not-the-token"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a secret", err)
				}
			}
			if !strings.Contains(err.Error(), f.srv.URL) {
				t.Errorf("error %q does not name the server %s", err, f.srv.URL)
			}
		})
	}
}
