package web

import (
	"net/http"

	"github.com/canary-dev/canary"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's own: requests and their latency by route pattern
// (never by raw path, so hostile paths cannot blow up the label set) and
// status code, the event streams open, and the requests the rate limit
// refused.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	streams  prometheus.Gauge
	// rateLimited counts the requests refused by the rate limit by token
	// name ("(none)": without a valid token, limited per client IP).
	rateLimited *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canary_http_requests_total",
			Help: "API requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "canary_http_request_duration_seconds",
			Help:    "API request latency by route pattern and status code (event streams: how long they stayed open).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "canary_http_event_streams",
			Help: "Event streams (server-sent events) open now.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canary_http_rate_limited_total",
			Help: "API requests refused with 429 by the rate limit, by token name ((none): requests without a valid token, limited per client IP).",
		}, []string{"token"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.streams, m.rateLimited} {
		if err := reg.Register(c); err != nil {
			return nil, canary.Errorf(canary.EINVALID, "web: register metrics: %v", err)
		}
	}
	return m, nil
}

// metricsHandler serves the registry in the Prometheus formats.
func (s *server) metricsHandler() handlerFunc {
	h := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		h.ServeHTTP(w, r)
		return nil
	}
}
