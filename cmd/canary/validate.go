package main

import (
	"fmt"
	"os"

	"github.com/canary-dev/canary/plan"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	var rps *float64
	c := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check rollout plans and print every error with file:line:col",
		Long: `Validate parses each plan strictly (unknown fields, bad units, impossible
steps and rules are errors) and prints every error at once as
file:line:col: field.path: what is wrong (how to fix). Exit code 2 when any
plan is invalid. A valid plan may get warnings (exit code 0), e.g. a bare
on: key, which kubectl (YAML 1.1) reads as true.

With --expected-rps, validate also says per rule whether the steps'
weights and holds gather enough requests to decide at that traffic, and
exits 2 when a rule CANNOT DECIDE at some step (a plan that would pause
for lack of evidence), so a pipeline can stop it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			bad, undecided := 0, 0
			for _, f := range args {
				p, err := plan.Load(f)
				if err != nil {
					bad++
					fmt.Fprintln(c.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: ok (%s %s: %d steps, %d rules, traffic %s)\n",
					f, p.Metadata.Name, p.Spec.Version, len(p.Spec.Steps), len(p.Spec.Rules), p.Spec.Traffic.Provider())
				if data, err := os.ReadFile(f); err == nil {
					for _, w := range plan.Warnings(f, data) {
						fmt.Fprintln(c.ErrOrStderr(), "warning:", w)
					}
				}
				if *rps > 0 {
					undecided += writeSampleSize(c.OutOrStdout(), p, *rps)
				}
			}
			if bad > 0 {
				return &outcomeError{code: ExitInvalid, msg: fmt.Sprintf("%d of %d plans are invalid", bad, len(args))}
			}
			if undecided > 0 {
				return &outcomeError{code: ExitInvalid, msg: fmt.Sprintf(
					"%d rules cannot decide at %s requests/s (CANNOT DECIDE above): lengthen the holds or windows, raise the weights, or expect more traffic",
					undecided, num(*rps))}
			}
			return nil
		},
	}
	rps = addExpectedRPSFlag(c)
	return c
}
