package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
)

// backupPlan holds its first step for an hour: the rollout stays at 10%
// until someone promotes it.
const backupPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s}
spec:
  version: v2
  traffic:
    proxy: {listen: "%s", stable: "http://127.0.0.1:9", canary: "http://127.0.0.1:9"}
  steps:
    - {weight: 10, hold: 1h}
    - {weight: 100}
  analysis: {interval: 1s, minRequests: 50, maxHoldExtension: 2h}
  rules:
    - {metric: errorRate, above: 5%%, window: 3s, for: 1s, action: rollback-immediate}
`

// startInsecureServe runs `canary serve --insecure` on state until ctx ends and
// returns the client command runner and a wait for its exit code.
func startInsecureServe(t *testing.T, ctx context.Context, state string) (ctl func(...string) (int, string), wait func() int) {
	t.Helper()
	api := freeAddr(t)
	done := make(chan int, 1)
	var serveErr canarytest.Buffer
	go func() {
		done <- Main(ctx, []string{"serve", "--insecure", "--listen", api, "--state", state, "--rate-limit", "0"}, &bytes.Buffer{}, &serveErr)
	}()
	waitHTTP(t, "http://"+api+"/healthz")
	ctl = func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(ctx, append(args, "--server", "http://"+api), &out, &errb)
		return code, out.String() + errb.String()
	}
	wait = func() int {
		select {
		case code := <-done:
			if code != 0 {
				t.Logf("serve: %s", serveErr.String())
			}
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	return ctl, wait
}

// TestServeBackupRestore: `canary serve backup` copies the state database
// of a running server (which holds the state lock) and the server goes on;
// a fresh server started on the restored copy resumes both rollouts where
// they were at the backup (one paused at 10%, one progressing at 10%) and
// carries them on: resume and promote --full take both to Succeeded.
func TestServeBackupRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	srvCtx, stopServer := context.WithCancel(ctx)
	ctl, wait := startInsecureServe(t, srvCtx, live)
	for _, name := range []string{"held", "paused"} {
		plan := filepath.Join(dir, name+".yaml")
		os.WriteFile(plan, fmt.Appendf(nil, backupPlan, name, freeAddr(t)), 0o644)
		if code, out := ctl("apply", "-f", plan); code != 0 {
			t.Fatalf("apply %s: exit %d %s", name, code, out)
		}
	}
	waitWeight := func(ctl func(...string) (int, string), name string, phase canary.Phase) {
		t.Helper()
		for range 400 {
			r := servedRollout{}
			if code, out := ctl("get", "default/"+name, "-o", "json"); code == 0 && jsonInto(out, &r) && r.State.Phase == phase && r.State.Weight == 10 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		code, out := ctl("get", "default/"+name)
		t.Fatalf("%s never %s at 10%%: exit %d %s", name, phase, code, out)
	}
	waitWeight(ctl, "held", canary.PhaseProgressing)
	waitWeight(ctl, "paused", canary.PhaseProgressing)
	if code, out := ctl("pause", "default/paused"); code != 0 {
		t.Fatalf("pause: exit %d %s", code, out)
	}
	waitWeight(ctl, "paused", canary.PhasePaused)

	backup := filepath.Join(dir, "backups", "serve.db")
	os.MkdirAll(filepath.Dir(backup), 0o755)
	var out, errb bytes.Buffer
	if code := Main(ctx, []string{"serve", "backup", backup, "--state", live}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "backed up") {
		t.Fatalf("serve backup beside the running server: exit %d %s%s", code, out.String(), errb.String())
	}
	// The server is unaffected: it still answers and acts.
	if code, out := ctl("get", "default/held"); code != 0 {
		t.Errorf("get after the backup: exit %d %s", code, out)
	}
	stopServer()
	if code := wait(); code != 0 {
		t.Fatalf("serve exit %d", code)
	}

	restored := filepath.Join(dir, "restored.db")
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(restored, data, 0o600)
	ctl, wait = startInsecureServe(t, ctx, restored)
	waitWeight(ctl, "held", canary.PhaseProgressing)
	waitWeight(ctl, "paused", canary.PhasePaused)
	if code, out := ctl("resume", "default/paused"); code != 0 {
		t.Fatalf("resume on the restored server: exit %d %s", code, out)
	}
	for _, name := range []string{"held", "paused"} {
		if code, out := ctl("promote", "default/"+name, "--full"); code != 0 {
			t.Fatalf("promote %s on the restored server: exit %d %s", name, code, out)
		}
		waitServed(t, func(_ string, args ...string) (int, string) { return ctl(args...) }, "", "default/"+name, canary.PhaseSucceeded)
	}
	cancel()
	wait()
}

// TestServeBackupErrors: a missing state database and an unwritable
// destination are clear errors, and nothing is left behind.
func TestServeBackupErrors(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := Main(t.Context(), []string{"serve", "backup", filepath.Join(dir, "b.db"), "--state", filepath.Join(dir, "none.db")}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "none.db") {
		t.Errorf("backup of a missing database: exit %d %q", code, errb.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
	errb.Reset()
	if code := Main(t.Context(), []string{"serve", "backup"}, &out, &errb); code != ExitInvalid {
		t.Errorf("backup without FILE: exit %d %q, want %d", code, errb.String(), ExitInvalid)
	}
}

// jsonInto decodes s into v and says whether it could.
func jsonInto(s string, v any) bool { return json.Unmarshal([]byte(s), v) == nil }
