//go:build !race

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serveAfterPlan promotes in about two seconds under load, or rolls back
// at once when the canary fails.
const serveAfterPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: after}
spec:
  version: v2
  traffic: {proxy: {listen: "%s", stable: "%s", canary: "%s"}}
  steps: [{weight: 50, hold: 1s}, {weight: 100}]
  analysis: {interval: 250ms, minRequests: 5, maxHoldExtension: 20s}
  rules:
    - {metric: errorRate, above: 5%%, window: 1s, for: 250ms, action: rollback-immediate}
  rollback: {drain: 100ms}
`

// namedBackend answers code with its name in the body.
func namedBackend(t *testing.T, name string, code int) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// TestRunServeAfter runs the canary binary with --serve-after: after the
// outcome the proxy keeps serving the final routing (the promoted version,
// or the stable one after a rollback), and SIGINT ends the process with the
// outcome's exit code.
func TestRunServeAfter(t *testing.T) {
	if testing.Short() {
		t.Skip("real process: about 5s")
	}
	bin := buildCanary(t)
	stable := namedBackend(t, "stable", 200)
	tests := []struct {
		name     string
		canary   string
		wantCode int
		wantBody string
		hooks    string // spec lines appended to the plan
	}{
		{"promoted", namedBackend(t, "green", 200), ExitPromoted, "green", ""},
		{"rolled back", namedBackend(t, "bad", 500), ExitRolledBack, "stable", ""},
		// A promote hook deploys the new version into the stable slot:
		// traffic goes back there, not to the canary's upstream.
		{"promoted into the stable slot", namedBackend(t, "green", 200), ExitPromoted, "stable",
			"  hooks: [{name: deploy, at: promote, http: {url: \"" + namedBackend(t, "deployed", 200) + "\", method: POST}}]\n"},
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 19))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listen := lowAddr(t, rng)
			file := filepath.Join(t.TempDir(), "plan.yaml")
			if err := os.WriteFile(file, append(fmt.Appendf(nil, serveAfterPlan, listen, stable, tt.canary), tt.hooks...), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "run", "--serve-after", "-o", "json", "--state", filepath.Join(t.TempDir(), "run.db"), file)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
			defer cancel()
			var sent atomic.Int64
			go func() { // load for the analysis, until the outcome
				c := &http.Client{Timeout: time.Second}
				for ctx.Err() == nil {
					if resp, err := c.Get("http://" + listen + "/"); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						sent.Add(1)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
			lines := bufio.NewScanner(stderr)
			var log strings.Builder
			for !strings.Contains(log.String(), "serving until interrupted") {
				if !lines.Scan() {
					t.Fatalf("canary run ended before serving after the outcome:\n%s", log.String())
				}
				log.WriteString(lines.Text() + "\n")
			}
			cancel()
			if !strings.Contains(log.String(), "keeps serving") {
				t.Errorf("no word that the proxy keeps serving:\n%s", log.String())
			}
			// The process has decided; the proxy still answers, from the
			// final routing only, well after the outcome.
			time.Sleep(500 * time.Millisecond)
			for i := range 50 {
				resp, err := http.Get("http://" + listen + "/")
				if err != nil {
					t.Fatalf("request %d after the outcome: %v", i, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != tt.wantBody {
					t.Fatalf("request %d after the outcome served by %q, want %q", i, b, tt.wantBody)
				}
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			go func() { _, _ = io.Copy(io.Discard, stderr) }()
			err = cmd.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d after SIGINT, want %d\n%s", code, tt.wantCode, log.String())
			}
			if _, err := http.Get("http://" + listen + "/"); err == nil {
				t.Error("the proxy still answers after the process exited")
			}
		})
	}
}
