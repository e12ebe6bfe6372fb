package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/spf13/cobra"
)

// notifyFlags are `canary notify test`'s flags.
type notifyFlags struct {
	audience string
	timeout  time.Duration
	baseURL  string
}

// newNotifyCmd is `canary notify` with its subcommand `test`.
func newNotifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "notify",
		Short: "Check a plan's notification channels",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(newNotifyTestCmd())
	return c
}

func newNotifyTestCmd() *cobra.Command {
	var f notifyFlags
	c := &cobra.Command{
		Use:   "test PLAN",
		Short: "Send a test message on every notification channel of a plan",
		Long: `Test sends a test message to each audience of the plan on each of its
channels (Slack, email, webhook, PagerDuty) and prints, per channel, ok or
the error. Secrets are read from the environment or files as at rollout
time, so this also checks they are in place. On PagerDuty the test opens
an info-severity incident and resolves it at once.

Exit code 0 when every channel accepted its message, 5 when one failed,
2 for a bad plan or an unknown audience.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := plan.Load(args[0])
			if err != nil {
				return err
			}
			senders := notify.Options{BaseURL: f.baseURL}.New
			outcomes, err := notify.SendTest(c.Context(), p, f.audience, senders, f.timeout, time.Now())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			failed := 0
			for _, o := range outcomes {
				result := "ok"
				if o.Err != nil {
					failed++
					result = "error: " + o.Err.Error()
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", o.Audience, o.Channel, result)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if failed > 0 {
				return &outcomeError{code: ExitUnavailable, msg: fmt.Sprintf("%d of %d channels failed", failed, len(outcomes))}
			}
			return nil
		},
	}
	c.Flags().StringVar(&f.audience, "audience", "", "test only this audience's channels")
	c.Flags().DurationVar(&f.timeout, "timeout", notify.DefaultTimeout, "how long each channel may take")
	c.Flags().StringVar(&f.baseURL, "base-url", "", "canary's web address, for links in messages")
	return c
}
