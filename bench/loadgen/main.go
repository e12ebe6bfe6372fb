// Command loadgen is the proxy benchmark's open-loop, constant-rate HTTP
// load generator (wrk has no rate limit): a thin front to package loadgen,
// which `canary loadgen` and `canary demo` use too. Request i is due at
// start + i/rate whatever happened to earlier requests. A request sent on
// time is timed from when it was sent; one sent late because every slot
// was busy is timed from when it was due, so a stall shows in the
// latencies (no coordinated omission).
//
// It only talks to the loopback interface and is bounded in count
// (rate×duration, at most 10 million) and in time (duration at most 5m,
// plus the request timeout).
//
//	loadgen -url http://127.0.0.1:9400/ -rate 20000 -duration 10s
//
// It prints one line: rate, sent, ok (2xx), errors (anything else),
// achieved rate, latency percentiles in microseconds (to 1.6%, the
// package's histogram), and how many requests left late.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/canary-dev/canary/loadgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func parse(args []string) (loadgen.Config, error) {
	c := loadgen.Config{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&c.Target, "url", "", "target URL on 127.0.0.1, localhost or [::1]")
	fs.Float64Var(&c.Rate, "rate", 1000, "requests per second")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to send (at most 5m)")
	fs.DurationVar(&c.Warmup, "warmup", time.Second, "initial time whose requests are sent but not measured")
	fs.IntVar(&c.Concurrency, "workers", 256, "concurrent requests at most")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Second, "per-request timeout")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.Rate <= 0 || c.Duration <= 0 || c.Duration > 5*time.Minute:
		return c, errors.New("want -rate > 0 and 0 < -duration ≤ 5m")
	case c.Rate*c.Duration.Seconds() > 10e6:
		return c, errors.New("rate×duration above 10 million requests")
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return c, errors.New("want 1 ≤ -workers ≤ 4096")
	case c.Warmup < 0 || c.Warmup >= c.Duration:
		return c, errors.New("want 0 ≤ -warmup < -duration")
	}
	// The count bounds the run; the time bound only stops a run that
	// fell far behind (every due request is sent, late ones timed from
	// when they were due).
	c.MaxRequests = int(c.Rate * c.Duration.Seconds())
	c.Duration += c.Timeout
	return c, nil
}

func run(args []string) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	res, err := loadgen.Run(context.Background(), c)
	if err != nil {
		return err
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	l := res.Latency
	sent := res.Requests + res.Canceled
	fmt.Printf("rate=%.0f sent=%d ok=%d errors=%d achieved=%.0f measured=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f late=%d\n",
		c.Rate, sent, res.Status2xx, sent-res.Status2xx, float64(sent)/res.Elapsed.Seconds(),
		l.Count, us(l.P50), us(l.P90), us(l.P99), us(l.P999), us(l.Max), res.Late)
	if res.LastError != "" {
		fmt.Fprintln(os.Stderr, "loadgen: last error:", res.LastError)
	}
	return nil
}
