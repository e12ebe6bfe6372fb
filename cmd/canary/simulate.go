package main

import (
	"fmt"
	"time"

	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/simulate"
	"github.com/spf13/cobra"
)

// newSimulateCmd is `canary simulate PLAN --scenario FILE`.
func newSimulateCmd() *cobra.Command {
	var (
		scenario string
		runs     int
		seed     uint64
		limit    time.Duration
	)
	c := &cobra.Command{
		Use:   "simulate PLAN --scenario FILE",
		Short: "Run a plan's decisions through a scenario on a simulated clock",
		Long:  simulateLong + "\n\n" + scenarioFormat,
		Example: `  canary simulate examples/recoveryos.yaml --scenario bench/decisions/scenarios/error-spike.yaml
  canary simulate plan.yaml --scenario healthy.yaml --runs 1000 --seed 7`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if scenario == "" {
				return usageError{fmt.Errorf("--scenario is required: the scenario file to simulate")}
			}
			if runs < 1 {
				return usageError{fmt.Errorf("--runs %d: want 1 or more", runs)}
			}
			p, err := plan.Load(args[0])
			if err != nil {
				return err
			}
			sc, err := simulate.Load(scenario)
			if err != nil {
				return &outcomeError{code: ExitInvalid, msg: err.Error()}
			}
			out := c.OutOrStdout()
			if runs == 1 {
				res, err := simulate.Run(p, sc, simulate.Options{Sampled: c.Flags().Changed("seed"), Seed: seed, Limit: limit, Events: true})
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s over %s (%s):\n", p.Metadata.Name, sc.Name, sampling(c.Flags().Changed("seed"), seed))
				return simulate.WriteTimeline(out, res)
			}
			s, err := simulate.Many(p, sc, runs, seed, 0, limit)
			if err != nil {
				return err
			}
			return simulate.WriteSummary(out, p.Metadata.Name+" over "+sc.Name, s)
		},
	}
	f := c.Flags()
	f.StringVar(&scenario, "scenario", "", "scenario file (YAML)")
	f.IntVar(&runs, "runs", 1, "number of sampled runs; above 1, report statistics instead of a timeline")
	f.Uint64Var(&seed, "seed", 1, "seed of the random numbers (run i of --runs uses stream i)")
	f.DurationVar(&limit, "limit", 0, "simulated time limit of a run (default: the scenario's, else 2 × the holds + 1h)")
	return c
}

const simulateLong = `Simulate runs the real decision engine through a rollout of PLAN on a
simulated clock, measuring from a scenario of traffic, latency and errors
per track (the scenario format is below), and prints the timeline
of its decisions. Nothing is deployed and no metrics source is read.

Without --runs (or --seed) every value is its expectation, so the timeline
is the one the rules give on average. --runs N draws N runs with random
requests, errors, latencies and the scenario's noise, and reports the
false-rollback rate (a scenario that expects no rollback) or the misses and
detection times (a scenario with a regression). --seed makes runs
reproducible: the same seed gives the same numbers.`

func sampling(sampled bool, seed uint64) string {
	if sampled {
		return fmt.Sprintf("sampled, seed %d", seed)
	}
	return "expected values"
}
