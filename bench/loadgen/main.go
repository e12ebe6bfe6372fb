// Command loadgen is an open-loop, constant-rate HTTP load generator for
// the proxy benchmark (wrk has no rate limit). Request i is due at
// start + i/rate whatever happened to earlier requests; workers take the
// due requests in turn. A request sent on time is timed from when it was
// sent; one sent late because its worker was still busy is timed from when
// it was due, so a stall shows in the latencies (no coordinated omission).
//
// It only talks to the loopback interface and is bounded in count
// (rate×duration, at most 10 million) and in time (duration at most 5m,
// plus the request timeout).
//
//	loadgen -url http://127.0.0.1:9400/ -rate 20000 -duration 10s
//
// It prints one line: rate, sent, ok, errors, achieved rate, latency
// percentiles in microseconds, and how many requests left late.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type config struct {
	url      string
	rate     float64
	duration time.Duration
	warmup   time.Duration
	workers  int
	timeout  time.Duration
}

func parse(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&c.url, "url", "", "target URL on 127.0.0.1, localhost or [::1]")
	fs.Float64Var(&c.rate, "rate", 1000, "requests per second")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to send (at most 5m)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "initial time whose requests are sent but not measured")
	fs.IntVar(&c.workers, "workers", 256, "concurrent requests at most")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "per-request timeout")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	u, err := url.Parse(c.url)
	if err != nil || u.Scheme != "http" {
		return c, fmt.Errorf("-url %q: want an http URL", c.url)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return c, fmt.Errorf("-url %q: only loopback targets are allowed", c.url)
	}
	switch {
	case c.rate <= 0 || c.duration <= 0 || c.duration > 5*time.Minute:
		return c, errors.New("want -rate > 0 and 0 < -duration ≤ 5m")
	case c.rate*c.duration.Seconds() > 10e6:
		return c, errors.New("rate×duration above 10 million requests")
	case c.workers < 1 || c.workers > 4096:
		return c, errors.New("want 1 ≤ -workers ≤ 4096")
	case c.warmup < 0 || c.warmup >= c.duration:
		return c, errors.New("want 0 ≤ -warmup < -duration")
	}
	return c, nil
}

// result is one worker's tally.
type result struct {
	lat      []time.Duration
	ok, errs int
	late     int
	firstErr error
}

func run(args []string) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	total := int(c.rate * c.duration.Seconds())
	skip := int(c.rate * c.warmup.Seconds())
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: c.timeout}).DialContext,
		MaxIdleConnsPerHost: c.workers,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: c.timeout}
	interval := float64(time.Second) / c.rate
	results := make([]result, c.workers)
	begin := time.Now().Add(50 * time.Millisecond)
	var wg sync.WaitGroup
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[w]
			res.lat = make([]time.Duration, 0, total/c.workers+1)
			for i := w; i < total; i += c.workers {
				due := begin.Add(time.Duration(float64(i) * interval))
				start := due
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
					start = time.Now() // on time: timer overshoot is not the server's
				} else if -d > time.Millisecond {
					res.late++
				}
				err := get(client, c.url)
				lat := time.Since(start)
				if err != nil {
					if res.errs == 0 {
						res.firstErr = err
					}
					res.errs++
					continue
				}
				res.ok++
				if i >= skip {
					res.lat = append(res.lat, lat)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	report(c, results, total, elapsed)
	return nil
}

func get(client *http.Client, u string) error {
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

func report(c config, results []result, total int, elapsed time.Duration) {
	var all []time.Duration
	var ok, errs, late int
	var firstErr error
	for _, r := range results {
		all = append(all, r.lat...)
		ok += r.ok
		errs += r.errs
		late += r.late
		if firstErr == nil {
			firstErr = r.firstErr
		}
	}
	slices.Sort(all)
	pct := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(q*float64(len(all)-1))].Nanoseconds()) / 1e3
	}
	fmt.Printf("rate=%.0f sent=%d ok=%d errors=%d achieved=%.0f measured=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f late=%d\n",
		c.rate, total, ok, errs, float64(ok+errs)/elapsed.Seconds(), len(all), pct(0.5), pct(0.9), pct(0.99), pct(0.999), pct(1), late)
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "loadgen: first error:", firstErr)
	}
}
