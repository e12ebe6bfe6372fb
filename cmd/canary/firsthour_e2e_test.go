//go:build !race

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFirstHour follows README's "Try a plan by hand" as a user would,
// with the built binary as real processes on loopback ports: canary
// sample, canary run of examples/local.yaml (its holds scaled from 10s to
// 4s, its addresses moved to free ports) and canary loadgen at README's
// rate. A healthy canary is promoted (exit 0); a canary answering 30% 5xx,
// README's bad one, is rolled back (exit 1). About 30s.
func TestFirstHour(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: about 30s")
	}
	_, rate := readmeWalkthrough(t)
	bin := buildCanary(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 20))
	for _, tt := range []struct {
		name   string
		sample []string
		code   int
		want   string
	}{
		{"healthy canary", nil, ExitPromoted, "local-demo v2 promoted"},
		{"bad canary", []string{"--canary-errors", "30%"}, ExitRolledBack, "rolled back"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stable, can, proxy, admin := lowAddr(t, rng), lowAddr(t, rng), lowAddr(t, rng), lowAddr(t, rng)
			file := scaledLocalPlan(t, dir, stable, can, proxy, admin)
			samp := startProc(t, bin, dir, "sample", append([]string{"sample", "--stable", stable, "--canary", can}, tt.sample...)...)
			waitListening(t.Context(), stable)
			waitListening(t.Context(), can)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			run := exec.CommandContext(ctx, bin, "run", "--state", filepath.Join(dir, "state.db"), file)
			var runOut bytes.Buffer
			run.Stdout, run.Stderr = &runOut, &runOut
			if err := run.Start(); err != nil {
				t.Fatal(err)
			}
			waitListening(ctx, proxy)
			load := startProc(t, bin, dir, "loadgen", "loadgen", "--rate", fmt.Sprint(rate), "--duration", "1m",
				"--progress", "0", "http://"+proxy+"/")
			err := run.Wait()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.Contains(runOut.String(), tt.want) {
				t.Errorf("canary run: exit %d, want %d and %q:\n%s", code, tt.code, tt.want, tail(runOut.String(), 3000))
			}
			loadOut := load.stop(t)
			if !strings.Contains(loadOut, "tracks: stable ") || !strings.Contains(loadOut, "canary ") {
				t.Errorf("loadgen's summary does not show both tracks:\n%s", loadOut)
			}
			if sampOut := samp.stop(t); !strings.Contains(sampOut, "canary: ") || strings.Contains(sampOut, "canary: 0 requests") {
				t.Errorf("the sample canary answered nothing:\n%s", sampOut)
			}
		})
	}
}

// scaledLocalPlan writes examples/local.yaml with its holds scaled from
// 10s to 4s and its addresses moved, and returns its path.
func scaledLocalPlan(t *testing.T, dir, stable, can, proxy, admin string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range [][2]string{{"hold: 10s", "hold: 4s"}, {"127.0.0.1:9001", stable}, {"127.0.0.1:9002", can},
		{"127.0.0.1:8080", proxy}, {"127.0.0.1:8081", admin}} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("examples/local.yaml has no %q any more: update this test", r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	file := filepath.Join(dir, "local.yaml")
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// proc is a background canary process whose output goes to a file.
type proc struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

// startProc starts bin args in the background; it is killed at the end
// of the test if still running.
func startProc(t *testing.T, bin, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{out: filepath.Join(dir, name+".out"), done: make(chan error, 1)}
	f, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait(); f.Close() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

// stop interrupts the process (Ctrl-C), waits for it and returns its output.
func (p *proc) stop(t *testing.T) string {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		p.done <- nil // for the cleanup
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not stop 20s after Ctrl-C", p.cmd.Args)
	}
	b, _ := os.ReadFile(p.out)
	return string(b)
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
