package main

import (
	"fmt"
	"github.com/canary-dev/canary/api"
	"io"
	"strconv"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/plan"
	"github.com/spf13/cobra"
)

func (x *ctl) applyCmd() *cobra.Command {
	var file, output string
	var force bool
	c := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Apply a rollout plan to canary serve",
		Long: `Apply sends a plan to canary serve, which starts it. Applying the same plan
again changes nothing; a new spec.version starts a new rollout (a new
generation); any other change to a rollout still under way is refused
unless --force is given. The plan is checked here first, with the same
messages as canary validate (file:line:col), and again by the server.
-f - reads the plan from standard input.`,
		Args: cobra.NoArgs,
	}
	f := x.connection(c)
	_ = c.Flags().MarkHidden("namespace") // the plan names its namespace
	c.Flags().StringVarP(&file, "filename", "f", "", "the plan file (- for standard input)")
	c.Flags().BoolVar(&force, "force", false, "change a rollout that is under way")
	outputFlag(c, &output, "json", "yaml")
	_ = c.MarkFlagFilename("filename", "yaml", "yml", "json")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if err := checkOutput(output, "json", "yaml"); err != nil {
			return err
		}
		if file == "" {
			return usageError{fmt.Errorf("apply needs the plan: -f FILE (or -f - for standard input)")}
		}
		data, name, err := readPlan(c.InOrStdin(), file)
		if err != nil {
			return err
		}
		if _, err := plan.Parse(name, data); err != nil {
			return err
		}
		cl, err := x.client(f)
		if err != nil {
			return err
		}
		res, err := cl.Apply(c.Context(), data, force)
		if err != nil {
			return err
		}
		if output != "" {
			return printData(x.stdout, output, res)
		}
		fmt.Fprintf(x.stdout, "rollout %s %s\n", res.Rollout.Name, applied(res))
		return nil
	}
	return c
}

// readPlan reads the plan file, or standard input for "-".
func readPlan(stdin io.Reader, file string) ([]byte, string, error) {
	if file == "-" {
		data, err := plan.ReadAll("stdin", stdin)
		return data, "stdin", err
	}
	data, err := plan.ReadFile(file)
	return data, file, err
}

// applied says what Apply did: "created (generation 2, v2)".
func applied(res api.ApplyResult) string {
	r := res.Rollout
	switch {
	case res.Created:
		return fmt.Sprintf("created (generation %d, %s)", r.Generation, r.State.Version)
	case res.Unchanged:
		return fmt.Sprintf("unchanged (generation %d, %s, %s)", r.Generation, r.State.Version, r.State.Phase)
	}
	return fmt.Sprintf("configured (generation %d, %s, %s)", r.Generation, r.State.Version, r.State.Phase)
}

// controls describes the manual controls' commands.
var controls = []struct {
	kind        engine.CommandKind
	short, long string
}{
	{engine.CmdPause, "Pause a rollout where it is",
		"Pause stops a rollout advancing: the hold clock stops and the weight stays. Rules keep protecting it: a firing rollback rule still rolls back."},
	{engine.CmdResume, "Resume a paused rollout",
		"Resume continues a paused rollout where it stopped, with the hold time it had left."},
	{engine.CmdPromote, "Complete the current step now (--full: straight to 100%)",
		"Promote completes the current step now and starts the next; with --full it promotes the canary to 100% at once."},
	{engine.CmdApprove, "Give the current step's manual approval",
		"Approve gives the approval a step with approval: {manual: true} waits for after its hold."},
	{engine.CmdAbort, "Roll a rollout back (gradually, or --immediate)",
		"Abort rolls back: gradually (weight and flag to 0, drain, remove the canary) or, with --immediate, at once (flag off, weight 0, remove the canary)."},
	{engine.CmdRetry, "Start a rolled-back or failed rollout again",
		"Retry starts a rolled-back or failed rollout again from its pre-checks."},
}

// controlCmds are pause, resume, promote, approve, abort and retry.
func (x *ctl) controlCmds() []*cobra.Command {
	var cmds []*cobra.Command
	for _, k := range controls {
		cmds = append(cmds, x.controlCmd(k.kind, k.short, k.long))
	}
	return cmds
}

func (x *ctl) controlCmd(kind engine.CommandKind, short, long string) *cobra.Command {
	var cmd engine.Command
	var output string
	c := &cobra.Command{
		Use:   string(kind) + " NAME",
		Short: short,
		Long: long + `

NAME is namespace/name, or name in -n's namespace. The token's name is
recorded as who did it; a control that does not apply in the rollout's
phase is refused with the reason (exit code 2).

With --kube (or --kubeconfig/--context) it acts on a Rollout resource
instead: it writes the command annotation canary.dev/command, waits
(--wait) until canary operator has taken it, and says whether it was
applied or refused.`,
		Args: cobra.ExactArgs(1),
	}
	f := x.connection(c)
	x.kubeTarget(c, f)
	c.Flags().DurationVar(&f.kube.wait, "wait", f.kube.wait, "with --kube: how long to wait for canary operator to take the command")
	c.ValidArgsFunction = x.completeNames(f)
	c.Flags().StringVar(&cmd.Reason, "reason", "", "why, recorded with the command")
	switch kind {
	case engine.CmdPromote:
		c.Flags().BoolVar(&cmd.Full, "full", false, "promote straight to 100%")
	case engine.CmdAbort:
		c.Flags().BoolVar(&cmd.Immediate, "immediate", false, "roll back at once instead of gradually")
	}
	outputFlag(c, &output, "json", "yaml")
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := checkOutput(output, "json", "yaml"); err != nil {
			return err
		}
		cl, err := x.rollouts(f)
		if err != nil {
			return err
		}
		cmd.Kind = kind
		r, err := cl.Control(c.Context(), x.name(f, args[0]), cmd)
		if err != nil {
			return err
		}
		if output != "" {
			return printData(x.stdout, output, r)
		}
		fmt.Fprintf(x.stdout, "rollout %s: %s done; now %s\n", r.Name, commandText(cmd), where(r))
		return nil
	}
	return c
}

// commandText is "promote --full", "abort --immediate".
func commandText(cmd engine.Command) string {
	s := string(cmd.Kind)
	if cmd.Full {
		s += " --full"
	}
	if cmd.Immediate {
		s += " --immediate"
	}
	return s
}

// where is "Progressing at step 2 (10%)", or the phase before traffic
// moves and once finished.
func where(r api.Rollout) string {
	st := r.State
	switch st.Phase {
	case canary.PhasePending, canary.PhasePreChecks, canary.PhaseFailed, canary.PhaseSucceeded, canary.PhaseRolledBack:
		return string(st.Phase)
	}
	s := fmt.Sprintf("%s at step %d", st.Phase, st.Step+1)
	if r.Plan != nil && st.Step >= 0 && st.Step < len(r.Plan.Spec.Steps) {
		s += fmt.Sprintf(" (%d%%)", r.Plan.Spec.Steps[st.Step].Weight)
	}
	return s + fmt.Sprintf(", canary weight %d%%", st.Weight)
}

func (x *ctl) deleteCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "delete NAME[@GEN] | delete service ADDRESS",
		Short: "Delete a finished rollout (every generation, or one) and its events, or a service's front door",
		Long: "Delete removes every generation of a finished (succeeded, rolled back or failed) rollout, or with NAME@GEN (or\n" +
			"--generation GEN) that generation only, and says how many went. While a generation is active nothing is removed: abort it first.\n" +
			"delete service ADDRESS closes and removes canary serve's front door on ADDRESS (refused while its rollout is active).",
		Args: cobra.RangeArgs(1, 2),
	}
	f := x.connection(c)
	generationFlag(c, f)
	c.ValidArgsFunction = x.completeNames(f)
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 2 {
			if args[0] != "service" {
				return usageError{fmt.Errorf("delete takes a rollout NAME, or service ADDRESS")}
			}
			return x.deleteService(c, f, args[1])
		}
		cl, err := x.client(f)
		if err != nil {
			return err
		}
		name, err := x.target(f, args[0])
		if err != nil {
			return err
		}
		res, err := cl.Delete(c.Context(), name)
		if err != nil {
			return err
		}
		fmt.Fprintln(x.stdout, deleted(res))
		return nil
	}
	return c
}

// deleted is what delete says it removed: "rollout default/web deleted
// (3 generations: 1, 2, 3)".
func deleted(res api.DeleteResult) string {
	gens := make([]string, len(res.Generations))
	for i, g := range res.Generations {
		gens[i] = strconv.Itoa(g)
	}
	if len(gens) == 1 {
		return fmt.Sprintf("rollout %s deleted (1 generation: %s)", res.Name, gens[0])
	}
	return fmt.Sprintf("rollout %s deleted (%d generations: %s)", res.Name, len(gens), strings.Join(gens, ", "))
}
