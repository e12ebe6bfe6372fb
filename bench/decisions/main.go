// Command decisions is the decision benchmark: every scenario under
// scenarios/ run through every policy under policies/ with
// `canary simulate`'s engine (package simulate), many sampled runs each,
// and a Markdown table of regressions missed, false rollbacks per 1,000
// healthy rollouts and detection times.
//
//	go run ./bench/decisions -runs 3000 -faulty-runs 300 -seed 1
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
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("decisions", flag.ContinueOnError)
	var c config
	fs.IntVar(&c.healthyRuns, "runs", 3000, "runs of each scenario without a regression")
	fs.IntVar(&c.faultyRuns, "faulty-runs", 300, "runs of each scenario with a regression")
	fs.Uint64Var(&c.seed, "seed", 1, "seed (run i uses stream i)")
	fs.IntVar(&c.workers, "workers", 0, "parallel runs (0: one per processor)")
	fs.StringVar(&c.dir, "dir", "bench/decisions", "directory with policies/ and scenarios/")
	pol := fs.String("policies", "default,default:quantiles,flagger,runbook",
		"policies to compare, by file name; name:quantiles runs the scenarios with a source that gives no latency histograms")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.policies = strings.Split(*pol, ",")
	return bench(c, out)
}

// policy is one plan and its results by scenario.
type policy struct {
	name    string
	plan    *canary.Plan
	results map[string]simulate.Summary
	// quantiles runs the scenarios with a metrics source that gives
	// latency quantiles only, no histograms.
	quantiles bool
}

func bench(c config, out io.Writer) error {
	files, err := filepath.Glob(filepath.Join(c.dir, "scenarios", "*.yaml"))
	if err != nil {
		return err
	}
	var scenarios []*simulate.Scenario
	for _, f := range files {
		sc, err := simulate.Load(f)
		if err != nil {
			return err
		}
		scenarios = append(scenarios, sc)
	}
	// Healthy scenarios first, then regressions, each alphabetically.
	slices.SortStableFunc(scenarios, func(a, b *simulate.Scenario) int {
		if a.Expect.Rollback != b.Expect.Rollback {
			if !a.Expect.Rollback {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	var pols []*policy
	for _, spec := range c.policies {
		name, variant, _ := strings.Cut(spec, ":")
		p, err := plan.Load(filepath.Join(c.dir, "policies", name+".yaml"))
		if err != nil {
			return err
		}
		pol := &policy{name: p.Metadata.Name, plan: p, results: map[string]simulate.Summary{}}
		switch variant {
		case "":
		case "quantiles":
			pol.name += " (quantiles only)"
			pol.quantiles = true
		default:
			return fmt.Errorf("policy %q: unknown variant %q (want quantiles)", spec, variant)
		}
		pols = append(pols, pol)
	}
	start := time.Now()
	for _, p := range pols {
		for _, sc := range scenarios {
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
			s, err := simulate.Many(p.plan, run, runs, c.seed, c.workers, 0)
			if err != nil {
				return fmt.Errorf("%s over %s: %w", p.name, sc.Name, err)
			}
			p.results[sc.Name] = s
			fmt.Fprintf(os.Stderr, "%-16s %-24s %5d runs  %s\n", p.name, sc.Name, runs, time.Since(start).Round(time.Second))
		}
	}
	writeTables(out, c, pols, scenarios)
	return nil
}

// writeTables prints the summary per policy and the detail per scenario.
func writeTables(out io.Writer, c config, pols []*policy, scenarios []*simulate.Scenario) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	// Detection times are pooled over the regressions every policy
	// detects in most runs, so a policy is not credited for missing the
	// slow ones.
	common := map[string]bool{}
	for _, sc := range scenarios {
		if !sc.Expect.Rollback {
			continue
		}
		common[sc.Name] = true
		for _, pol := range pols {
			if s := pol.results[sc.Name]; 2*s.Missed > s.Runs {
				common[sc.Name] = false
			}
		}
	}
	p("| policy | regressions missed | false rollbacks per 1,000 healthy rollouts | detection median | detection p95 | shared degradation rolled back | healthy promotion |\n")
	p("|---|--:|--:|--:|--:|--:|--:|\n")
	for _, pol := range pols {
		var missed, promoted, faulty, falseHealthy, healthy, sharedRB, sharedRuns int
		var det, took []time.Duration
		for _, sc := range scenarios {
			s := pol.results[sc.Name]
			switch {
			case sc.Expect.Rollback:
				missed += s.Missed
				promoted += s.MissedPromoted
				faulty += s.Runs
				if common[sc.Name] {
					det = append(det, s.Detections...)
				}
			case isShared(sc):
				sharedRB += s.RolledBack
				sharedRuns += s.Runs
			default:
				falseHealthy += s.FalseRollbacks
				healthy += s.Runs
				took = append(took, s.Durations...)
			}
		}
		slices.Sort(det)
		slices.Sort(took)
		p("| %s | %d of %d (%.1f%%; %d promoted) | %.2f (%d of %d) | %s | %s | %s | %s |\n", pol.name, missed, faulty, pct(missed, faulty), promoted,
			1000*float64(falseHealthy)/float64(max(healthy, 1)), falseHealthy, healthy,
			dur(simulate.Quantile(det, 0.5)), dur(simulate.Quantile(det, 0.95)), fmt.Sprintf("%.1f%%", pct(sharedRB, sharedRuns)),
			dur(simulate.Quantile(took, 0.5)))
	}
	var names []string
	for _, sc := range scenarios {
		if common[sc.Name] {
			names = append(names, sc.Name)
		}
	}
	p("\nDetection times pooled over the regressions every policy catches in most runs: %s.\n", strings.Join(names, ", "))
	p("\nPer scenario: healthy ones give false rollbacks per 1,000 (and the median time to promotion); regressions give misses, early rollbacks and detection median / p95 (from the regression's start).\n\n")
	p("| scenario |")
	for _, pol := range pols {
		p(" %s |", pol.name)
	}
	p("\n|---|")
	for range pols {
		p("---|")
	}
	p("\n")
	for _, sc := range scenarios {
		p("| %s |", sc.Name)
		for _, pol := range pols {
			s := pol.results[sc.Name]
			if !sc.Expect.Rollback {
				p(" %.2f‰ false, promoted %d%% in %s |", s.FalsePerThousand(), int(pct(s.Promoted, s.Runs)+0.5), dur(simulate.Quantile(s.Durations, 0.5)))
				continue
			}
			p(" missed %d (%d promoted), early %d, %s / %s |", s.Missed, s.MissedPromoted, s.FalseRollbacks,
				dur(simulate.Quantile(s.Detections, 0.5)), dur(simulate.Quantile(s.Detections, 0.95)))
		}
		p("\n")
	}
	p("\n%d runs per scenario without a regression, %d per regression, seed %d.\n", c.healthyRuns, c.faultyRuns, c.seed)
}

// isShared reports whether a scenario without a regression degrades
// both tracks: its rollbacks are reported apart from healthy ones.
func isShared(sc *simulate.Scenario) bool {
	for _, ch := range sc.Changes {
		if ch.Track == "both" {
			return true
		}
	}
	return false
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
