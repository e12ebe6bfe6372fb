package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/canary-dev/canary/api"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/client"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// The client commands' defaults and environment variables.
const (
	defaultServer = "http://127.0.0.1:7070"
	envServer     = "CANARY_SERVER"
	envToken      = "CANARY_TOKEN"
	envNamespace  = "CANARY_NAMESPACE"
)

// newCtlCmds returns the kubectl-style client commands of `canary serve`:
// apply, get, describe, events, pause, resume, promote, approve, abort,
// retry, report and delete. Each takes --server, --token and -n.
func newCtlCmds(stdout, stderr io.Writer) []*cobra.Command {
	return (&ctl{stdout: stdout, stderr: stderr, now: time.Now, getenv: os.Getenv}).cmds()
}

// ctl holds what the client commands share; tests replace the clock,
// the environment and the HTTP client.
type ctl struct {
	stdout, stderr io.Writer
	now            func() time.Time
	getenv         func(string) string
	httpClient     *http.Client
}

// ctlFlags are the flags every client command has.
type ctlFlags struct {
	server, token, namespace string
	// kube, on the commands that take --kube, selects Rollout resources
	// on a Kubernetes API server instead of canary serve.
	kube *kubeFlags
	// generation, on the commands that take --generation, names one
	// generation of NAME (0: the latest), as NAME@GEN does.
	generation int
}

func (x *ctl) cmds() []*cobra.Command {
	cmds := []*cobra.Command{x.applyCmd(), x.getCmd(), x.describeCmd(), x.eventsCmd(), x.reportCmd(), x.deleteCmd()}
	return append(cmds, x.controlCmds()...)
}

// connection adds the connection flags to c.
func (x *ctl) connection(c *cobra.Command) *ctlFlags {
	f := &ctlFlags{}
	c.Flags().StringVar(&f.server, "server", "", "URL of canary serve (env "+envServer+"; default "+defaultServer+")")
	c.Flags().StringVar(&f.token, "token", "", "API bearer token (env "+envToken+", which keeps it out of the process list)")
	c.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace of NAME when NAME has none (env "+envNamespace+"; default "+canary.DefaultNamespace+")")
	return f
}

// client builds the API client from the flags, then the environment.
func (x *ctl) client(f *ctlFlags) (*client.Client, error) {
	server := firstOf(f.server, x.getenv(envServer), defaultServer)
	c, err := client.New(server, firstOf(f.token, x.getenv(envToken)), x.httpClient)
	if err != nil {
		return nil, usageError{fmt.Errorf("--server: %w", err)}
	}
	return c, nil
}

// kubeTarget adds --kube, --kubeconfig and --context to c, a command
// that works on Rollout resources too.
func (x *ctl) kubeTarget(c *cobra.Command, f *ctlFlags) {
	f.kube = &kubeFlags{wait: 30 * time.Second}
	addKubeTargetFlags(c, f.kube)
}

// rollouts is canary serve's API, or with --kube the Rollout resources of
// the Kubernetes API server (in -n's namespace when given, else all).
func (x *ctl) rollouts(f *ctlFlags) (rollouts, error) {
	if f.kube != nil && f.kube.selected() {
		if f.server != "" {
			return nil, usageError{fmt.Errorf("--server and --kube name two different places: give one")}
		}
		return newKubeRollouts(f.kube, firstOf(f.namespace, x.getenv(envNamespace)))
	}
	return x.client(f)
}

// name is NAME as "namespace/name": as given when it has a slash, else in
// -n (or CANARY_NAMESPACE, or default).
func (x *ctl) name(f *ctlFlags, arg string) string {
	if strings.Contains(arg, "/") {
		return arg
	}
	return firstOf(f.namespace, x.getenv(envNamespace), canary.DefaultNamespace) + "/" + arg
}

// generationFlag adds --generation to c, a command that reads (or
// deletes) one generation of a rollout.
func generationFlag(c *cobra.Command, f *ctlFlags) {
	c.Flags().IntVar(&f.generation, "generation", 0,
		"one generation of NAME (as NAME@GEN does; default: the latest, and for delete all of them)")
}

// target is NAME as "namespace/name", or "namespace/name@GEN" for one
// generation (given as NAME@GEN or --generation). With --kube a Rollout
// keeps one state, so a generation is refused.
func (x *ctl) target(f *ctlFlags, arg string) (string, error) {
	base, gen, err := api.SplitGeneration(x.name(f, arg))
	if err != nil {
		return "", usageError{err}
	}
	switch g := f.generation; {
	case g < 0:
		return "", usageError{fmt.Errorf("--generation %d: generations count from 1", g)}
	case g > 0 && gen > 0 && g != gen:
		return "", usageError{fmt.Errorf("%s and --generation %d name two different generations: give one", arg, g)}
	case g > 0:
		gen = g
	}
	if gen > 0 && f.kube != nil && f.kube.selected() {
		return "", usageError{fmt.Errorf("%s: a Rollout resource keeps one state (its latest generation), so --kube has no generation %d to show; "+
			"generations are kept by canary serve", arg, gen)}
	}
	return api.WithGeneration(base, gen), nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// completeNames completes NAME with the server's (or, with --kube, the
// cluster's) rollouts.
func (x *ctl) completeNames(f *ctlFlags) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cl, err := x.rollouts(f)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ctx, cancel := context.WithTimeout(c.Context(), 3*time.Second)
		defer cancel()
		list, err := cl.List(ctx, api.ListOptions{Limit: 1000})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names := make([]cobra.Completion, 0, len(list))
		for _, r := range list {
			names = append(names, cobra.CompletionWithDesc(r.Name, string(r.State.Phase)))
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// outputFlag adds -o with the formats allowed ("" is the default text).
func outputFlag(c *cobra.Command, p *string, formats ...string) {
	c.Flags().StringVarP(p, "output", "o", "", "output format: "+strings.Join(formats, " or ")+" (default: text for people)")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
}

// checkOutput refuses an -o that is not one of formats.
func checkOutput(o string, formats ...string) error {
	if o == "" {
		return nil
	}
	for _, f := range formats {
		if o == f {
			return nil
		}
	}
	return usageError{fmt.Errorf("-o %q: use %s", o, strings.Join(formats, " or "))}
}

// printData writes v as indented JSON or as YAML with the JSON field
// names.
func printData(w io.Writer, format string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "> 600ms", not "\u003e 600ms"
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return canary.Errorf(canary.EINTERNAL, "encode output: %v", err)
	}
	data := buf.Bytes()
	if format == "json" {
		_, err := w.Write(data)
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return canary.Errorf(canary.EINTERNAL, "encode output: %v", err)
	}
	out, err := yaml.Marshal(numbers(tree))
	if err != nil {
		return canary.Errorf(canary.EINTERNAL, "encode output as YAML: %v", err)
	}
	_, err = w.Write(out)
	return err
}

// numbers turns json.Numbers into int64 or float64, so YAML writes 30000000000,
// not a string or 3e+10.
func numbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = numbers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = numbers(x)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// age is how long ago t was, to the largest unit: 45s, 12m, 3h, 2d.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
