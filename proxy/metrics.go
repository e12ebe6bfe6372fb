package proxy

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names exported by Recorder.Register and Proxy.Register.
const (
	metricRequests = "canary_proxy_requests_total"
	metricDuration = "canary_proxy_request_duration_seconds"
	metricWeight   = "canary_proxy_weight"
)

// durationBuckets are the classic histogram buckets of
// canary_proxy_request_duration_seconds, from 1ms to 10s.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

var trackNames = [2]string{"stable", "canary"}

// codeClasses are the code label values, by status/100.
var codeClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// recorderMetrics are the Prometheus collectors a Recorder feeds. The
// children are resolved up front so the hot path does no label lookups.
type recorderMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	counters [2][6]prometheus.Counter
	observer [2]prometheus.Observer
}

func newRecorderMetrics() *recorderMetrics {
	m := &recorderMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRequests,
			Help: "Requests proxied, by track (stable|canary) and status class (1xx..5xx); 502 when the upstream failed.",
		}, []string{"track", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricDuration,
			Help:    "Time from receiving a request to finishing its response, by track. Protocol upgrades are not observed.",
			Buckets: durationBuckets,
		}, []string{"track"}),
	}
	for ti, track := range trackNames {
		for ci := 1; ci < len(codeClasses); ci++ {
			m.counters[ti][ci] = m.requests.WithLabelValues(track, codeClasses[ci])
		}
		m.observer[ti] = m.duration.WithLabelValues(track)
	}
	return m
}

func (m *recorderMetrics) observe(ti, status int, latency time.Duration) {
	ci := status / 100
	if ci < 1 || ci >= len(codeClasses) {
		m.requests.WithLabelValues(trackNames[ti], codeClasses[0]).Inc()
	} else {
		m.counters[ti][ci].Inc()
	}
	if status != http.StatusSwitchingProtocols {
		m.observer[ti].Observe(latency.Seconds())
	}
}

// Register registers canary_proxy_requests_total{track,code} and
// canary_proxy_request_duration_seconds{track} with reg. The counts start
// with the recorder, not with the registration.
func (r *Recorder) Register(reg prometheus.Registerer) error {
	return errors.Join(reg.Register(r.prom.requests), reg.Register(r.prom.duration))
}

// AdminHandler serves GET /metrics (the Prometheus text or protobuf
// exposition of g) and GET /healthz (200 "ok").
func AdminHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
