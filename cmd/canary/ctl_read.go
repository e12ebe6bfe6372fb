package main

import (
	"fmt"
	"github.com/canary-dev/canary/api"
	"io"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/client"
	rollreport "github.com/canary-dev/canary/report"
	"github.com/canary-dev/canary/view"
	"github.com/spf13/cobra"
)

// describeDecisions is how many of the last decisions describe shows, and
// describeEvents how many events it reads to find them.
const (
	describeDecisions = 10
	describeEvents    = 5000
)

func (x *ctl) getCmd() *cobra.Command {
	var output, phase string
	c := &cobra.Command{
		Use:   "get [NAME[@GEN]]",
		Short: "List rollouts, or show one",
		Long: `Get lists the rollouts of canary serve, every generation (--phase keeps
one phase), or shows one: name, generation, version, phase, step, canary
weight, age and MESSAGE, why it is where it is (the reason of a pause, the
rule or command that started a rollback, a failing action). NAME@GEN (or
--generation GEN) shows an older generation.
-o wide adds the flag, the firing rules, the last change and the whole
message; -o json or -o yaml prints the API's objects; -o name prints
NAME@GEN lines, which describe, events, report and delete take.
canary get services lists canary serve's front doors instead: address,
holder, upstreams, split, live rollout, requests/s and error rate per track.
With --kube (or --kubeconfig or --context) it reads Rollout resources from
the Kubernetes API server instead (in -n's namespace, or all).`,
		Args: cobra.MaximumNArgs(1),
	}
	f := x.connection(c)
	x.kubeTarget(c, f)
	generationFlag(c, f)
	c.ValidArgsFunction = x.completeNames(f)
	c.Flags().StringVar(&phase, "phase", "", "only rollouts in this phase (Progressing, Paused, RolledBack, ...)")
	outputFlag(c, &output, getFormats...)
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := checkOutput(output, getFormats...); err != nil {
			return err
		}
		if len(args) == 1 && args[0] == "services" {
			return x.getServices(c, f, output)
		}
		list, one, err := x.getRollouts(c, f, args, phase)
		if err != nil {
			return err
		}
		var v any = struct {
			Items []api.Rollout `json:"items"`
		}{append([]api.Rollout{}, list...)}
		if one {
			v = list[0]
		}
		return render(x.stdout, output, v, func() error {
			if len(list) == 0 {
				fmt.Fprintln(x.stderr, "no rollouts")
				return nil
			}
			if output == "name" {
				return nameList(x.stdout, list)
			}
			return x.rolloutTable(x.stdout, list, output == "wide")
		})
	}
	return c
}

// getRollouts is the rollout NAME names (one), or the list.
func (x *ctl) getRollouts(c *cobra.Command, f *ctlFlags, args []string, phase string) ([]api.Rollout, bool, error) {
	cl, err := x.rollouts(f)
	if err != nil {
		return nil, false, err
	}
	if len(args) == 1 {
		name, err := x.target(f, args[0])
		if err != nil {
			return nil, false, err
		}
		r, err := cl.Get(c.Context(), name)
		return []api.Rollout{r}, true, err
	}
	list, err := cl.List(c.Context(), api.ListOptions{Phase: canary.Phase(phase), Limit: 1000})
	return list, false, err
}

// moved reports whether traffic has moved in the rollout's life.
func moved(st canary.State) bool {
	switch st.Phase {
	case canary.PhasePending, canary.PhasePreChecks, canary.PhaseFailed:
		return false
	case canary.PhasePaused:
		return st.PausedFrom != canary.PhasePending && st.PausedFrom != canary.PhasePreChecks
	}
	return true
}

func (x *ctl) describeCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "describe NAME[@GEN]",
		Short: "Show a rollout in detail: steps, rules, timers and its last decisions",
		Long: `Describe shows one rollout: its status block (as canary run draws it: the
step track, the hold, weight and flag, every rule's canary and stable value
against its threshold with its verdict and pending timer), the steps with
✓ done and ● current, and its last decisions with the inputs they were
taken on. NAME@GEN (or --generation GEN) describes an older generation
of NAME; the latest is the default. -o json or -o yaml prints the same as
data: the rollout as the API has it, its last decisions with their inputs
and its failed notifications.`,
		Args: cobra.ExactArgs(1),
	}
	f := x.connection(c)
	x.kubeTarget(c, f)
	generationFlag(c, f)
	outputFlag(c, &output, describeFormats...)
	c.ValidArgsFunction = x.completeNames(f)
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := checkOutput(output, describeFormats...); err != nil {
			return err
		}
		name, err := x.target(f, args[0])
		if err != nil {
			return err
		}
		cl, err := x.rollouts(f)
		if err != nil {
			return err
		}
		r, err := cl.Get(c.Context(), name)
		if err != nil {
			return err
		}
		evs, err := cl.AllEvents(c.Context(), name, max(0, r.State.EventSeq-describeEvents))
		if err != nil {
			return err
		}
		notes, nerr := cl.Notifications(c.Context(), name, api.NotificationOptions{Status: api.FilterFailed, Limit: describeFailures})
		return render(x.stdout, output, describeData(r, evs, notes, nerr), func() error {
			x.describe(x.stdout, r, evs)
			x.notifications(x.stdout, notes, nerr)
			return nil
		})
	}
	return c
}

// described is describe's data (-o json, -o yaml): the rollout, its last
// decisions with their inputs, and its failed notifications (or why
// they could not be read).
type described struct {
	Rollout            api.Rollout           `json:"rollout"`
	Decisions          []rollreport.Decision `json:"decisions"`
	DecisionsTotal     int                   `json:"decisionsTotal"`
	Notifications      *api.NotificationPage `json:"notifications,omitempty"`
	NotificationsError string                `json:"notificationsError,omitempty"`
}

func describeData(r api.Rollout, evs []canary.Event, notes api.NotificationPage, err error) described {
	ds := rollreport.Decisions(evs)
	d := described{Rollout: r, Decisions: append([]rollreport.Decision{}, ds[max(0, len(ds)-describeDecisions):]...), DecisionsTotal: len(ds)}
	if err != nil {
		d.NotificationsError = err.Error()
	} else {
		d.Notifications = &notes
	}
	return d
}

// describeFailures is how many of the last failed notifications describe
// shows.
const describeFailures = 3

// notifications writes the notifications block: counts by status and the
// last failures. A server that cannot tell (an older one) is noted, not
// an error: the rest of describe stands.
func (x *ctl) notifications(w io.Writer, p api.NotificationPage, err error) {
	if err != nil {
		fmt.Fprintf(w, "\nNotifications:  unavailable (%v)\n", err)
		return
	}
	c := p.Counts
	if c.Total == 0 {
		fmt.Fprintln(w, "\nNotifications:  none")
		return
	}
	fmt.Fprintf(w, "\nNotifications:  %d sent, %d failed (%d retrying, %d given up), %d queued, %d sending\n",
		c.Delivered, c.Retrying+c.Dead, c.Retrying, c.Dead, c.Pending-c.Retrying, c.Claimed)
	now := x.now()
	for _, n := range p.Items {
		what := fmt.Sprintf("given up after %d attempts", n.Attempts)
		if n.Status != canary.OutboxDead {
			what = fmt.Sprintf("%d attempts, retry in %s", n.Attempts, canary.FormatDuration(max(n.NextAttempt.Sub(now), 0).Round(time.Second)))
		}
		fmt.Fprintf(w, "  ✗ %s via %s (%s #%d): %s: %s\n", n.Audience, n.Channel, n.Event, n.EventSeq, what, n.LastError)
	}
}

// describe writes the description of r, whose recent events are evs.
func (x *ctl) describe(w io.Writer, r api.Rollout, evs []canary.Event) {
	now := x.now()
	fmt.Fprintf(w, "Name:        %s\n", r.Name)
	fmt.Fprintf(w, "Generation:  %d\n", r.Generation)
	fmt.Fprintf(w, "Version:     %s\n", r.State.Version)
	fmt.Fprintf(w, "Phase:       %s\n", r.State.Phase)
	fmt.Fprintf(w, "Created:     %s (%s ago)\n", r.CreatedAt.UTC().Format(time.DateTime+" UTC"), age(now, r.CreatedAt))
	if r.Plan == nil {
		return
	}
	fmt.Fprintln(w)
	io.WriteString(w, view.Status(r.Plan, r.State, r.LastEvaluations, now, 0))
	fmt.Fprintln(w, "\nSteps:")
	for i, s := range r.Plan.Spec.Steps {
		line := fmt.Sprintf("  %s %d  %3d%%", stepMark(r.State, i, len(r.Plan.Spec.Steps)), i+1, s.Weight)
		if s.Hold > 0 {
			line += "  hold " + s.Hold.String()
		}
		if a := s.Approval; a != nil && a.Manual {
			line += "  manual approval"
		} else if a != nil && a.Webhook != "" {
			line += "  approval webhook"
		}
		fmt.Fprintln(w, line)
	}
	x.decisions(w, r, evs)
}

// stepMark is ✓ for a step done, ● for the current one, ✗ for the step a
// rollback left, blank for the rest.
func stepMark(st canary.State, i, n int) string {
	cur := st.Step
	switch {
	case st.Phase == canary.PhaseSucceeded:
		cur = n
	case !moved(st):
		cur = -1
	}
	switch {
	case i < cur:
		return "✓"
	case i == cur && (st.Phase == canary.PhaseRollingBack || st.Phase == canary.PhaseRolledBack):
		return "✗"
	case i == cur:
		return "●"
	}
	return " "
}

// decisions writes the last decisions with their inputs.
func (x *ctl) decisions(w io.Writer, r api.Rollout, evs []canary.Event) {
	ds := rollreport.Decisions(evs)
	if len(ds) == 0 {
		fmt.Fprintln(w, "\nDecisions:  none yet")
		return
	}
	shown := ds[max(0, len(ds)-describeDecisions):]
	fmt.Fprintf(w, "\nLast decisions (%d of %d):\n", len(shown), len(ds))
	start := startOf(r)
	for _, d := range shown {
		fmt.Fprintf(w, "  %s\n", view.EventLine(d.Event, start))
		for _, e := range d.Inputs {
			fmt.Fprintf(w, "           ↳ %s\n", inputLine(e))
		}
	}
}

// startOf is when the rollout began, for event times.
func startOf(r api.Rollout) time.Time {
	if !r.State.CreatedAt.IsZero() {
		return r.State.CreatedAt
	}
	return r.CreatedAt
}

// inputLine is "latencyP95 > 600ms for 1m: canary 742ms (stable 420ms),
// 1500 requests over 30s; > 600ms → breach for 1m, firing".
func inputLine(e canary.Evaluation) string {
	kind := e.Metric.Kind()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.Rule)
	if e.Verdict.Judged() {
		who := "canary"
		if e.Metric == canary.MetricBurnRate {
			who = "service"
		}
		fmt.Fprintf(&b, "%s %s", who, canary.FormatValue(kind, e.Value))
		if e.Stable != nil {
			fmt.Fprintf(&b, " (stable %s)", canary.FormatValue(kind, *e.Stable))
		}
		b.WriteString(", ")
	}
	op := ">"
	if e.Op == "below" {
		op = "<"
	}
	fmt.Fprintf(&b, "%d requests over %s; %s %s → %s", e.Samples, canary.FormatDuration(e.Window), op,
		canary.FormatValue(kind, e.Threshold), e.Verdict)
	if e.PendingFor > 0 {
		b.WriteString(" for " + canary.FormatDuration(e.PendingFor))
	}
	if e.Firing {
		b.WriteString(", firing")
	}
	if e.Detail != "" {
		b.WriteString(" (" + e.Detail + ")")
	}
	return b.String()
}

func (x *ctl) eventsCmd() *cobra.Command {
	var output string
	var watch, all bool
	c := &cobra.Command{
		Use:   "events NAME[@GEN]",
		Short: "Print a rollout's events (-w: and follow them)",
		Long: `Events prints a rollout's events, one line each (time since the start, a
tag, step and weight, what happened and why). The per-interval evaluations
and the actions' intent records are left out unless --all is given;
-o json prints every event as one JSON object per line. -w keeps following
the events as they happen until interrupted. NAME@GEN (or --generation
GEN) prints an older generation's events; the latest is the default.`,
		Args: cobra.ExactArgs(1),
	}
	f := x.connection(c)
	generationFlag(c, f)
	c.ValidArgsFunction = x.completeNames(f)
	c.Flags().BoolVarP(&watch, "watch", "w", false, "follow new events as they happen")
	c.Flags().BoolVar(&all, "all", false, "include evaluations and action intents")
	outputFlag(c, &output, eventFormats...)
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := checkOutput(output, eventFormats...); err != nil {
			return err
		}
		name, err := x.target(f, args[0])
		if err != nil {
			return err
		}
		cl, err := x.client(f)
		if err != nil {
			return err
		}
		r, err := cl.Get(c.Context(), name)
		if err != nil {
			return err
		}
		p := &eventPrinter{w: x.stdout, start: startOf(r), format: output, all: all || dataFormat(output)}
		return x.printEvents(c, cl, name, p, watch)
	}
	return c
}

// printEvents prints the events so far, page by page, then follows them
// with watch.
func (x *ctl) printEvents(c *cobra.Command, cl *client.Client, name string, p *eventPrinter, watch bool) error {
	var last int64
	for {
		evs, err := cl.Events(c.Context(), name, last, 0)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			p.print(ev)
			last = ev.Seq
		}
	}
	if !watch {
		return p.err
	}
	if err := cl.Watch(c.Context(), name, last, p.print); err != nil {
		return err
	}
	return p.err
}

// eventPrinter prints events for people (text), as JSON lines or as
// YAML documents (one per event, so -w can go on).
type eventPrinter struct {
	w      io.Writer
	start  time.Time
	format string
	all    bool
	err    error
}

func (p *eventPrinter) print(ev canary.Event) {
	if !p.all && !view.Filter(ev) {
		return
	}
	var err error
	switch p.format {
	case "json":
		var line []byte
		line, err = view.EventJSON(ev)
		p.w.Write(line)
	case "yaml":
		io.WriteString(p.w, "---\n")
		err = printData(p.w, "yaml", ev)
	default:
		fmt.Fprintln(p.w, view.EventLine(ev, p.start))
	}
	if err != nil && p.err == nil {
		p.err = err
	}
}

func (x *ctl) reportCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "report NAME[@GEN]",
		Short: "Print a rollout's post-deployment report (Markdown)",
		Long: `Report prints the post-deployment report in Markdown: the outcome, version
and duration, a timeline, the canary's and the stable's metrics per step,
every decision and the numbers behind it, and the runbook's success
criteria checked from the data. NAME@GEN (or --generation GEN) reports
on an older generation; the latest is the default. -o json prints the
report as data: outcome, reason, times, the timeline's events, every
decision with its inputs and the success criteria checked.`,
		Args: cobra.ExactArgs(1),
	}
	f := x.connection(c)
	generationFlag(c, f)
	outputFlag(c, &output, reportFormats...)
	c.ValidArgsFunction = x.completeNames(f)
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := checkOutput(output, reportFormats...); err != nil {
			return err
		}
		name, err := x.target(f, args[0])
		if err != nil {
			return err
		}
		cl, err := x.client(f)
		if err != nil {
			return err
		}
		if output == "json" {
			data, err := cl.ReportJSON(c.Context(), name)
			if err != nil {
				return err
			}
			return printData(x.stdout, "json", data)
		}
		md, err := cl.Report(c.Context(), name)
		if err != nil {
			return err
		}
		_, err = io.WriteString(x.stdout, md)
		return err
	}
	return c
}
