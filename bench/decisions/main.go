// Command decisions is the decision benchmark: every scenario under
// scenarios/ run through every policy, many sampled runs each with fixed
// seeds, and one Markdown table per scenario (no pooled figures): false
// rollbacks, misses, detection times, promotion rate and time.
//
// Policies are canary plans under policies/ run by `canary simulate`'s
// engine (package simulate), and models of other tools' analysis run over
// the same simulated traffic (external.go): Flagger as its scheduler runs
// it (failed checks accumulate to the threshold, stepWeight progression)
// with its default metrics and with the runbook's SLOs, and an Argo
// Rollouts AnalysisTemplate (failureLimit, consecutiveErrorLimit).
//
//	go run ./bench/decisions -runs 200 -faulty-runs 60 -seed 1
//
// With -matrix it prints instead the runbook's threshold matrix judged by
// point and with confidence at 20, 50, 200 and 1000 req/s (matrix.go).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/simulate"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "decisions:", err)
		os.Exit(1)
	}
}

type config struct {
	healthyRuns, faultyRuns int
	seed                    uint64
	workers                 int
	dir                     string
	policies                []string
	matrix                  bool
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("decisions", flag.ContinueOnError)
	var c config
	fs.IntVar(&c.healthyRuns, "runs", 3000, "runs of each scenario without a regression")
	fs.IntVar(&c.faultyRuns, "faulty-runs", 300, "runs of each scenario with a regression")
	fs.Uint64Var(&c.seed, "seed", 1, "seed (run i uses stream i)")
	fs.IntVar(&c.workers, "workers", 0, "parallel runs (0: one per processor)")
	fs.StringVar(&c.dir, "dir", "bench/decisions", "directory with policies/ and scenarios/")
	pol := fs.String("policies", "default,default:quantiles,flagger,flagger-slo,argo,runbook",
		"policies to compare: a plan under policies/ by file name (name:quantiles runs the scenarios with a source that gives no latency histograms), or flagger, flagger-slo, argo")
	fs.BoolVar(&c.matrix, "matrix", false, "instead of the scenarios, the runbook's threshold matrix judged by point and with confidence at 20, 50, 200 and 1000 req/s (matrix.go)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.matrix {
		return matrix(c, out)
	}
	c.policies = strings.Split(*pol, ",")
	return bench(c, out)
}

// policy is one plan (or an external tool's loop) and its results by
// scenario.
type policy struct {
	name    string
	plan    *canary.Plan
	loop    loop
	results map[string]simulate.Summary
	// quantiles runs the scenarios with a metrics source that gives
	// latency quantiles only, no histograms.
	quantiles bool
}

func bench(c config, out io.Writer) error {
	scenarios, err := loadScenarios(c.dir)
	if err != nil {
		return err
	}
	pols, err := loadPolicies(c)
	if err != nil {
		return err
	}
	start := time.Now()
	for _, p := range pols {
		for _, sc := range scenarios {
			if err := p.run(c, sc); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%-16s %-24s %5d runs  %s\n", p.name, sc.Name, p.results[sc.Name].Runs, time.Since(start).Round(time.Second))
		}
	}
	writeTables(out, c, pols, scenarios)
	return nil
}

// loadScenarios reads dir/scenarios/*.yaml, healthy scenarios first, then
// regressions, each alphabetically.
func loadScenarios(dir string) ([]*simulate.Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "scenarios", "*.yaml"))
	if err != nil {
		return nil, err
	}
	var scenarios []*simulate.Scenario
	for _, f := range files {
		sc, err := simulate.Load(f)
		if err != nil {
			return nil, err
		}
		scenarios = append(scenarios, sc)
	}
	slices.SortStableFunc(scenarios, func(a, b *simulate.Scenario) int {
		if a.Expect.Rollback != b.Expect.Rollback {
			if !a.Expect.Rollback {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return scenarios, nil
}

// loadPolicies resolves -policies: the external loops by name, or a plan
// under dir/policies with an optional ":quantiles" variant.
func loadPolicies(c config) ([]*policy, error) {
	var pols []*policy
	external := externalPolicies()
	for _, spec := range c.policies {
		name, variant, _ := strings.Cut(spec, ":")
		if l, ok := external[name]; ok && variant == "" {
			pols = append(pols, &policy{name: externalName(l), loop: l, results: map[string]simulate.Summary{}})
			continue
		}
		p, err := plan.Load(filepath.Join(c.dir, "policies", name+".yaml"))
		if err != nil {
			return nil, err
		}
		pol := &policy{name: p.Metadata.Name, plan: p, results: map[string]simulate.Summary{}}
		switch variant {
		case "":
		case "quantiles":
			pol.name += " (quantiles only)"
			pol.quantiles = true
		default:
			return nil, fmt.Errorf("policy %q: unknown variant %q (want quantiles)", spec, variant)
		}
		pols = append(pols, pol)
	}
	return pols, nil
}

// run simulates the policy over a scenario (runs from c by whether the
// scenario holds a regression) and keeps the summary.
func (p *policy) run(c config, sc *simulate.Scenario) error {
	runs := c.faultyRuns
	if !sc.Expect.Rollback {
		runs = c.healthyRuns
	}
	run := sc
	if p.quantiles {
		cp := *sc
		off := false
		cp.Histograms = &off
		run = &cp
	}
	if p.loop != nil {
		p.results[sc.Name] = manyLoops(p.loop, run, runs, c.seed, c.workers)
		return nil
	}
	s, err := simulate.Many(p.plan, run, runs, c.seed, c.workers, 0)
	if err != nil {
		return fmt.Errorf("%s over %s: %w", p.name, sc.Name, err)
	}
	p.results[sc.Name] = s
	return nil
}

// writeTables prints one table per scenario, every policy a row: what a
// healthy canary suffers (false rollbacks, promotion) and what a
// regression gets (misses, detection), with promotion rate and time
// always, also where a policy never promotes.
func writeTables(out io.Writer, c config, pols []*policy, scenarios []*simulate.Scenario) {
	for _, sc := range scenarios {
		fmt.Fprintf(out, "#### %s\n\n%s.\n\n", sc.Name, sc.Description)
		if sc.Expect.Rollback {
			regressionTable(out, pols, sc.Name)
		} else {
			healthyTable(out, pols, sc.Name)
		}
		fmt.Fprintf(out, "\n")
	}
	fmt.Fprintf(out, "%d runs per scenario without a regression, %d per regression, seed %d (run i on stream i). Detection times are from the regression's start; promotion times from the rollout's; — where there are none.\n", c.healthyRuns, c.faultyRuns, c.seed)
}

func healthyTable(out io.Writer, pols []*policy, scenario string) {
	fmt.Fprintf(out, "| policy | false rollbacks | promoted | promotion median | promotion p95 |\n|---|--:|--:|--:|--:|\n")
	for _, pol := range pols {
		s := pol.results[scenario]
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s |\n", pol.name, ratio(s.RolledBack, s.Runs), ratio(s.Promoted, s.Runs),
			dur(simulate.Quantile(s.Durations, 0.5)), dur(simulate.Quantile(s.Durations, 0.95)))
	}
}

func regressionTable(out io.Writer, pols []*policy, scenario string) {
	fmt.Fprintf(out, "| policy | missed | missed and promoted | early rollbacks | detection median | detection p95 | promoted |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for _, pol := range pols {
		s := pol.results[scenario]
		fmt.Fprintf(out, "| %s | %s | %d | %d | %s | %s | %s |\n", pol.name, ratio(s.Missed, s.Runs), s.MissedPromoted, s.FalseRollbacks,
			dur(simulate.Quantile(s.Detections, 0.5)), dur(simulate.Quantile(s.Detections, 0.95)), ratio(s.Promoted, s.Runs))
	}
}

// ratio is "3 of 200 (1.5%)".
func ratio(n, of int) string {
	return fmt.Sprintf("%d of %d (%.1f%%)", n, of, pct(n, of))
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func dur(d time.Duration) string {
	if d < 0 {
		return "—"
	}
	return canary.FormatDuration(d)
}
