package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

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
		newSimulateCmd(), newTokenCmd())
	root.AddCommand(newCtlCmds(stdout, stderr)...)
	return root
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print canary's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(c.OutOrStdout(), "canary %s\n", v)
			return nil
		},
	}
}
