package manager

import (
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/store"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the manager's own: rollouts by phase and weight, decisions,
// action errors and store latency.
type metrics struct {
	m         *Manager
	phases    *prometheus.Desc
	weights   *prometheus.Desc
	events    *prometheus.CounterVec
	actionErr prometheus.Counter
	commit    prometheus.Histogram
	commitErr prometheus.Counter
	pruned    *prometheus.CounterVec
}

func newMetrics(m *Manager) *metrics {
	return &metrics{
		m:       m,
		phases:  prometheus.NewDesc("canary_rollouts", "Running rollouts by phase.", []string{"phase"}, nil),
		weights: prometheus.NewDesc("canary_rollout_weight", "Canary weight of each running rollout, in percent.", []string{"rollout"}, nil),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "canary_events_total",
			Help: "Events recorded, by type (decisions: ruleFiring, rollbackStarted, stepCompleted, ...)."}, []string{"type"}),
		actionErr: prometheus.NewCounter(prometheus.CounterOpts{Name: "canary_action_errors_total", Help: "Failed provider actions."}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "canary_store_commit_seconds",
			Help: "Latency of saving a decision (state and events).", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9)}),
		commitErr: prometheus.NewCounter(prometheus.CounterOpts{Name: "canary_store_commit_errors_total", Help: "Failed saves."}),
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "canary_pruned_rows_total",
			Help: "Rows deleted by retention (--retention), by table: rollouts, events, outbox."}, []string{"table"}),
	}
}

func (x *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{x, x.events, x.actionErr, x.commit, x.commitErr, x.pruned} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Describe implements prometheus.Collector for the live gauges.
func (x *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- x.phases
	ch <- x.weights
}

// Collect reports the running rollouts' phases and weights.
func (x *metrics) Collect(ch chan<- prometheus.Metric) {
	x.m.mu.Lock()
	counts := map[canary.Phase]int{}
	type w struct {
		name   string
		weight int
	}
	var ws []w
	for name, l := range x.m.live {
		if l.r == nil {
			continue
		}
		st := l.r.State()
		counts[st.Phase]++
		ws = append(ws, w{name, st.Weight})
	}
	x.m.mu.Unlock()
	for ph, n := range counts {
		ch <- prometheus.MustNewConstMetric(x.phases, prometheus.GaugeValue, float64(n), string(ph))
	}
	for _, v := range ws {
		ch <- prometheus.MustNewConstMetric(x.weights, prometheus.GaugeValue, float64(v.weight), v.name)
	}
}

func (x *metrics) observeCommit(d time.Duration, err error, events []canary.Event) {
	x.commit.Observe(d.Seconds())
	if err != nil {
		x.commitErr.Inc()
		return
	}
	for _, ev := range events {
		if ev.Type == canary.EvEvaluated {
			continue
		}
		x.events.WithLabelValues(string(ev.Type)).Inc()
		if ev.Type == canary.EvActionFailed {
			x.actionErr.Inc()
		}
	}
}

// observePrune counts the rows a retention batch deleted.
func (x *metrics) observePrune(r store.PruneResult) {
	x.pruned.WithLabelValues("rollouts").Add(float64(r.Rollouts))
	x.pruned.WithLabelValues("events").Add(float64(r.Events))
	x.pruned.WithLabelValues("outbox").Add(float64(r.Outbox))
}
