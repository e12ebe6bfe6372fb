package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
)

// planText is rollout i's plan: the runbook's six rules on a first step
// held for an hour, so the rollout stays Progressing during the run.
func planText(i int, interval time.Duration) []byte {
	return fmt.Appendf(nil, `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: svc-%05d, namespace: bench}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  featureFlag: {name: release-%05d}
  steps: [{weight: 5, hold: 1h}, {weight: 100}]
  analysis: {interval: %s, minRequests: 100}
  slo: {objective: 99.9%%, latencyP95: 600ms, errorRate: 1%%}
  rules:
    - {metric: latencyP95, above: 600ms,  for: 5m,  action: rollback-gradual,   urgency: medium}
    - {metric: latencyP95, above: 1000ms, for: 2m,  action: rollback-immediate, urgency: high}
    - {metric: errorRate,  above: 1%%,     for: 5m,  action: rollback-gradual,   urgency: medium}
    - {metric: errorRate,  above: 5%%,     for: 1m,  action: rollback-immediate, urgency: critical}
    - {metric: burnRate,   above: 2x,     for: 10m, action: rollback-gradual,   urgency: medium}
    - {metric: burnRate,   above: 5x,     for: 2m,  action: rollback-immediate, urgency: high}
`, i, i, interval)
}

// healthy is a metric source under every threshold, with enough samples
// for every verdict to be judged.
var healthy = canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
	v := 0.0005 // error rate
	if q.Metric == canary.MetricLatencyP95 {
		v = 0.2 // seconds
	}
	return canary.Measurement{Value: v, Samples: 1000}, nil
})

// providers builds one rollout's fakes, as manager/crash_test.go does
// (with a flag setter that keeps nothing, so the memory measured is
// canary's, not a fake's history).
func providers(_ context.Context, _ *canary.Plan) (manager.Providers, error) {
	return manager.Providers{Router: &canarytest.Router{}, Metrics: healthy,
		Flags: noFlags{}, Checks: &canarytest.Checker{}}, nil
}

// noFlags accepts every flag change.
type noFlags struct{}

var _ canary.FlagSetter = noFlags{}

func (noFlags) SetFlag(context.Context, string, bool, int) error { return nil }

// tracker counts what the rollouts do: evaluations (from the events handed
// to the manager's Outbox hook, just before each commit) and commits with
// their latency (store.Config.OnCommit).
type tracker struct {
	evals   atomic.Int64
	commits atomic.Int64
	events  atomic.Int64
	errs    atomic.Int64
	lat     histogram

	mu     sync.Mutex
	since  time.Time               // when the wait for every rollout began
	target int                     // rollouts to wait for; 0: not waiting
	first  map[int64]time.Duration // first evaluation of each rollout after since
	done   chan struct{}           // closed when len(first) reaches target
}

// outbox is manager.Config.Outbox: it counts evaluations and enqueues
// nothing.
func (t *tracker) outbox(_ *canary.Plan, id int64, events []canary.Event) []canary.OutboxItem {
	for _, ev := range events {
		if ev.Type != canary.EvEvaluated {
			continue
		}
		t.evals.Add(1)
		t.mu.Lock()
		if t.target > 0 {
			if _, ok := t.first[id]; !ok {
				t.first[id] = time.Since(t.since)
				if len(t.first) == t.target {
					close(t.done)
					t.target = 0
				}
			}
		}
		t.mu.Unlock()
	}
	return nil
}

// onCommit is store.Config.OnCommit.
func (t *tracker) onCommit(c store.CommitInfo) {
	if c.Err != nil {
		t.errs.Add(1)
		return
	}
	t.commits.Add(1)
	t.events.Add(int64(c.Events))
	t.lat.observe(c.Latency)
}

// expect starts waiting for n rollouts to evaluate; the channel closes
// when they all have.
func (t *tracker) expect(n int) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.since, t.target = time.Now(), n
	t.first = make(map[int64]time.Duration, n)
	t.done = make(chan struct{})
	return t.done
}

// firsts returns the first-evaluation delays seen since expect, and
// stops waiting.
func (t *tracker) firsts() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.target = 0
	out := make([]time.Duration, 0, len(t.first))
	for _, d := range t.first {
		out = append(out, d)
	}
	return out
}
