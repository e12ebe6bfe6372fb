package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/promql/promqltest"
	"github.com/canary-dev/canary/sample"
)

// promPlan is a seconds-long rollout measured by Prometheus: the default
// queries read the proxy's /metrics on its admin address, scraped every
// second; windows of 10s give rate() about ten points. The latency
// threshold is 2s and the slow canary's median 3s: under the race detector
// on a busy 2-core machine a 5ms backend's P95 was seen at 0.5s (1.7s when
// the load generator fell behind with 256 requests in flight).
const promPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: prom-e2e}
spec:
  version: v2
  traffic:
    proxy: {listen: "%s", admin: "%s", stable: "%s", canary: "%s"}
  featureFlag: {name: release_prom}
  steps:
    - {weight: 20, hold: 5s}
    - {weight: 50, hold: 5s}
    - {weight: 100}
  analysis:
    interval: 1s
    minRequests: 20
    maxHoldExtension: 15s
    metrics: {prometheus: {address: "%s", timeout: 2s}}
  rules:
    - {metric: latencyP95, above: 2s, window: 10s, for: 2s, action: rollback-gradual, urgency: medium}
    - {metric: errorRate, above: 5%%, window: 10s, for: 2s, action: rollback-immediate, urgency: critical}
  rollback: {drain: 1s}
`

var fastLatency = sample.LatencyDist{Median: 5 * time.Millisecond, P95: 20 * time.Millisecond}

// promRollout is a plan on canary's proxy with a Prometheus scraping the
// proxy's admin address and load through the proxy.
type promRollout struct {
	prom  *promqltest.Server
	file  string
	state string
}

func newPromRollout(t *testing.T, can sample.Config) *promRollout {
	t.Helper()
	promqltest.Binary(t)
	ctx := t.Context()
	stable, err := sample.Start(ctx, "", sample.Config{Latency: fastLatency, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	can.Seed = 2
	cs, err := sample.Start(ctx, "", can)
	if err != nil {
		t.Fatal(err)
	}
	listen, admin := freeAddr(t), freeAddr(t)
	r := &promRollout{prom: promqltest.Start(t, promqltest.Options{Targets: []string{admin}})}
	// The admin address listens once canary run starts; wait until
	// Prometheus is trying it every second.
	r.prom.WaitScraping(20 * time.Second)
	dir := t.TempDir()
	r.file, r.state = filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "state.db")
	body := fmt.Sprintf(promPlan, listen, admin, stable.URL(), cs.URL(), r.prom.URL())
	if err := os.WriteFile(r.file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// The slow canary holds about 60 requests in flight.
	gen, err := loadgen.Start(ctx, loadgen.Config{Target: "http://" + listen + "/", Rate: 100, Concurrency: 128, Duration: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gen.Stop() })
	return r
}

// run runs the plan with `canary run -o json`, calling onEvent (if set)
// for each event as it is printed.
func (r *promRollout) run(t *testing.T, onEvent func(canary.Event)) (code int, evs []canary.Event, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	tap := &eventTap{t: t, on: onEvent}
	var errb bytes.Buffer
	code = Main(ctx, []string{"run", "-o", "json", "--state", r.state, r.file}, tap, &errb)
	return code, parseEvents(t, tap.all.Bytes()), errb.String()
}

// eventTap collects `canary run -o json` output and hands each event to
// on as its line is complete.
type eventTap struct {
	t   *testing.T
	on  func(canary.Event)
	mu  sync.Mutex
	all bytes.Buffer
	buf bytes.Buffer
}

func (w *eventTap) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadBytes('\n')
		if err != nil {
			w.buf.Write(line) // incomplete: keep it for the next write
			return len(p), nil
		}
		var ev canary.Event
		if json.Unmarshal(line, &ev) == nil && w.on != nil {
			w.on(ev)
		}
	}
}

// judged reports whether every rule of an evaluation was judged.
func judged(ev canary.Event) bool {
	if ev.Type != canary.EvEvaluated || len(ev.Evaluations) == 0 {
		return false
	}
	for _, e := range ev.Evaluations {
		if !e.Verdict.Judged() {
			return false
		}
	}
	return true
}

// TestRunWithPrometheus runs whole compressed rollouts with
// `metrics: prometheus` against a real Prometheus scraping the proxy: a
// healthy canary is promoted, a canary answering 30% 5xx is rolled back
// immediately (critical), a slow one gradually (medium).
func TestRunWithPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with a real Prometheus: about 20s")
	}
	t.Parallel()
	tests := []struct {
		name      string
		canary    sample.Config
		wantCode  int
		wantActs  []string
		wantGrade string
		wantUrg   canary.Urgency
		wantRule  string
	}{
		{"promotion", sample.Config{Latency: fastLatency}, ExitPromoted,
			[]string{"f20", "w20", "f50", "w50", "f100", "w100", "promote", "removeCanary"}, "", "", ""},
		{"immediate rollback", sample.Config{Latency: fastLatency, ErrorRate: 0.3}, ExitRolledBack,
			[]string{"f20", "w20", "f-off", "w0", "removeCanary"}, canary.ActionRollbackImmediate, canary.UrgencyCritical, "errorRate > 5%"},
		{"gradual rollback", sample.Config{Latency: sample.LatencyDist{Median: 3 * time.Second, P95: 4 * time.Second}}, ExitRolledBack,
			[]string{"f20", "w20", "w0", "f-off", "removeCanary"}, canary.ActionRollbackGradual, canary.UrgencyMedium, "latencyP95 > 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newPromRollout(t, tt.canary)
			code, evs, stderr := r.run(t, nil)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\nstderr: %s\nlast evaluation: %s", code, tt.wantCode, stderr, lastEvaluation(evs))
			}
			if got := actionTimeline(evs); !slices.Equal(got, tt.wantActs) {
				t.Errorf("actions %v, want %v", got, tt.wantActs)
			}
			checkPrometheusJudged(t, evs)
			if tt.wantGrade == "" {
				return
			}
			if !strings.Contains(stderr, "rolled back ("+tt.wantGrade+")") {
				t.Errorf("stderr %q does not say %s", stderr, tt.wantGrade)
			}
			i := slices.IndexFunc(evs, func(ev canary.Event) bool { return ev.Type == canary.EvRollbackStarted })
			if i < 0 {
				t.Fatal("no rollbackStarted event")
			}
			if ev := evs[i]; ev.Urgency != tt.wantUrg || !strings.HasPrefix(ev.Rule, tt.wantRule) {
				t.Errorf("rollbackStarted by rule %q urgency %s (%s), want rule %q urgency %s", ev.Rule, ev.Urgency, ev.Message, tt.wantRule, tt.wantUrg)
			}
		})
	}
}

// lastEvaluation describes the last evaluation in evs, for failures.
func lastEvaluation(evs []canary.Event) string {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type != canary.EvEvaluated {
			continue
		}
		var parts []string
		for _, e := range evs[i].Evaluations {
			parts = append(parts, fmt.Sprintf("%s: %s %.4g (%d samples) %s", e.Rule, e.Verdict, e.Value, e.Samples, e.Detail))
		}
		return strings.Join(parts, "; ")
	}
	return "none"
}

// checkPrometheusJudged checks that rules were judged on values (not on
// silence): some evaluation judged every rule with canary samples.
func checkPrometheusJudged(t *testing.T, evs []canary.Event) {
	t.Helper()
	for _, ev := range evs {
		if judged(ev) && ev.Evaluations[0].Samples >= 20 && ev.Evaluations[0].Value > 0 {
			return
		}
	}
	t.Error("no evaluation judged every rule on Prometheus values with samples")
}

// outage records when the test stopped and restarted Prometheus.
type outage struct {
	mu                            sync.Mutex
	stopped, restarting, restored time.Time
	stoppedForGood                time.Time
	once1, once2                  sync.Once
	done                          sync.WaitGroup
}

func (o *outage) get() (stopped, restarting, restored, forGood time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stopped, o.restarting, o.restored, o.stoppedForGood
}

// TestRunPrometheusOutage stops Prometheus in the middle of a rollout:
// while it is down every evaluation is an error and nothing moves; once it
// is back (same port, same data directory) the rollout goes on to the next
// step; stopped for good, the rollout pauses when its hold extension runs
// out, saying why, without promoting or rolling back.
func TestRunPrometheusOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with a real Prometheus: about 45s")
	}
	t.Parallel()
	r := newPromRollout(t, sample.Config{Latency: fastLatency})
	o := &outage{}
	code, evs, stderr := r.run(t, func(ev canary.Event) {
		switch {
		case judged(ev) && ev.Step == 0:
			o.once1.Do(func() {
				o.done.Go(func() {
					r.prom.Stop()
					o.mu.Lock()
					o.stopped = time.Now()
					o.mu.Unlock()
					time.Sleep(6 * time.Second)
					o.mu.Lock()
					o.restarting = time.Now()
					o.mu.Unlock()
					r.prom.Restart()
					o.mu.Lock()
					o.restored = time.Now()
					o.mu.Unlock()
				})
			})
		case judged(ev) && ev.Step == 1:
			o.once2.Do(func() {
				o.done.Go(func() {
					r.prom.Stop()
					o.mu.Lock()
					o.stoppedForGood = time.Now()
					o.mu.Unlock()
				})
			})
		}
	})
	o.done.Wait()
	stopped, restarting, restored, forGood := o.get()
	if code != ExitPaused {
		t.Fatalf("exit code %d, want %d (paused)\nstderr: %s", code, ExitPaused, stderr)
	}
	if stopped.IsZero() || forGood.IsZero() {
		t.Fatalf("the outages did not happen (stopped %v, for good %v)", stopped, forGood)
	}
	if got, want := actionTimeline(evs), []string{"f20", "w20", "f50", "w50"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v: nothing promoted or rolled back", got, want)
	}
	addr := r.prom.URL()
	// Evaluations that began after the stop and ended before the restart
	// (measuring 4 queries takes about 1.2s with retries) are all errors naming
	// the server; no action is issued while it is down.
	down := func(from, to time.Time) (errs int) {
		for _, ev := range evs {
			if ev.Time.Before(from) || ev.Time.After(to) {
				continue
			}
			if ev.Type == canary.EvActionIssued || ev.Type == canary.EvStepStarted || ev.Type == canary.EvRollbackStarted {
				t.Errorf("%s event at %s while Prometheus was down: %s", ev.Type, ev.Time.Format(time.StampMilli), ev.Message)
			}
			if ev.Type != canary.EvEvaluated {
				continue
			}
			errs++
			for _, e := range ev.Evaluations {
				if e.Verdict != canary.VerdictError || !strings.Contains(e.Detail, addr) || !strings.Contains(e.Detail, "connection refused") {
					t.Errorf("evaluation at %s while down: %s %s (%s), want an error naming %s",
						ev.Time.Format(time.StampMilli), e.Rule, e.Verdict, e.Detail, addr)
				}
			}
		}
		return errs
	}
	if n := down(stopped, restarting.Add(-1500*time.Millisecond)); n < 2 {
		t.Errorf("%d evaluations during the first outage, want at least 2", n)
	}
	// Back up: the first step gets judged evaluations again and completes.
	resumed := slices.IndexFunc(evs, func(ev canary.Event) bool { return judged(ev) && ev.Step == 0 && ev.Time.After(restored) })
	step2 := slices.IndexFunc(evs, func(ev canary.Event) bool { return ev.Type == canary.EvStepStarted && ev.Step == 1 })
	if resumed < 0 || step2 < resumed {
		t.Errorf("after the restart: judged evaluation at event %d, step 2 started at event %d; want judged then step 2", resumed, step2)
	}
	if n := down(forGood, evs[len(evs)-1].Time.Add(-2*time.Second)); n < 5 {
		t.Errorf("%d evaluations during the final outage, want at least 5", n)
	}
	last := evs[len(evs)-1]
	// The final outage outlasts maxHoldExtension: the step pauses for it.
	for _, want := range []string{"the metric source measured nothing for", "more than maxHoldExtension", "latencyP95 > 2s for 2s: error", "errorRate > 5% for 2s: error"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if last.Type != canary.EvPaused || last.Weight != 50 {
		t.Errorf("last event %s at weight %d (%s), want paused at 50", last.Type, last.Weight, last.Message)
	}
}
