// Command rollouts measures canary's manager and store at scale: N
// concurrent rollouts on synthetic providers (a no-op router and flag
// store, a metric source that always passes), each evaluated every
// -interval, for several N side by side.
//
//	go run ./bench/rollouts -n 100,1000,10000 -duration 60s
//
// Each size runs in a child process of its own (so CPU time and RSS are
// that size's alone) over a fresh SQLite file in -db (default: a temporary
// directory, removed afterwards):
//
//  1. apply N plans (6 rules, a 1h first step so every rollout stays
//     Progressing), wait until each has been evaluated once, then -warmup;
//  2. the window (-duration): process CPU time (getrusage) ÷ evaluations,
//     evaluations/s against the N/interval due, committed events/s,
//     commit latency p50/p99 (store.Config.OnCommit), peak RSS;
//  3. memory: live heap after a GC and RSS, ÷ N;
//  4. restart: stop the manager, close the store, reopen both and Start;
//     resume is the time from the reopen until every rollout has made its
//     next evaluation (at most one interval of it is the schedule's).
//
// The table goes to stdout; -profile DIR writes cpu-N.pprof (the window),
// heap-N.pprof and goroutines-N.txt (the goroutines counted by stack,
// after it).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := Run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rollouts:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	sizes    []int
	duration time.Duration
	warmup   time.Duration
	interval time.Duration
	dir      string
	profile  string
	child    bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("rollouts", flag.ContinueOnError)
	n := fs.String("n", "100,1000,10000", "comma-separated numbers of concurrent rollouts")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "steady-state measurement window per size")
	fs.DurationVar(&o.warmup, "warmup", 10*time.Second, "steady state before the window")
	fs.DurationVar(&o.interval, "interval", time.Second, "each rollout's evaluation interval (analysis.interval)")
	fs.StringVar(&o.dir, "db", "", "directory for the SQLite files (default: a temporary directory, removed)")
	fs.StringVar(&o.profile, "profile", "", "directory for CPU (window) and heap profiles")
	fs.BoolVar(&o.child, "child", false, "run one size and print its result as JSON (internal)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, f := range strings.Split(*n, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return o, fmt.Errorf("-n: %q is not a positive number", f)
		}
		o.sizes = append(o.sizes, v)
	}
	if o.child && len(o.sizes) != 1 {
		return o, errors.New("-child runs exactly one size")
	}
	if o.interval <= 0 || o.duration <= 0 {
		return o, errors.New("-interval and -duration must be positive")
	}
	return o, nil
}

// Run runs the benchmark for every size and writes the table to w.
func Run(ctx context.Context, args []string, w io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "canary-rollouts-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dir)
	}
	if o.child {
		res, err := runSize(ctx, o, o.sizes[0])
		if err != nil {
			return err
		}
		return json.NewEncoder(w).Encode(res)
	}
	var results []result
	for _, n := range o.sizes {
		res, err := runChild(ctx, o, n)
		if err != nil {
			return fmt.Errorf("%d rollouts: %w", n, err)
		}
		results = append(results, res)
	}
	printTable(w, o, results)
	return nil
}

// runChild runs one size in a child process of this binary.
func runChild(ctx context.Context, o options, n int) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	args := []string{"-child", "-n", strconv.Itoa(n), "-duration", o.duration.String(),
		"-warmup", o.warmup.String(), "-interval", o.interval.String(), "-db", o.dir}
	if o.profile != "" {
		args = append(args, "-profile", o.profile)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return result{}, err
	}
	var res result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return result{}, fmt.Errorf("child output %q: %w", out.String(), err)
	}
	return res, nil
}

// dbPath is size n's database file.
func dbPath(o options, n int) string {
	return filepath.Join(o.dir, fmt.Sprintf("rollouts-%d.db", n))
}
