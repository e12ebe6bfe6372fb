package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Deliverer's: outcomes and send latency per channel.
type metrics struct {
	outcomes *prometheus.CounterVec
	send     *prometheus.HistogramVec
}

func newMetrics() *metrics {
	return &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "canary_notifications_total",
			Help: "Notification attempts by channel and outcome: delivered, failed (retried), dead (given up), deferred (waiting for an earlier message)."},
			[]string{"channel", "outcome"}),
		send: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "canary_notification_send_seconds",
			Help: "Time a receiver took to answer a notification, by channel.", Buckets: prometheus.ExponentialBuckets(0.005, 3, 9)},
			[]string{"channel"}),
	}
}

func (x *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{x.outcomes, x.send} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (x *metrics) outcome(channel, outcome string) {
	x.outcomes.WithLabelValues(channel, outcome).Inc()
}

func (x *metrics) sent(channel string, d time.Duration) {
	x.send.WithLabelValues(channel).Observe(d.Seconds())
}
