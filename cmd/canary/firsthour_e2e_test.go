//go:build !race

package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFirstHour follows README's "Try a plan by hand" as a user would,
// with the built binary as real processes on loopback ports: README's own
// commands (canary sample, canary validate --expected-rps, canary run,
// canary loadgen; read from README, not copied here) on README's file,
// examples/local.yaml as it is (its 10s holds) with only its addresses
// moved to free ports. A healthy canary is promoted (exit 0); README's bad
// canary (its `canary sample --canary-errors` line) is rolled back (exit
// 1). The two run side by side: about 50s.
func TestFirstHour(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: about 50s")
	}
	cmds := readmeCommands(t)
	bin := buildCanary(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 20))
	for _, tt := range []struct {
		name   string
		sample []string
		code   int
		want   string
	}{
		{"healthy canary", cmds.sample, ExitPromoted, "local-demo v2 promoted"},
		{"bad canary", cmds.badSample, ExitRolledBack, "rolled back"},
	} {
		stable, can, proxy, admin := lowAddr(t, rng), lowAddr(t, rng), lowAddr(t, rng), lowAddr(t, rng)
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := movedLocalPlan(t, dir, stable, can, proxy, admin)
			at := func(args []string) []string {
				out := slices.Clone(args)
				for i, a := range out {
					switch a {
					case readmePlan:
						out[i] = file
					case readmeProxyURL:
						out[i] = "http://" + proxy + "/"
					}
				}
				return out
			}
			samp := startProc(t, bin, dir, "sample", append(at(tt.sample), "--stable", stable, "--canary", can)...)
			waitListening(t.Context(), stable)
			waitListening(t.Context(), can)
			if out, err := exec.Command(bin, at(cmds.validate)...).CombinedOutput(); err != nil {
				t.Fatalf("canary %s: %v\n%s", strings.Join(cmds.validate, " "), err, out)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			run := exec.CommandContext(ctx, bin, append(at(cmds.run), "--state", filepath.Join(dir, "state.db"))...)
			var runOut bytes.Buffer
			run.Stdout, run.Stderr = &runOut, &runOut
			if err := run.Start(); err != nil {
				t.Fatal(err)
			}
			waitListening(ctx, proxy)
			load := startProc(t, bin, dir, "loadgen", append(at(cmds.loadgen), "--progress", "0")...)
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
			loadOut := load.stop(t) // README: stop loadgen (Ctrl-C prints its summary)
			if !strings.Contains(loadOut, "tracks: stable ") || !strings.Contains(loadOut, "canary ") {
				t.Errorf("loadgen's summary does not show both tracks:\n%s", loadOut)
			}
			if sampOut := samp.stop(t); !strings.Contains(sampOut, "canary: ") || strings.Contains(sampOut, "canary: 0 requests") {
				t.Errorf("the sample canary answered nothing:\n%s", sampOut)
			}
		})
	}
}

// The plan file and the proxy's URL as README's commands name them.
const (
	readmePlan     = "examples/local.yaml"
	readmeProxyURL = "http://127.0.0.1:8080/"
)

// walkthrough is the commands of README's "Try a plan by hand", each as
// the arguments after ./canary.
type walkthrough struct {
	sample, validate, run, loadgen, badSample []string
}

// readmeCommands reads the walk-through's commands from README: its
// ./canary lines (comments dropped) in the order README gives them, and
// the bad canary's `./canary sample --canary-errors N%`.
func readmeCommands(t *testing.T) walkthrough {
	t.Helper()
	section, _ := readmeWalkthrough(t)
	var lines [][]string
	for _, l := range strings.Split(section, "\n") {
		l, _, _ = strings.Cut(l, "#")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "./canary "); ok {
			lines = append(lines, strings.Fields(rest))
		}
	}
	var w walkthrough
	for _, l := range lines {
		switch {
		case len(l) == 1 && l[0] == "sample":
			w.sample = l
		case l[0] == "validate":
			w.validate = l
		case l[0] == "run":
			w.run = l
		case l[0] == "loadgen":
			w.loadgen = l
		}
	}
	m := regexp.MustCompile("`\\./canary (sample --canary-errors \\d+%)`").FindStringSubmatch(section)
	if m != nil {
		w.badSample = strings.Fields(m[1])
	}
	if w.sample == nil || w.validate == nil || w.run == nil || w.loadgen == nil || w.badSample == nil {
		t.Fatalf("README's walk-through lacks one of ./canary sample, validate, run, loadgen and `./canary sample --canary-errors N%%`: %q", lines)
	}
	for _, c := range [][]string{w.validate, w.run} {
		if c[len(c)-1] != readmePlan {
			t.Fatalf("README's ./canary %s does not end with %s: update this test", strings.Join(c, " "), readmePlan)
		}
	}
	if w.loadgen[len(w.loadgen)-1] != readmeProxyURL {
		t.Fatalf("README's ./canary %s does not send to %s: update this test", strings.Join(w.loadgen, " "), readmeProxyURL)
	}
	return w
}

// movedLocalPlan writes examples/local.yaml with its addresses moved (and
// nothing else changed), and returns its path.
func movedLocalPlan(t *testing.T, dir, stable, can, proxy, admin string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + readmePlan)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range [][2]string{{"127.0.0.1:9001", stable}, {"127.0.0.1:9002", can},
		{"127.0.0.1:8080", proxy}, {"127.0.0.1:8081", admin}} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("%s has no %q any more: update this test", readmePlan, r[0])
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
