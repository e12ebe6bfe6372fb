package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"
)

// The read commands' output formats. Every read command goes through
// render: the data formats (json, yaml) print the command's value as the
// API has it, the text formats (table, wide, name, text, markdown) call
// the command's printer. -o's default is the first of a command's text
// formats.
var (
	getFormats      = []string{"table", "wide", "json", "yaml", "name"}
	describeFormats = []string{"text", "json", "yaml"}
	eventFormats    = []string{"text", "json", "yaml"}
	reportFormats   = []string{"markdown", "json"}
)

// dataFormat reports whether o prints data (JSON or YAML) rather than text.
func dataFormat(o string) bool { return o == "json" || o == "yaml" }

// render writes v in the data format o, or calls text for a text format.
func render(w io.Writer, o string, v any, text func() error) error {
	if dataFormat(o) {
		return printData(w, o, v)
	}
	return text()
}

// rolloutTable prints rollouts one per line: -o table (the default) with
// a MESSAGE cut to messageWidth, -o wide with the flag, the firing rules,
// the last change and the whole message.
func (x *ctl) rolloutTable(w io.Writer, list []api.Rollout, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	head := "NAME\tGEN\tVERSION\tPHASE\tSTEP\tWEIGHT\tAGE\tMESSAGE"
	if wide {
		head = "NAME\tGEN\tVERSION\tPHASE\tSTEP\tWEIGHT\tFLAG\tFIRING\tAGE\tUPDATED\tMESSAGE"
	}
	fmt.Fprintln(tw, head)
	now := x.now()
	for _, r := range list {
		st := r.State
		msg := rolloutMessage(st)
		if !wide {
			msg = cut(msg, messageWidth)
		}
		cols := []string{r.Name, fmt.Sprint(r.Generation), st.Version, string(st.Phase), stepOf(r), fmt.Sprintf("%d%%", st.Weight)}
		if wide {
			cols = append(cols, flagOf(st), firingOf(st), age(now, r.CreatedAt), age(now, r.UpdatedAt), msg)
		} else {
			cols = append(cols, age(now, r.CreatedAt), msg)
		}
		fmt.Fprintln(tw, strings.TrimRight(strings.Join(cols, "\t"), "\t"))
	}
	return tw.Flush()
}

// messageWidth is how much of MESSAGE -o table shows (-o wide: all).
const messageWidth = 60

// nameList prints one addressable name per line: "namespace/name@GEN",
// which describe, events, report and delete take.
func nameList(w io.Writer, list []api.Rollout) error {
	for _, r := range list {
		if _, err := fmt.Fprintln(w, api.WithGeneration(r.Name, r.Generation)); err != nil {
			return err
		}
	}
	return nil
}

// stepOf is "2/3", or "-" before traffic moved.
func stepOf(r api.Rollout) string {
	if !moved(r.State) {
		return "-"
	}
	steps := 0
	if r.Plan != nil {
		steps = len(r.Plan.Spec.Steps)
	}
	return fmt.Sprintf("%d/%d", r.State.Step+1, steps)
}

// flagOf is the confirmed flag: "25%", "off" or "-" without a flag.
func flagOf(st canary.State) string {
	switch {
	case st.FlagEnabled:
		return fmt.Sprintf("%d%%", st.FlagPercent)
	case st.FlagPercent > 0:
		return "off"
	}
	return "-"
}

// firingOf is the number of firing rules of all: "1/3".
func firingOf(st canary.State) string {
	n := 0
	for _, r := range st.Rules {
		if r.Firing {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(st.Rules))
}

// rolloutMessage is why the rollout is where it is: the reason of a
// pause, the rule (or command) that started a rollback, a failing
// action, a firing rule, or an approval being waited for; "" when it is
// simply progressing.
func rolloutMessage(st canary.State) string {
	switch st.Phase {
	case canary.PhasePaused:
		return firstOf(st.PauseReason, "paused")
	case canary.PhaseRollingBack, canary.PhaseRolledBack:
		return st.RollbackReason
	case canary.PhaseFailed:
		return st.LastError
	}
	if st.LastError != "" {
		return "action failing: " + st.LastError
	}
	for _, r := range st.Rules {
		if r.Firing {
			return r.Name + " firing"
		}
	}
	if st.HoldDone && !st.Approved && !st.ApprovalSince.IsZero() {
		return "waiting for approval"
	}
	return ""
}

// cut shortens s to n runes with an ellipsis, on one line.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
