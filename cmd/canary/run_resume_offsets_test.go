package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunResumeOffsets: after an interrupted canary run, the resumed run's
// event lines go on from the rollout's start (issue 20: they restarted at
// +0s while the header said 1m22s), as real processes would print them.
func TestRunResumeOffsets(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: about 15s")
	}
	ctx, file, state, _ := resumeRig(t)

	const ran = 4 * time.Second
	runCtx, interrupt := context.WithTimeout(ctx, ran)
	var out1, err1 bytes.Buffer
	if code := Main(runCtx, []string{"run", "-o", "text", "--state", state, file}, &out1, &err1); code != ExitPaused {
		t.Fatalf("interrupted run exit %d, want %d\n%s", code, ExitPaused, err1.String())
	}
	interrupt()
	var out2, err2 bytes.Buffer
	if code := Main(ctx, []string{"run", "-o", "text", "--resume", "--state", state, file}, &out2, &err2); code != ExitPromoted {
		t.Fatalf("resumed run exit %d\n%s\n%s", code, out2.String(), err2.String())
	}
	offsets := eventOffsets(t, out2.String())
	if len(offsets) == 0 {
		t.Fatalf("no event lines in the resumed run:\n%s", out2.String())
	}
	// The first line of the resumed run comes after the interrupted run's
	// time (offsets are truncated to whole seconds), and none goes back.
	if offsets[0] < ran-time.Second {
		t.Errorf("the resumed run starts its offsets at %s, want at least %s (the rollout ran %s before):\n%s", offsets[0], ran-time.Second, ran, out2.String())
	}
	for i := 1; i < len(offsets); i++ {
		if offsets[i] < offsets[i-1] {
			t.Errorf("offset %s after %s:\n%s", offsets[i], offsets[i-1], out2.String())
		}
	}
}

// eventOffsets reads the "+4s" offsets that start canary run's event lines.
func eventOffsets(t *testing.T, out string) []time.Duration {
	t.Helper()
	var ds []time.Duration
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "+") && !strings.HasPrefix(f[0], "-") {
			continue
		}
		d, err := time.ParseDuration(f[0])
		if err != nil {
			continue
		}
		ds = append(ds, d)
	}
	return ds
}
