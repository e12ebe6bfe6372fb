package view

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLiveHoldArithmetic draws the live block on a minimal terminal
// (screen, no tmux) while the engine runs a 6s hold on a stepped clock,
// a quarter second at a time: on every redraw "X of 6s, Y left" adds up
// to 6s, X is the time in the step as shown, never goes back, and the
// header's "running" is the time since the rollout's start.
func TestLiveHoldArithmetic(t *testing.T) {
	p := runbookPlan()
	p.Spec.PreChecks = nil
	p.Spec.Steps = p.Spec.Steps[:1]
	p.Spec.Steps[0].Hold = pdur("6s")
	p.Spec.Steps = append(p.Spec.Steps, p.Spec.Steps[0])
	p.Spec.Steps[1].Weight, p.Spec.Steps[1].Hold = 100, 0
	p.Spec.Analysis.Interval = pdur("1s")
	for i := range p.Spec.Rules {
		p.Spec.Rules[i].Window = pdur("1s")
	}
	d := newDrive(t, p)
	d.rps = 4000 // 200 canary requests a second at 5%: every evaluation judged
	d.runTo(t0.Add(100 * time.Millisecond))
	if d.State.StepStartedAt.IsZero() {
		t.Fatalf("step 1 did not start: %s", d.State.Phase)
	}
	scr := &screen{}
	live := NewLive(scr, Options{Width: 100})
	holdRe := regexp.MustCompile(`hold\s+(\S+) of 6s, (\S+) left`)
	runRe := regexp.MustCompile(`running (\S+)`)
	var prev time.Duration
	seen := 0
	for at := d.Now; at.Before(d.State.StepStartedAt.Add(6 * time.Second)); at = at.Add(250 * time.Millisecond) {
		d.runTo(at)
		if err := live.Update(d.Plan, d.State, d.Last, d.Now); err != nil {
			t.Fatal(err)
		}
		if scr.bad != "" {
			t.Fatal(scr.bad)
		}
		block := stripANSI(strings.Join(scr.rows, "\n"))
		m := holdRe.FindStringSubmatch(block)
		if m == nil {
			if d.State.HoldDone {
				break
			}
			t.Fatalf("at +%v no hold line:\n%s", at.Sub(t0), block)
		}
		held, left := parseDur(t, m[1]), parseDur(t, m[2])
		if held+left != 6*time.Second {
			t.Errorf("at +%v: %s of 6s, %s left adds up to %v", at.Sub(t0), m[1], m[2], held+left)
		}
		if want := at.Sub(d.State.StepStartedAt).Truncate(time.Second); held != want {
			t.Errorf("at +%v: held %v, want %v (the time in the step, as shown)", at.Sub(t0), held, want)
		}
		if held < prev {
			t.Errorf("at +%v: held went back from %v to %v", at.Sub(t0), prev, held)
		}
		prev = held
		if r := runRe.FindStringSubmatch(block); r == nil || parseDur(t, r[1]) != shownDur(at.Sub(d.State.CreatedAt)) {
			t.Errorf("at +%v: header %q, want running %v", at.Sub(t0), r, shownDur(at.Sub(d.State.CreatedAt)))
		}
		seen++
	}
	if seen < 20 {
		t.Errorf("only %d redraws showed the hold", seen)
	}
}

func parseDur(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return d
}
