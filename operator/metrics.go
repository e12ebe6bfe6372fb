package operator

import (
	"slices"
	"sync"

	"github.com/canary-dev/canary"
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Rollout gauges, served on the manager's /metrics with controller-runtime's
// own (reconcile counts, latencies, work queue).
var (
	rolloutWeight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "canary_operator_rollout_weight",
		Help: "The canary's confirmed traffic weight in percent, by rollout.",
	}, []string{"namespace", "rollout"})
	rolloutPhase = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "canary_operator_rollout_phase",
		Help: "1 for the rollout's current phase, 0 for the others.",
	}, []string{"namespace", "rollout", "phase"})
	registerMetrics sync.Once
)

var phases = append(slices.Clone(canary.Phases), PhaseInvalid)

// registerGauges adds the gauges to controller-runtime's registry, once
// per process.
func registerGauges() {
	registerMetrics.Do(func() {
		ctrlmetrics.Registry.MustRegister(rolloutWeight, rolloutPhase)
	})
}

// observe sets the gauges of one rollout.
func observe(ns, name string, phase canary.Phase, weight int) {
	rolloutWeight.WithLabelValues(ns, name).Set(float64(weight))
	for _, p := range phases {
		v := 0.0
		if p == phase {
			v = 1
		}
		rolloutPhase.WithLabelValues(ns, name, string(p)).Set(v)
	}
}

// forget drops the gauges of a deleted rollout.
func forget(ns, name string) {
	rolloutWeight.DeleteLabelValues(ns, name)
	rolloutPhase.DeletePartialMatch(prometheus.Labels{"namespace": ns, "rollout": name})
}
