package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/loadgen"
	"github.com/spf13/cobra"
)

// Bounds of canary loadgen: a run is bounded in time and rate.
const (
	maxLoadDuration = time.Hour
	maxLoadRate     = 100000
)

// loadFlags are canary loadgen's flags.
type loadFlags struct {
	rate                float64
	duration, progress  time.Duration
	connections, users  int
	header, method, out string
}

// newLoadgenCmd is `canary loadgen URL`: the bundled load generator.
func newLoadgenCmd() *cobra.Command {
	f := loadFlags{rate: 100, duration: time.Minute, progress: 5 * time.Second, connections: loadgen.DefaultConcurrency,
		users: 1000, header: loadgen.DefaultUserHeader, method: "GET", out: "text"}
	c := &cobra.Command{
		Use:   "loadgen URL",
		Short: "Send bounded load at a constant rate to a URL on this machine",
		Long: `Loadgen sends requests to URL at a constant rate (open loop: request i is
due at start + i/rate, whatever became of the earlier ones) with at most
--connections in flight, for --duration. Each request carries a user key
(--header: user-0 .. user-N-1 of --users) so canary's sticky proxy keeps
a user on one track. Every --progress it prints what it has sent so far
to stderr; at the end, a summary: requests by status class, by track (the
X-Canary-Track header canary's proxy sets), latency percentiles and how
many requests left late (the machine or --connections could not keep up).

The URL must be on this machine (127.0.0.0/8, ::1, localhost), the run
lasts at most 1h at most 100,000 requests/s, and redirects are not
followed. Exit code 0 when some request was answered, 5 when none was
(nothing listening).`,
		Example: `  canary loadgen --rate 100 --duration 5m http://127.0.0.1:8080/   # README's "Try a plan by hand"
  canary loadgen --rate 1000 --duration 30s --connections 128 http://127.0.0.1:8080/api
  canary loadgen --rate 50 --duration 1m -o json http://127.0.0.1:9001/ > result.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runLoadgen(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), args[0], f)
		},
	}
	fl := c.Flags()
	fl.Float64Var(&f.rate, "rate", f.rate, "requests per second")
	fl.DurationVar(&f.duration, "duration", f.duration, "how long to send (at most 1h)")
	fl.IntVar(&f.connections, "connections", f.connections, "most requests in flight at once")
	fl.IntVar(&f.users, "users", f.users, "number of user keys (0: no user header)")
	fl.StringVar(&f.header, "header", f.header, "header carrying the user key")
	fl.StringVar(&f.method, "method", f.method, "HTTP method")
	fl.DurationVar(&f.progress, "progress", f.progress, "how often to print progress to stderr (0: never)")
	fl.StringVarP(&f.out, "output", "o", f.out, "summary format: text or json")
	return c
}

// check refuses flags outside the bounds.
func (f loadFlags) check() error {
	switch {
	case !(f.rate > 0 && f.rate <= maxLoadRate):
		return usageError{fmt.Errorf("--rate %v: want more than 0, at most %d requests/s", f.rate, maxLoadRate)}
	case f.duration <= 0 || f.duration > maxLoadDuration:
		return usageError{fmt.Errorf("--duration %s: want more than 0, at most %s", f.duration, maxLoadDuration)}
	case f.connections < 1 || f.connections > 10000:
		return usageError{fmt.Errorf("--connections %d: want 1 to 10000", f.connections)}
	case f.users < 0 || f.progress < 0:
		return usageError{fmt.Errorf("--users %d and --progress %s must not be negative", f.users, f.progress)}
	case f.out != "text" && f.out != "json":
		return usageError{fmt.Errorf("--output %q: use text or json", f.out)}
	}
	return nil
}

// runLoadgen sends the load, printing progress to errw and the summary to w.
func runLoadgen(ctx context.Context, w, errw io.Writer, target string, f loadFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	g, err := loadgen.Start(ctx, loadgen.Config{Target: target, Method: f.method, Rate: f.rate, Concurrency: f.connections,
		Users: f.users, Header: f.header, Duration: f.duration})
	if err != nil {
		return usageError{err}
	}
	fmt.Fprintf(errw, "sending %s requests/s to %s for %s\n", num(f.rate), target, canary.FormatDuration(f.duration))
	var tick <-chan time.Time
	if f.progress > 0 {
		t := time.NewTicker(f.progress)
		defer t.Stop()
		tick = t.C
	}
	for done := false; !done; {
		select {
		case <-g.Done():
			done = true
		case <-ctx.Done():
			g.Stop()
			done = true
		case <-tick:
			fmt.Fprintln(errw, "  "+loadLine(g.Snapshot()))
		}
	}
	res := g.Snapshot()
	if f.out == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		writeLoadSummary(w, res, f.rate)
	}
	if res.Requests > 0 && res.Requests == res.Errors {
		return &outcomeError{code: ExitUnavailable, msg: "no request was answered: " + res.LastError}
	}
	return nil
}

// loadLine is one progress line: time, requests, status classes, tracks.
func loadLine(r loadgen.Result) string {
	s := fmt.Sprintf("%s: %d answered (%s/s): %s", canary.FormatDuration(r.Elapsed.Round(time.Second)), r.Requests,
		num(float64(r.Requests)/max(r.Elapsed.Seconds(), 1e-9)), statusCounts(r.Counts))
	if t := trackCounts(r); t != "" {
		s += "; " + t
	}
	return s
}

// statusCounts is "2xx N, 5xx M, errors E", without the zero classes.
func statusCounts(c loadgen.Counts) string {
	var parts []string
	for _, p := range []struct {
		name string
		n    int64
	}{{"2xx", c.Status2xx}, {"3xx", c.Status3xx}, {"4xx", c.Status4xx}, {"5xx", c.Status5xx},
		{"other", c.StatusOther}, {"no answer", c.Errors}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.name, p.n))
		}
	}
	if len(parts) == 0 {
		return "none yet"
	}
	return strings.Join(parts, ", ")
}

// trackCounts is "stable N (5xx M), canary N (5xx M)" for the tracks the
// proxy named.
func trackCounts(r loadgen.Result) string {
	var parts []string
	for _, name := range []string{"stable", "canary"} {
		if c, ok := r.Tracks[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %d (5xx %d)", name, c.Requests, c.Status5xx))
		}
	}
	return strings.Join(parts, ", ")
}

// writeLoadSummary prints the run's summary.
func writeLoadSummary(w io.Writer, r loadgen.Result, rate float64) {
	fmt.Fprintf(w, "sent %d requests in %s (%s/s of %s/s asked)\n", r.Requests+r.Canceled,
		canary.FormatDuration(r.Elapsed.Round(100*time.Millisecond)), num(float64(r.Requests)/max(r.Elapsed.Seconds(), 1e-9)), num(rate))
	fmt.Fprintf(w, "  answers: %s\n", statusCounts(r.Counts))
	if t := trackCounts(r); t != "" {
		fmt.Fprintf(w, "  tracks: %s\n", t)
	}
	if l := r.Latency; l.Count > 0 {
		fmt.Fprintf(w, "  latency: p50 %s, p90 %s, p99 %s, max %s\n", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max))
	}
	if r.Late > 0 {
		fmt.Fprintf(w, "  %d requests left more than 1ms late (timed from when they were due)\n", r.Late)
	}
	if r.LastError != "" {
		fmt.Fprintf(w, "  last error: %s\n", r.LastError)
	}
}

// ms writes a latency in milliseconds with up to one decimal.
func ms(d time.Duration) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)), ".0") + "ms"
}
