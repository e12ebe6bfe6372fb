package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Main runs the canary command line and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	ran := false
	root.PersistentPreRun = func(*cobra.Command, []string) { ran = true }
	err := root.ExecuteContext(ctx)
	if err != nil && !ran {
		err = usageError{err} // cobra refused the arguments before any command ran
	}
	if err != nil {
		report(stderr, err)
	}
	return exitCode(err)
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "canary",
		Short: "Progressive delivery with automatic, graded rollback",
		Long: `canary executes a rollout plan: pre-checks, traffic steps with holds, a
feature flag moved in lockstep, continuous SLO analysis, graded automatic
rollback, notifications per audience, promotion and cleanup.

Try it: canary demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	root.AddCommand(newVersionCmd(), newValidateCmd(), newRunCmd(), newDemoCmd(), newServeCmd(), newQueryCmd(), newNotifyCmd(), newOperatorCmd(),
		newSimulateCmd(), newTokenCmd(), newSampleCmd(), newLoadgenCmd())
	root.AddCommand(newCtlCmds(stdout, stderr)...)
	return root
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
