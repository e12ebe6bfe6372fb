package providers_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// The web source against the test's own metrics API on 127.0.0.1: GET
// /stats answers {"value": …} (null with no requests) from the requests
// fed, for the track, metric and window asked, to the bearer token only.
// Its outage is real: the server closes its listener (connection
// refused) and listens again on the same port.
func init() {
	rolloutSources = append(rolloutSources, rolloutSource{name: "web", outage: "connection refused",
		env: func(t *testing.T) { t.Setenv("TEST_WEB_AUTH", "Bearer web-rollout-token") },
		start: func(*testing.T) func(*testing.T) feedSource {
			return func(t *testing.T) feedSource { return startStatsAPI(t) }
		}})
}

// statsAPI is the test's metrics API serving a pointStore.
type statsAPI struct {
	pointStore
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func startStatsAPI(t *testing.T) *statsAPI {
	s := &statsAPI{addr: "127.0.0.1:0"}
	s.listen(t)
	t.Cleanup(func() { s.Down(t, true) })
	return s
}

func (s *statsAPI) listen(t testing.TB) {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: http.HandlerFunc(s.stats), ReadHeaderTimeout: 10 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (s *statsAPI) Metrics() string {
	return fmt.Sprintf(`{web: {url: "http://%s/stats?service={{.Service}}&track={{.Selector}}&metric={{.Query}}&start={{.Start}}&end={{.End}}", `+
		`secretHeaders: {Authorization: env:TEST_WEB_AUTH}, jq: .value, queries: {latency: "p{{.Percentile}}"}}}`, s.addr)
}

func (s *statsAPI) Down(t testing.TB, down bool) {
	if !down {
		s.listen(t)
		return
	}
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	_ = srv.Close()
}

// stats answers one metric of one track over (start, end] (Unix seconds).
func (s *statsAPI) stats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Header.Get("Authorization") != "Bearer web-rollout-token" {
		http.Error(w, `{"error": "unauthorized"}`, http.StatusUnauthorized)
		return
	}
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	if r.URL.Path != "/stats" || q.Get("service") != "shop" || err1 != nil || err2 != nil || end <= start {
		http.Error(w, `{"error": "bad request"}`, http.StatusBadRequest)
		return
	}
	metric, pct := q.Get("metric"), 95.0
	if p, ok := strings.CutPrefix(metric, "p"); ok {
		metric = "latency"
		pct, _ = strconv.ParseFloat(p, 64)
	}
	n, errs, lat := s.window(canary.Track(q.Get("track")), time.Unix(start, 0), time.Unix(end, 0), pct)
	var v any
	if n > 0 {
		switch metric {
		case "latency":
			v = lat
		case "errorRate":
			v = float64(errs) / float64(n)
		case "requestRate":
			v = float64(n) / float64(end-start)
		case "requests":
			v = n
		default:
			http.Error(w, `{"error": "unknown metric"}`, http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"value": v})
}
