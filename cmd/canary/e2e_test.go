package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/sample"
)

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

const e2ePlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: e2e}
spec:
  version: v2
  traffic:
    proxy: {listen: "%s", stable: "%s", canary: "%s", stickyHeader: X-User-ID}
  featureFlag: {name: release_e2e}
  preChecks:
    - {name: stable healthy, url: "%s/elite/metrics", jq: ".avg_success_rate >= 0.99"}
  steps:
    - {weight: 10, hold: 3s}
    - {weight: 50, hold: 3s}
    - {weight: 100}
  analysis: {interval: 1s, minRequests: 50, maxHoldExtension: 10s}
  rules:
    - {metric: latencyP95, above: 300ms, window: 3s, for: 3s, action: rollback-gradual}
    - {metric: errorRate, above: 5%%, window: 3s, for: 1s, action: rollback-immediate, urgency: critical}
  rollback: {drain: 2s}
`

// TestRunEndToEnd runs `canary run` on a seconds-long plan against real
// local backends with injected faults, with real load through the proxy.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: takes about 30s")
	}
	fast := sample.LatencyDist{Median: 5 * time.Millisecond, P95: 20 * time.Millisecond}
	tests := []struct {
		name     string
		canary   sample.Config
		wantCode int
		wantActs []string
	}{
		{"promotion", sample.Config{Latency: fast}, ExitPromoted,
			[]string{"preCheck", "f10", "w10", "f50", "w50", "f100", "w100", "promote", "removeCanary"}},
		{"immediate rollback", sample.Config{Latency: fast, ErrorRate: 0.2}, ExitRolledBack,
			[]string{"preCheck", "f10", "w10", "f-off", "w0", "removeCanary"}},
		{"gradual rollback", sample.Config{Latency: sample.LatencyDist{Median: 400 * time.Millisecond, P95: 600 * time.Millisecond}}, ExitRolledBack,
			[]string{"preCheck", "f10", "w10", "w0", "f-off", "removeCanary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			stable, err := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			tt.canary.Seed = 2
			can, err := sample.Start(ctx, "", tt.canary)
			if err != nil {
				t.Fatal(err)
			}
			listen := freeAddr(t)
			file := filepath.Join(t.TempDir(), "plan.yaml")
			body := fmt.Sprintf(e2ePlan, listen, stable.URL(), can.URL(), stable.URL())
			if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			gen, err := loadgen.Start(ctx, loadgen.Config{Target: "http://" + listen + "/", Rate: 300, Users: 2000, Duration: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := Main(ctx, []string{"run", "-o", "json", "--state", filepath.Join(t.TempDir(), "s.db"), file}, &stdout, &stderr)
			load := gen.Stop()
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\nstderr: %s", code, tt.wantCode, stderr.String())
			}
			evs := parseEvents(t, stdout.Bytes())
			if got := actionTimeline(evs); !slices.Equal(got, tt.wantActs) {
				t.Errorf("actions %v, want %v", got, tt.wantActs)
			}
			if load.Tracks["canary"].Requests == 0 || load.Tracks["stable"].Requests == 0 {
				t.Errorf("load did not reach both tracks: %+v", load.Tracks)
			}
		})
	}
}

func parseEvents(t *testing.T, out []byte) []canary.Event {
	t.Helper()
	var evs []canary.Event
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev canary.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not a JSON event line: %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	return evs
}

// actionTimeline lists the succeeded actions as w10, f10, f-off, promote, ...
func actionTimeline(evs []canary.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Action == nil || (ev.Type != canary.EvActionSucceeded && ev.Type != canary.EvPreCheckPassed) {
			continue
		}
		a := ev.Action
		switch a.Kind {
		case canary.ActSetWeight:
			out = append(out, fmt.Sprintf("w%d", a.Weight))
		case canary.ActSetFlag:
			if a.FlagEnabled {
				out = append(out, fmt.Sprintf("f%d", a.Weight))
			} else {
				out = append(out, "f-off")
			}
		default:
			out = append(out, string(a.Kind))
		}
	}
	return out
}

func TestDemoShowsAllThreeOutcomes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: takes about 40s")
	}
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), []string{"demo", "--hold", "4s", "-o", "text"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"✓ healthy  Succeeded", "✓ errors   RolledBack  immediate", "✓ latency  RolledBack  gradual",
		"🚨 ROLLBACK INITIATED (immediate)", "✉ on-call via pagerduty", "✉ clinical via email"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestValidateExitCodesAndErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: canary.dev/v1alpha1\nkind: Rollout\nmetadata: {name: x}\nspec:\n  version: v1\n  steps: [{weight: 5, hold: 5 min}, {weight: 100}]\n"), 0o644)
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	huge := filepath.Join(t.TempDir(), "huge.yaml")
	os.WriteFile(huge, bytes.Repeat([]byte("# padding\n"), 200_000), 0o644)
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"validate", "../../examples/local.yaml", "../../examples/recoveryos.yaml"}, 0, "ok"},
		{[]string{"validate", bad}, ExitInvalid, bad + ":6:29: spec.steps[0].hold:"},
		{[]string{"run"}, ExitInvalid, "accepts 1 arg"},
		{[]string{"run", bad}, ExitInvalid, "is not a duration"},
		{[]string{"run", "--resume", "--state", filepath.Join(t.TempDir(), "none.db"), "../../examples/local.yaml"}, ExitInvalid, "no unfinished rollout"},
		{[]string{"serve", "--state", filepath.Join(t.TempDir(), "s.db")}, ExitInvalid, "no API tokens"},
		{[]string{"demo", "--scenario", "nope"}, ExitInvalid, "use healthy, errors, latency, all, or ab"},
		{[]string{"version"}, 0, "canary "},
		// A missing file is invalid input for every command that reads a plan.
		{[]string{"validate", missing}, ExitInvalid, missing + ": cannot read the file: no such file or directory: check the path"},
		{[]string{"run", missing}, ExitInvalid, missing + ": cannot read the file"},
		{[]string{"query", missing}, ExitInvalid, missing + ": cannot read the file"},
		{[]string{"apply", "-f", missing, "--server", "http://127.0.0.1:1"}, ExitInvalid, missing + ": cannot read the file"},
		// --expected-rps fails a plan that cannot decide at that traffic.
		{[]string{"validate", "--expected-rps", "100000", "../../examples/recoveryos.yaml"}, 0, "ok"},
		{[]string{"validate", "--expected-rps", "1", "../../examples/recoveryos.yaml"}, ExitInvalid, "rules cannot decide at 1 requests/s"},
		// The CLI caps a plan at serve's size, with one error.
		{[]string{"validate", huge}, ExitInvalid, huge + ": the file is larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %s)", code, tt.wantCode, stderr.String())
			}
			if all := stdout.String() + stderr.String(); !strings.Contains(all, tt.wantOut) {
				t.Errorf("output %q lacks %q", all, tt.wantOut)
			}
		})
	}
}

// TestRunInterruptAndResume interrupts `canary run` mid-rollout (Ctrl-C),
// then continues it with --resume: it finishes where it was, each step
// started once.
func TestRunInterruptAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: about 15s")
	}
	ctx, file, state, planText := resumeRig(t)
	runCtx, interrupt := context.WithTimeout(ctx, 4500*time.Millisecond) // inside the second step
	var out1, err1 bytes.Buffer
	if code := Main(runCtx, []string{"run", "-o", "json", "--state", state, file}, &out1, &err1); code != ExitPaused {
		t.Fatalf("interrupted run exit %d, want %d\n%s", code, ExitPaused, err1.String())
	}
	interrupt()
	// The hint is the exact command, --state included (not the default).
	if want := "continue with: canary run --resume --state " + state + " " + file; !strings.Contains(err1.String(), want) {
		t.Errorf("the interrupted run does not say %q: %s", want, err1.String())
	}
	var out0, err0 bytes.Buffer
	if code := Main(ctx, []string{"run", "-o", "json", "--state", state, file}, &out0, &err0); code != ExitInvalid ||
		!strings.Contains(err0.String(), "canary run --resume --state "+state) || !strings.Contains(err0.String(), "--abandon") {
		t.Fatalf("a second run over a paused rollout: exit %d %s; want a conflict that says --resume and --abandon", code, err0.String())
	}
	// A changed spec is refused on --resume, saying what differs, unless
	// --force; with it the change is recorded.
	os.WriteFile(file, bytes.Replace(planText,
		[]byte("above: 300ms, window: 3s, for: 3s"), []byte("above: 300ms, window: 3s, for: 4s"), 1), 0o644)
	var out3, err3 bytes.Buffer
	if code := Main(ctx, []string{"run", "-o", "json", "--resume", "--state", state, file}, &out3, &err3); code != ExitInvalid ||
		!strings.Contains(err3.String(), "differs from the saved one (rules: −latencyP95") || !strings.Contains(err3.String(), "--resume --force") {
		t.Fatalf("resume with a changed spec: exit %d %s; want refused, naming the rules and --force", code, err3.String())
	}
	var out2, err2 bytes.Buffer
	if code := Main(ctx, []string{"run", "-o", "json", "--resume", "--force", "--state", state, file}, &out2, &err2); code != ExitPromoted {
		t.Fatalf("resumed run exit %d\n%s", code, err2.String())
	}
	replaced := false
	for _, ev := range parseEventsFrom(t, out2.Bytes()) {
		replaced = replaced || ev.Type == canary.EvCommand && strings.Contains(ev.Message, "plan replaced by canary run --resume --force: rules: −")
	}
	if !replaced {
		t.Errorf("no event records the forced change:\n%s", out2.String())
	}
	evs := append(parseEvents(t, out1.Bytes()), parseEventsFrom(t, out2.Bytes())...)
	started := map[int]int{}
	for _, ev := range evs {
		if ev.Type == canary.EvStepStarted {
			started[ev.Step]++
		}
	}
	if started[0] != 1 || started[1] != 1 {
		t.Errorf("steps started %v times, want each once", started)
	}
	if evs[len(evs)-1].Type != canary.EvPromoted {
		t.Errorf("last event %s, want promoted", evs[len(evs)-1].Type)
	}
}

// resumeRig starts what the interrupt-and-resume tests run against: a
// fast stable and canary, e2ePlan written to a plan file in front of them,
// 300 req/s of load through the proxy's address for up to a minute. It
// returns the minute's context, the plan and state file names and the
// plan's text; everything stops when the test ends.
func resumeRig(t *testing.T) (ctx context.Context, file, state string, planText []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	fast := sample.LatencyDist{Median: 5 * time.Millisecond, P95: 20 * time.Millisecond}
	stable, _ := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 1})
	can, _ := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 2})
	listen := freeAddr(t)
	dir := t.TempDir()
	file, state = filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "state.db")
	planText = fmt.Appendf(nil, e2ePlan, listen, stable.URL(), can.URL(), stable.URL())
	os.WriteFile(file, planText, 0o644)
	gen, err := loadgen.Start(ctx, loadgen.Config{Target: "http://" + listen + "/", Rate: 300, Users: 2000, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gen.Stop() })
	return ctx, file, state, planText
}

// parseEventsFrom parses event lines that continue an earlier run's.
func parseEventsFrom(t *testing.T, out []byte) []canary.Event {
	t.Helper()
	var evs []canary.Event
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var ev canary.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("not a JSON event line: %q", line)
		}
		evs = append(evs, ev)
	}
	return evs
}
