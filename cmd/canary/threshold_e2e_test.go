//go:build !race

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/sample"
)

// Threshold rules end to end (issue 15): the runbook's matrix scaled
// 1 min → 2 s (30s interval → 1s, for 5m → 10s, 2m → 4s, 1m → 2s,
// 10m → 20s), holds of 20s, the built-in proxy in front of real sample
// backends on 127.0.0.1, real load from package loadgen, in real time.
// Every scenario runs several times at once and every run must decide
// right; a canary serve process must roll a dead canary back by itself.
// Only in the non-race, non-short pass: about 100s of wall time once the
// binary is built.
const thresholdPlanText = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: e2e}
spec:
  version: v2
  traffic: {proxy: {listen: "%s", stable: "%s", canary: "%s"}}
  steps:
    - {weight: 5, hold: 20s}
    - {weight: 10, hold: 20s}
    - {weight: 25, hold: 20s}
    - {weight: 50, hold: 20s}
    - {weight: 100}
  analysis: {interval: 1s}
  slo: {objective: 99.9%%, latencyP95: 600ms, errorRate: 1%%}
  rules:
    - {metric: latencyP95, above: 600ms, for: 10s, action: rollback-gradual, urgency: medium}
    - {metric: latencyP95, above: 1000ms, for: 4s, action: rollback-immediate, urgency: high}
    - {metric: errorRate, above: 1%%, for: 10s, action: rollback-gradual, urgency: medium}
    - {metric: errorRate, above: 5%%, for: 2s, action: rollback-immediate, urgency: critical}
    - {metric: burnRate, above: 2x, for: 20s, action: rollback-gradual, urgency: medium}
    - {metric: burnRate, above: 5x, for: 4s, action: rollback-immediate, urgency: high}
  rollback: {drain: 1s}
`

// Outcomes a threshold scenario expects.
const (
	wantPromoted  = "promoted"
	wantImmediate = "rolled back immediately"
	wantRollback  = "rolled back"
)

// thresholdCase is one scenario: load at rps through the proxy, a stable
// and a canary sample backend; the canary's port closes at closeAt when
// set (the fault's start is then the close).
type thresholdCase struct {
	name    string
	rps     float64
	canary  sample.Config
	closeAt time.Duration
	faultAt time.Duration // when the canary's fault starts (0: from the start)
	want    string
}

// thresholdRuns is how many times each scenario runs (all at once).
const thresholdRuns = 3

// thresholdRun is what one run of a scenario ended with.
type thresholdRun struct {
	c      thresholdCase
	begin  time.Time
	code   int
	evs    []canary.Event
	load   loadgen.Result
	stderr string
	err    error
}

// TestThresholdRulesEndToEnd runs every scenario thresholdRuns times, all
// at once (goroutines: t.Parallel would run only GOMAXPROCS of them at a
// time), then checks each run in its own subtest.
func TestThresholdRulesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time end to end: about 100s")
	}
	fast := sample.LatencyDist{Median: 2 * time.Millisecond, P95: 8 * time.Millisecond}
	cases := []thresholdCase{
		{name: "dead canary at 50 req/s", rps: 50, canary: sample.Config{Latency: fast, ErrorRate: 0.001},
			closeAt: 10 * time.Second, faultAt: 10 * time.Second, want: wantImmediate},
		{name: "healthy at 400 req/s", rps: 400, canary: sample.Config{Latency: fast, ErrorRate: 0.001}, want: wantPromoted},
		{name: "20% errors from mid-step at 400 req/s", rps: 400, faultAt: 10 * time.Second, want: wantImmediate,
			canary: sample.Config{Latency: fast, ErrorRate: 0.001, Faults: []sample.Fault{{From: 10 * time.Second, ErrorRate: 0.2}}}},
		{name: "6% errors at 400 req/s", rps: 400, canary: sample.Config{Latency: fast, ErrorRate: 0.06}, want: wantRollback},
	}
	bin := buildCanary(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 15))
	var wg sync.WaitGroup
	runs := make([]thresholdRun, 0, len(cases)*thresholdRuns)
	for _, c := range cases {
		for range thresholdRuns {
			runs = append(runs, thresholdRun{c: c})
		}
	}
	for i := range runs {
		listen, dir := lowAddr(t, rng), t.TempDir()
		wg.Go(func() { runs[i] = runThresholdCase(t.Context(), bin, listen, dir, runs[i].c, i) })
	}
	wg.Go(func() {
		t.Run("serve rolls back a dead canary at 250 req/s", func(t *testing.T) { serveDeadCanary(t, bin, rng) })
	})
	wg.Wait()
	for i, run := range runs {
		t.Run(fmt.Sprintf("%s/%d", run.c.name, i), func(t *testing.T) {
			if run.err != nil {
				t.Fatal(run.err)
			}
			t.Logf("exit %d; load for %s: %d requests (canary %d, %d 5xx; stable %d 5xx; %d without answer); %s", run.code,
				run.load.Elapsed.Round(100*time.Millisecond), run.load.Requests, run.load.Tracks["canary"].Requests,
				run.load.Tracks["canary"].Status5xx, run.load.Tracks["stable"].Status5xx, run.load.Errors, outcomeLine(run.evs, run.begin))
			if rate := float64(run.load.Requests) / run.load.Elapsed.Seconds(); rate < 0.75*run.c.rps {
				t.Errorf("the load generator sent %.0f req/s of the %g asked: this machine was too busy to run the scenario as written", rate, run.c.rps)
			}
			checkThresholdOutcome(t, run.c, run.code, run.evs, run.begin, run.stderr)
		})
	}
}

// runThresholdCase runs canary run on one scenario in dir, proxying on
// listen, and returns how it ended.
func runThresholdCase(ctx context.Context, bin, listen, dir string, c thresholdCase, i int) (run thresholdRun) {
	run.c = c
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	stable, err := sample.Start(ctx, "", sample.Config{Latency: c.canary.Latency, ErrorRate: 0.001, Seed: int64(2*i + 1)})
	if err != nil {
		run.err = err
		return run
	}
	cfg := c.canary
	cfg.Seed = int64(2*i + 2)
	run.begin = time.Now() // the canary's faults count from its start, a moment later
	can, err := sample.Start(ctx, "", cfg)
	if err != nil {
		run.err = err
		return run
	}
	file := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, thresholdPlanText, fmt.Sprintf("threshold-%d", i), listen, stable.URL(), can.URL()), 0o600); err != nil {
		run.err = err
		return run
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "run", "-o", "json", "--state", filepath.Join(dir, "s.db"), file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		run.err = err
		return run
	}
	waitListening(ctx, listen)
	gen, err := loadgen.Start(ctx, loadgen.Config{Target: "http://" + listen + "/", Rate: c.rps, Duration: 3 * time.Minute})
	if err != nil {
		run.err = err
		return run
	}
	if c.closeAt > 0 {
		closer := time.AfterFunc(time.Until(run.begin.Add(c.closeAt)), func() { _ = can.Close() })
		defer closer.Stop()
	}
	runErr := cmd.Wait()
	run.load, run.stderr = gen.Stop(), stderr.String()
	if ee := (*exec.ExitError)(nil); errors.As(runErr, &ee) {
		run.code = ee.ExitCode()
	} else if runErr != nil {
		run.err = fmt.Errorf("canary run: %v\n%s", runErr, stderr.String())
		return run
	}
	run.evs, run.err = decodeEvents(stdout.Bytes())
	return run
}

// waitListening waits until something accepts connections on addr (the
// proxy of a starting canary run), so the load does not begin with
// refused requests; at most 30s.
func waitListening(ctx context.Context, addr string) {
	for range 600 {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// decodeEvents reads canary run's JSON event lines.
func decodeEvents(out []byte) ([]canary.Event, error) {
	var evs []canary.Event
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var ev canary.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return evs, fmt.Errorf("not a JSON event line: %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// checkThresholdOutcome checks a run's exit code and events against the
// scenario's expected outcome.
func checkThresholdOutcome(t *testing.T, c thresholdCase, code int, evs []canary.Event, begin time.Time, stderr string) {
	t.Helper()
	rb, promoted, paused := firstEvent(evs, canary.EvRollbackStarted), firstEvent(evs, canary.EvPromoted), firstEvent(evs, canary.EvPaused)
	if paused != nil {
		t.Errorf("paused: %s", paused.Message)
	}
	switch c.want {
	case wantPromoted:
		if code != ExitPromoted || promoted == nil || rb != nil {
			t.Fatalf("want promoted; exit %d, %s\nstderr: %s", code, outcomeLine(evs, begin), stderr)
		}
	case wantImmediate, wantRollback:
		if code != ExitRolledBack || rb == nil || promoted != nil {
			t.Fatalf("want %s; exit %d, %s\nstderr: %s", c.want, code, outcomeLine(evs, begin), stderr)
		}
		if c.want == wantImmediate && !strings.HasPrefix(rb.Message, "🚨 ROLLBACK INITIATED (immediate)") {
			t.Errorf("rolled back, but not immediately: %s", rb.Message)
		}
		if rb.Time.Before(begin.Add(c.faultAt)) {
			t.Errorf("rolled back %s after the start, before the fault began (%s): %s",
				rb.Time.Sub(begin).Round(time.Millisecond), c.faultAt, rb.Message)
		}
		if c.faultAt > 0 && rb.Step != 0 {
			t.Errorf("the fault began mid-way through the first step (hold 20s), but the rollback came at step %d: %s", rb.Step, rb.Message)
		}
	}
}

func firstEvent(evs []canary.Event, typ canary.EventType) *canary.Event {
	for i := range evs {
		if evs[i].Type == typ {
			return &evs[i]
		}
	}
	return nil
}

// outcomeLine says how a run ended, for logs and failures.
func outcomeLine(evs []canary.Event, begin time.Time) string {
	for _, typ := range []canary.EventType{canary.EvRollbackStarted, canary.EvPromoted, canary.EvPaused} {
		if ev := firstEvent(evs, typ); ev != nil {
			return fmt.Sprintf("%s at %s, step %d, weight %d: %s", typ, ev.Time.Sub(begin).Round(10*time.Millisecond), ev.Step, ev.Weight, ev.Message)
		}
	}
	if len(evs) == 0 {
		return "no events"
	}
	last := evs[len(evs)-1]
	return fmt.Sprintf("last event %s: %s", last.Type, last.Message)
}

// serveDeadCanary: a real canary serve process takes the matrix plan
// through its API; the canary's backend is down (nothing listens on its
// port, so the proxy answers 502), 250 req/s reach the proxy, the first
// step is 5%: the rollout rolls back by itself, immediately, without a
// pause and without anyone's command.
func serveDeadCanary(t *testing.T, bin string, rng *rand.Rand) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	stable, err := sample.Start(ctx, "", sample.Config{ErrorRate: 0.001, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	r := &crashRig{t: t, bin: bin, dir: t.TempDir(), api: lowAddr(t, rng)}
	listen, dead := lowAddr(t, rng), lowAddr(t, rng)
	file := filepath.Join(r.dir, "dead.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, thresholdPlanText, "dead", listen, stable.URL(), "http://"+dead), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start(filepath.Join(r.dir, "serve.db"))
	defer r.stop()
	begin := time.Now()
	if !r.apply(file) {
		t.Fatal("canary serve did not take the plan")
	}
	waitListening(ctx, listen)
	gen, err := loadgen.Start(ctx, loadgen.Config{Target: "http://" + listen + "/", Rate: 250, Duration: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r.waitFinished(1, 90*time.Second)
	load := gen.Stop()
	code, body := r.call(http.MethodGet, "/api/v1/rollouts/e2e/dead/events?limit=1000", nil)
	if code != http.StatusOK {
		t.Fatalf("events: %d %s", code, body)
	}
	var page struct {
		Items []canary.Event `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	evs := page.Items
	t.Logf("serve: %s; load %d requests (canary %d, %d 5xx)", outcomeLine(evs, begin), load.Requests,
		load.Tracks["canary"].Requests, load.Tracks["canary"].Status5xx)
	if ph := r.phases()["e2e/dead"]; ph != canary.PhaseRolledBack {
		t.Errorf("phase %s, want RolledBack", ph)
	}
	checkThresholdOutcome(t, thresholdCase{want: wantImmediate}, ExitRolledBack, evs, begin, "see "+filepath.Join(r.dir, "serve.log"))
	if rb := firstEvent(evs, canary.EvRollbackStarted); rb != nil && (rb.Step != 0 || rb.Weight != 5) {
		t.Errorf("rolled back at step %d, weight %d; want the first step at 5%%", rb.Step, rb.Weight)
	}
}
