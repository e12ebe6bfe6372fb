package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/simulate"
)

// The threshold matrix (-matrix): the runbook's matrix (policies/
// runbook.yaml) judged by point (judge: point on every rule) and with
// confidence (the default), at matrixRPS, over the cases of issue 15:
// a healthy canary under the healthy-noisy scenario's correlated noise,
// 6% errors, a dead canary, P95 800ms, and the slow burn (canary 0.5%
// against the stable's 0.1%: the service burns 1.2x at 5%, 1.4x at 10%,
// exactly 2x at 25% and 3x at 50%, so only the 50% step should roll it
// back, gradually, by the burn row).
var matrixRPS = []float64{20, 50, 200, 1000}

// matrixCase is one row group's scenario, its YAML with %g for the rps.
type matrixCase struct {
	key, yaml string
}

var matrixCases = []matrixCase{
	{"healthy", `{name: healthy noisy, rps: %g, stable: {p50: 200ms, p95: 450ms, errorRate: 0.1%%},
  noise: {every: 30s, latency: 5%%, shared: 15%%, autocorrelation: 0.5, slow: 1%%, sharedSlow: 2%%, slowBy: 1.5, errorRate: 50%%, rps: 20%%, diurnal: 30%%},
  expect: {rollback: false}}`},
	{"errors6", `{name: 6%% errors, rps: %g, stable: {p50: 200ms, p95: 450ms, errorRate: 0.1%%}, canary: {errorRate: 6%%}, expect: {rollback: true, from: 0s}}`},
	{"dead", `{name: dead canary, rps: %g, stable: {p50: 200ms, p95: 450ms, errorRate: 0.1%%}, canary: {errorRate: 100%%}, expect: {rollback: true, from: 0s}}`},
	{"p95", `{name: P95 800ms, rps: %g, stable: {p50: 200ms, p95: 450ms, errorRate: 0.1%%}, canary: {p95: 800ms}, expect: {rollback: true, from: 0s}}`},
	{"slowburn", `{name: slow burn, rps: %g, stable: {p50: 200ms, p95: 450ms, errorRate: 0.1%%}, canary: {errorRate: 0.5%%}, expect: {rollback: true, from: 0s}}`},
}

// matrixResult is what the runs of one case did.
type matrixResult struct {
	sum simulate.Summary
	// byWeight counts rollbacks by the weight they started at, and rules
	// the rules that started them.
	byWeight map[int]int
	rules    map[string]int
}

// matrix runs the table and prints it.
func matrix(c config, out io.Writer) error {
	base, err := plan.Load(filepath.Join(c.dir, "policies", "runbook.yaml"))
	if err != nil {
		return err
	}
	point := *base
	point.Spec.Rules = slices.Clone(base.Spec.Rules)
	for i := range point.Spec.Rules {
		point.Spec.Rules[i].Judge = canary.JudgePoint
	}
	judged := []struct {
		name string
		p    *canary.Plan
	}{{"point", &point}, {"confidence", base}}
	p := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	p("| req/s | judged | healthy, noisy: false rollbacks | promoted | 6%% errors: detection median (p95), missed | dead canary | P95 800ms | slow burn 0.5%% vs 0.1%%: rolled back at 5/10/25/50%% | by | slow burn promoted |\n")
	p("|--:|---|--:|--:|--:|--:|--:|--:|---|--:|\n")
	start := time.Now()
	for _, rps := range matrixRPS {
		for _, j := range judged {
			res := map[string]matrixResult{}
			for _, mc := range matrixCases {
				sc, err := simulate.Parse(mc.key+".yaml", fmt.Appendf(nil, mc.yaml, rps))
				if err != nil {
					return fmt.Errorf("matrix %s: %w", mc.key, err)
				}
				runs := c.faultyRuns
				if !sc.Expect.Rollback {
					runs = c.healthyRuns
				}
				r, err := matrixRuns(j.p, sc, runs, c.seed, c.workers)
				if err != nil {
					return fmt.Errorf("matrix %s at %g req/s: %w", mc.key, rps, err)
				}
				res[mc.key] = r
				fmt.Fprintf(os.Stderr, "matrix %-10s %5g req/s %-9s %5d runs  %s\n", j.name, rps, mc.key, runs, time.Since(start).Round(time.Second))
			}
			h, sb := res["healthy"].sum, res["slowburn"]
			p("| %g | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", rps, j.name, ratio(h.FalseRollbacks, h.Runs), ratio(h.Promoted, h.Runs),
				detection(res["errors6"].sum), detection(res["dead"].sum), detection(res["p95"].sum),
				fmt.Sprintf("%d / %d / %d / %d of %d", sb.byWeight[5], sb.byWeight[10], sb.byWeight[25], sb.byWeight[50], sb.sum.Runs), ruleList(sb.rules), sb.sum.Promoted)
		}
	}
	p("\n%d healthy runs and %d of each fault per cell, seed %d (run i on stream i); detection times from the start (the fault is there from the first request); the slow burn's rollbacks by the weight of the step they started in.\n",
		c.healthyRuns, c.faultyRuns, c.seed)
	return nil
}

// matrixRuns is simulate.Many keeping each run's events, to tell the
// weight a rollback started at.
func matrixRuns(p *canary.Plan, sc *simulate.Scenario, runs int, seed uint64, workers int) (matrixResult, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([]simulate.Result, runs)
	weights := make([]int, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, max(runs, 1)) {
		wg.Go(func() {
			for i := range next {
				r, err := simulate.Run(p, sc, simulate.Options{Sampled: true, Seed: seed, Stream: uint64(i), Events: true})
				for _, e := range r.Events {
					if e.Type == canary.EvRollbackStarted {
						weights[i] = e.Weight
						break
					}
				}
				r.Events = nil
				results[i], errs[i] = r, err
			}
		})
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	res := matrixResult{byWeight: map[int]int{}, rules: map[string]int{}}
	for i, err := range errs {
		if err != nil {
			return res, err
		}
		if results[i].RolledBack {
			res.byWeight[weights[i]]++
			res.rules[results[i].Rule]++
		}
	}
	res.sum = simulate.Summarize(sc.Expect, seed, results)
	return res, nil
}

// detection is "4m (6m30s), 0 missed".
func detection(s simulate.Summary) string {
	return fmt.Sprintf("%s (%s), %d missed", dur(simulate.Quantile(s.Detections, 0.5)), dur(simulate.Quantile(s.Detections, 0.95)), s.Missed)
}

// ruleList is "burnRate above 2x for 10m: 40, …", most frequent first.
func ruleList(rules map[string]int) string {
	var names []string
	for n := range rules {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if rules[a] != rules[b] {
			return rules[b] - rules[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s: %d", n, rules[n]))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, "; ")
}
