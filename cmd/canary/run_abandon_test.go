package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const abandonPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: door}
spec:
  version: v2
  traffic:
    proxy: {listen: "%s", stable: "http://127.0.0.1:9", canary: "http://127.0.0.1:9"}
  steps: [{weight: 10, hold: 1m}, {weight: 100}]
  analysis: {interval: 1s}
  rules:
    - {metric: errorRate, above: 5%%, action: rollback-immediate}
`

// TestRunFailedStartAndAbandon: a run that fails before its rollout starts
// (its port is taken) leaves nothing that blocks the next run; an
// unfinished rollout is discarded with --abandon, recorded, and the next
// run starts afresh.
func TestRunFailedStartAndAbandon(t *testing.T) {
	if testing.Short() {
		t.Skip("real runs: about 5s")
	}
	dir := t.TempDir()
	file, state := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "s.db")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := taken.Addr().String()
	os.WriteFile(file, fmt.Appendf(nil, abandonPlan, addr), 0o644)
	run := func(d time.Duration, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		var out, errw bytes.Buffer
		code := Main(ctx, append([]string{"run", "-o", "json", "--state", state}, args...), &out, &errw)
		return code, errw.String()
	}
	if code, errs := run(10*time.Second, file); code != ExitUnavailable {
		t.Fatalf("run on a taken port: exit %d, want %d: %s", code, ExitUnavailable, errs)
	}
	taken.Close()
	// The failed start poisoned nothing: the next run starts (and is
	// interrupted: paused).
	if code, errs := run(1500*time.Millisecond, file); code != ExitPaused {
		t.Fatalf("run after a failed start: exit %d, want %d (paused by the interrupt): %s", code, ExitPaused, errs)
	}
	if code, errs := run(10*time.Second, file); code != ExitInvalid || !strings.Contains(errs, "--abandon") {
		t.Fatalf("run over the paused rollout: exit %d %s; want a conflict naming --abandon", code, errs)
	}
	code, errs := run(10*time.Second, "--abandon", file)
	if code != ExitPromoted || !strings.Contains(errs, "rollout default/door (v2) abandoned in "+state) ||
		!strings.Contains(errs, "the built-in proxy stopped with its run") {
		t.Fatalf("--abandon: exit %d: %s", code, errs)
	}
	if code, errs := run(10*time.Second, "--abandon", file); code != ExitInvalid || !strings.Contains(errs, "nothing to abandon") {
		t.Errorf("--abandon twice: exit %d %s; want nothing to abandon", code, errs)
	}
	// The abandoned rollout is in the audit trail, failed, with the command.
	var out, errw bytes.Buffer
	if code := Main(t.Context(), []string{"run", "-o", "json", "--resume", "--state", state, file}, &out, &errw); !strings.Contains(errw.String(), "already finished: Failed") {
		t.Errorf("--resume after --abandon: exit %d: %s; want the finished (failed) rollout", code, errw.String())
	}
	// And a new run starts afresh.
	if code, errs := run(1500*time.Millisecond, file); code != ExitPaused {
		t.Fatalf("run after --abandon: exit %d, want %d: %s", code, ExitPaused, errs)
	}
}
