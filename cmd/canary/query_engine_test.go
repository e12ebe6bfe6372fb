package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/executor"
	"github.com/canary-dev/canary/plan"
)

// recordingSource answers every query with a healthy measurement and
// records what was asked.
type recordingSource struct {
	mu sync.Mutex
	qs []canary.Query
}

func (r *recordingSource) Measure(_ context.Context, q canary.Query) (canary.Measurement, error) {
	r.mu.Lock()
	r.qs = append(r.qs, q)
	r.mu.Unlock()
	v := 0.001
	if _, latency := q.Metric.Quantile(); latency {
		v = 0.1
	} else if q.Metric == canary.MetricRequestRate {
		v = 50
	}
	return canary.Measurement{Value: v, Samples: 5000}, nil
}

// probePlan has the rules of issue 21's probe: a multi-window burn rule
// (shortWindow) and a latency rule compared with the baseline (its
// per-interval distributions and its own window), beside plain rules.
const probePlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: probe, namespace: shop}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: 5m}, {weight: 100}]
  analysis: {interval: 30s, minRequests: 10}
  rules:
    - {metric: burnRate, above: 14.4x, window: 1h, shortWindow: 5m, action: rollback-immediate}
    - {metric: latencyP95, compare: baseline, worseBy: 20%, window: 5m, action: rollback-gradual}
    - {metric: errorRate, above: 5%, window: 1h, action: rollback-gradual}
`

// engineEvaluation drives a rollout of p through the executor, as the
// hosts do, on a stepped clock, and returns the queries of its first
// evaluation with traffic moved (one evaluation: one nominal time).
func engineEvaluation(t *testing.T, p *canary.Plan) []canary.Query {
	t.Helper()
	src := &recordingSource{}
	router := &canarytest.Router{}
	exec, err := executor.New(executor.Config{Plan: p, Providers: executor.Providers{Router: router, Metrics: src, Checks: &canarytest.Checker{}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)
	st := engine.New(p, now)
	for range 200 {
		var obs []canary.Observation
		if qs := engine.Queries(p, st, now); len(qs) > 0 {
			src.mu.Lock()
			src.qs = nil
			src.mu.Unlock()
			obs = exec.Measure(ctx, qs)
			if router.Weight() > 0 {
				return src.qs
			}
		}
		out := engine.Next(p, st, engine.Input{Now: now, Observations: obs})
		for len(out.Actions) > 0 {
			res := exec.Do(ctx, out.State, out.Actions[0])
			out = engine.Next(p, out.State, engine.Input{Now: now, Results: []canary.ActionResult{res}})
		}
		st = out.State
		now = now.Add(p.Spec.Analysis.Interval.D())
	}
	t.Fatalf("no evaluation with traffic moved in 200 ticks; phase %s, weight %d", st.Phase, st.Weight)
	return nil
}

func keys(qs []canary.Query) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = fmt.Sprintf("%s %s %s", q.Metric, q.Track, q.Window)
	}
	slices.Sort(out)
	return out
}

// TestQueryRunsTheEngineQueries: canary query, generic over the metric
// source, runs exactly the queries (same number, metrics, tracks and
// windows) the engine makes through the executor at an evaluation of a
// step in progress with traffic moved, on the probe plan of issue 21 (8
// queries, where the old planQueries ran 4) and on query_test's plan.
func TestQueryRunsTheEngineQueries(t *testing.T) {
	for name, doc := range map[string]string{"probe": probePlan, "query_test": fmt.Sprintf(queryPlan, "")} {
		t.Run(name, func(t *testing.T) {
			p, err := plan.Parse(name+".yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			engineQs := engine.Queries(p, canary.State{}, time.Time{}) // nothing before the rollout starts
			if len(engineQs) != 0 {
				t.Fatalf("queries of a zero state: %v", engineQs)
			}
			made := keys(engineEvaluation(t, p))
			src := &recordingSource{}
			rep := runQueries(t.Context(), p, src, time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC))
			ran := keys(src.qs)
			if !slices.Equal(ran, made) {
				t.Errorf("canary query ran %d queries:\n%q\nthe engine made %d:\n%q", len(ran), ran, len(made), made)
			}
			if len(rep.Queries) != len(made) || rep.err() != nil {
				t.Errorf("report has %d rows (err %v), want %d", len(rep.Queries), rep.err(), len(made))
			}
			if name == "probe" && len(made) != 8 {
				t.Errorf("the engine made %d queries on the probe plan, want 8: %q", len(made), made)
			}
		})
	}
}
