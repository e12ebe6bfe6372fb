package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/simulate"
)

// check is one metric check of an external policy: the canary's metric
// over window, failed when above max (or, for the success rate, below
// min). A window without requests is an error (a query with no data).
type check struct {
	metric   canary.Metric
	window   time.Duration
	min, max float64 // success ratio ≥ min; latency (seconds) ≤ max
}

func (c check) run(src *simulate.Source, at time.Duration) (failed, errored bool) {
	m, err := src.Measure(c.metric, canary.TrackCanary, c.window, at)
	if err != nil || m.NoData {
		return false, true
	}
	if c.metric == canary.MetricErrorRate {
		return 1-m.Value < c.min, false
	}
	return m.Value > c.max, false
}

// flagger models Flagger's canary analysis as its scheduler runs it
// (fluxcd/flagger pkg/controller/scheduler.go: every interval the metric
// checks run; a failed check increments status.failedChecks, which is
// not reset while the analysis runs, and the canary is rolled back once
// failedChecks ≥ threshold; a run whose checks pass advances the weight
// by stepWeight, and after maxWeight is reached and passed the canary is
// promoted). A query without data fails the check, as Flagger's does.
type flagger struct {
	name                  string
	interval              time.Duration
	threshold             int
	stepWeight, maxWeight int
	checks                []check
}

func (f flagger) run(src *simulate.Source, limit time.Duration) simulate.Result {
	weight, failed := f.stepWeight, 0
	src.SetWeight(0, weight)
	for at := f.interval; at <= limit; at += f.interval {
		ok := true
		for _, c := range f.checks {
			bad, errored := c.run(src, at)
			if bad || errored {
				ok = false
			}
		}
		if !ok {
			failed++
			if failed >= f.threshold {
				src.SetWeight(at, 0)
				return simulate.Result{Phase: canary.PhaseRolledBack, RolledBack: true, RollbackAt: at, Rule: "failed checks", End: at}
			}
			continue
		}
		if weight >= f.maxWeight {
			return simulate.Result{Phase: canary.PhaseSucceeded, End: at}
		}
		weight = min(weight+f.stepWeight, f.maxWeight)
		src.SetWeight(at, weight)
	}
	return simulate.Result{Phase: canary.PhaseProgressing, End: limit}
}

// argo models an Argo Rollouts canary with a background AnalysisRun of
// one AnalysisTemplate (argoproj/argo-rollouts analysis/analysis.go):
// each metric is measured every interval; the run fails, and the rollout
// aborts to the stable, when a metric's failed measurements exceed
// failureLimit or its consecutive errors (no data) exceed
// consecutiveErrorLimit (default 4). The rollout's steps are setWeight
// and pause, like canary's plans.
type argo struct {
	name                  string
	interval              time.Duration
	failureLimit          int
	consecutiveErrorLimit int
	steps                 []canary.Step
	checks                []check
}

func (a argo) run(src *simulate.Source, limit time.Duration) simulate.Result {
	failed := make([]int, len(a.checks))
	errs := make([]int, len(a.checks))
	at := time.Duration(0)
	for _, s := range a.steps {
		src.SetWeight(at, int(s.Weight))
		end := at + s.Hold.D()
		if s.Weight >= 100 {
			return simulate.Result{Phase: canary.PhaseSucceeded, End: at}
		}
		for at+a.interval <= end && at+a.interval <= limit {
			at += a.interval
			for i, c := range a.checks {
				bad, errored := c.run(src, at)
				switch {
				case errored:
					errs[i]++
				case bad:
					failed[i]++
					errs[i] = 0
				default:
					errs[i] = 0
				}
				if failed[i] > a.failureLimit || errs[i] > a.consecutiveErrorLimit {
					src.SetWeight(at, 0)
					return simulate.Result{Phase: canary.PhaseRolledBack, RolledBack: true, RollbackAt: at, Rule: string(c.metric), End: at}
				}
			}
		}
		at = end
	}
	return simulate.Result{Phase: canary.PhaseSucceeded, End: at}
}

// loop is a decision loop over a scenario's traffic.
type loop interface {
	run(src *simulate.Source, limit time.Duration) simulate.Result
}

// manyLoops runs l over sc runs times, run i on stream i of seed, like
// simulate.Many.
func manyLoops(l loop, sc *simulate.Scenario, runs int, seed uint64, workers int) simulate.Summary {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	limit := sc.Limit.D()
	if limit == 0 {
		limit = 6 * time.Hour
	}
	results := make([]simulate.Result, runs)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, max(runs, 1)) {
		wg.Go(func() {
			for i := range next {
				results[i] = l.run(simulate.NewSource(sc, 10*time.Second, true, seed, uint64(i)), limit)
			}
		})
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	return simulate.Summarize(sc.Expect, seed, results)
}

// externalPolicies are the Flagger and Argo Rollouts policies by name.
func externalPolicies() map[string]loop {
	steps := []canary.Step{{Weight: 5, Hold: canary.Duration(30 * time.Minute)}, {Weight: 10, Hold: canary.Duration(30 * time.Minute)},
		{Weight: 25, Hold: canary.Duration(30 * time.Minute)}, {Weight: 50, Hold: canary.Duration(30 * time.Minute)}, {Weight: 100}}
	successRate := check{metric: canary.MetricErrorRate, window: time.Minute, min: 0.99}
	return map[string]loop{
		// Flagger's documented example (docs/gitbook/usage/how-it-works.md):
		// interval 1m, threshold 10, stepWeight 5, maxWeight 50, with its
		// built-in metrics request-success-rate ≥ 99% and request-duration
		// (P99) ≤ 500ms, each over 1m.
		"flagger": flagger{name: "Flagger (defaults)", interval: time.Minute, threshold: 10, stepWeight: 5, maxWeight: 50,
			checks: []check{successRate, {metric: "latencyP99", window: time.Minute, max: 0.5}}},
		// The same analysis with the runbook's SLOs: P95 ≤ 600ms, errors ≤ 1%.
		"flagger-slo": flagger{name: "Flagger (runbook SLOs)", interval: time.Minute, threshold: 10, stepWeight: 5, maxWeight: 50,
			checks: []check{successRate, {metric: canary.MetricLatencyP95, window: time.Minute, max: 0.6}}},
		// An Argo Rollouts AnalysisTemplate as its docs show it: success
		// rate ≥ 99% and P95 ≤ 600ms over 1m, measured every minute,
		// failureLimit 3, consecutiveErrorLimit 4 (the default), in the
		// background of canary's steps (setWeight 5/10/25/50, pause 30m).
		"argo": argo{name: "Argo Rollouts", interval: time.Minute, failureLimit: 3, consecutiveErrorLimit: 4, steps: steps,
			checks: []check{successRate, {metric: canary.MetricLatencyP95, window: time.Minute, max: 0.6}}},
	}
}

func externalName(l loop) string {
	switch v := l.(type) {
	case flagger:
		return v.name
	case argo:
		return v.name
	}
	return fmt.Sprint(l)
}
