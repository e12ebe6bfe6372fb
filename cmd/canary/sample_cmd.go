package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/sample"
	"github.com/spf13/cobra"
)

// trackFlags are one sample service's flags.
type trackFlags struct {
	addr, version, errors string
	median, p95           time.Duration
}

// config is the sample.Config the flags describe.
func (t trackFlags) config(name string, seed int64) (sample.Config, error) {
	rate, err := canary.ParsePercent(t.errors)
	if err != nil {
		return sample.Config{}, usageError{fmt.Errorf("--%s-errors: %w", name, err)}
	}
	lat := sample.LatencyDist{Median: t.median, P95: t.p95}
	if err := lat.Validate(); err != nil {
		return sample.Config{}, usageError{fmt.Errorf("--%s-latency/--%s-p95: %w", name, name, err)}
	}
	return sample.Config{Name: "sample", Version: t.version, Latency: lat, ErrorRate: rate, Seed: seed}, nil
}

// newSampleCmd is `canary sample`: the demo's sample backends.
func newSampleCmd() *cobra.Command {
	st := trackFlags{addr: "127.0.0.1:9001", version: "v1", errors: "0.02%", median: fast.Median, p95: fast.P95}
	cn := trackFlags{addr: "127.0.0.1:9002", version: "v2", errors: "0.02%", median: fast.Median, p95: fast.P95}
	var duration time.Duration
	c := &cobra.Command{
		Use:   "sample",
		Short: "Serve a sample stable and canary backend on this machine (the demo's)",
		Long: `Sample serves two sample backends on loopback addresses, a stable and a
canary, the ones canary demo uses: every request (but /elite/metrics and
/elite/system-status, the runbook's pre-check endpoints) is answered with
{"service": "sample", "version": V} after a latency drawn from a lognormal
of the given median and P95, or with a 500/503 at the given error rate.
Make a bad canary with --canary-errors or --canary-latency. It serves until
Ctrl-C (or --duration), then prints what each answered. Addresses must be
on this machine (127.0.0.0/8, ::1, localhost); an empty one skips that
backend.`,
		Example: `  canary sample                                   # stable on :9001, canary on :9002, both healthy
  canary sample --canary-errors 8%                # a canary whose errors roll it back at once
  canary sample --canary-latency 450ms --canary-p95 800ms   # a slow canary
  canary sample --stable 127.0.0.1:7001 --canary 127.0.0.1:7002 --duration 10m`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runSample(c.Context(), c.OutOrStdout(), st, cn, duration)
		},
	}
	f := c.Flags()
	for _, t := range []struct {
		name string
		tf   *trackFlags
	}{{"stable", &st}, {"canary", &cn}} {
		f.StringVar(&t.tf.addr, t.name, t.tf.addr, "listen address of the "+t.name+" (loopback; empty: none)")
		f.StringVar(&t.tf.version, t.name+"-version", t.tf.version, "version the "+t.name+" answers with")
		f.StringVar(&t.tf.errors, t.name+"-errors", t.tf.errors, "share of the "+t.name+"'s answers that are 500/503, e.g. 5%")
		f.DurationVar(&t.tf.median, t.name+"-latency", t.tf.median, "median latency of the "+t.name)
		f.DurationVar(&t.tf.p95, t.name+"-p95", t.tf.p95, "P95 latency of the "+t.name+" (at least the median; 0: every answer takes the median)")
	}
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: at Ctrl-C)")
	return c
}

// runSample serves the backends until ctx is done or duration passes.
func runSample(ctx context.Context, w io.Writer, st, cn trackFlags, duration time.Duration) error {
	if duration < 0 {
		return usageError{fmt.Errorf("--duration %s: want 0 (until Ctrl-C) or more", duration)}
	}
	if st.addr == "" && cn.addr == "" {
		return usageError{fmt.Errorf("--stable and --canary are both empty: nothing to serve")}
	}
	for _, a := range []string{st.addr, cn.addr} {
		if a == "" {
			continue
		}
		if err := sample.CheckAddr(a); err != nil {
			return usageError{err}
		}
	}
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	type served struct {
		name string
		srv  *sample.Server
	}
	var all []served
	for i, t := range []struct {
		name string
		tf   trackFlags
	}{{"stable", st}, {"canary", cn}} {
		if t.tf.addr == "" {
			continue
		}
		cfg, err := t.tf.config(t.name, int64(i+1))
		if err != nil {
			return err
		}
		srv, err := sample.Start(ctx, t.tf.addr, cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		defer srv.Close()
		all = append(all, served{t.name, srv})
		fmt.Fprintf(w, "%s %s on %s (latency median %s, p95 %s; %s errors)\n", t.name, cfg.Version, srv.URL(),
			canary.FormatDuration(cfg.Latency.Median), canary.FormatDuration(cfg.Latency.P95), canary.FormatPercent(cfg.ErrorRate))
	}
	fmt.Fprintln(w, "serving until Ctrl-C")
	<-ctx.Done()
	for _, s := range all {
		_ = s.srv.Close()
		st := s.srv.Service().Stats()
		fmt.Fprintf(w, "%s: %d requests answered, %d with 5xx, %d canceled\n", s.name, st.Requests, st.Errors, st.Canceled)
	}
	return nil
}
