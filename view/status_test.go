package view

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

// scenario is a rollout driven to a moment worth drawing.
type scenario struct {
	name  string
	setup func(t *testing.T) *drive
	phase canary.Phase
	// want are fragments the block must show whatever the golden file says,
	// so that -update cannot bless a wrong block.
	want []string
}

var scenarios = []scenario{
	{
		// 12m30s into step 3 (25%), the canary's P95 went to 650ms at 10m:
		// the 600ms rule has been pending since, the 1000ms one passes.
		name: "progressing_pending",
		setup: func(t *testing.T) *drive {
			d := newDrive(t, runbookPlan())
			d.canary = faultAt(2, 10*minute, served{P95: 650 * time.Millisecond, ErrRate: 0.001})
			d.runTo(t0.Add(60*minute + 12*minute + 30*time.Second))
			return d
		},
		phase: canary.PhaseProgressing,
		want: []string{"recoveryos-elite v1.0.0-elite · Progressing · running 1h12m30s",
			"5% ✓ → 10% ✓ → 25% ● → 50% → 100%", "12m30s of 30m, 17m30s left",
			"canary 25% · stable 75%", "flag release_20250814 on 25%",
			"pending 2m30s of 5m", "650ms", "> 600ms", "450ms"},
	},
	{
		// 50 requests/s give the canary 75 requests per 30s window at 5%,
		// fewer than the 100 a verdict needs: the hold is extended at 30m
		// and the rollout pauses at 1h, and the hold clock stops.
		name: "paused_no_evidence",
		setup: func(t *testing.T) *drive {
			d := newDrive(t, runbookPlan())
			d.rps = 50
			d.runTo(t0.Add(65 * minute))
			return d
		},
		phase: canary.PhasePaused,
		want: []string{"Paused", "paused   for 5m: step 1 (5%): not enough evidence after 1h",
			"5% ● → 10%", "1h of 30m", "0/60 judged", "extended", "stopped while paused",
			"insufficient", "75"},
	},
	{
		// P95 650ms from 12m into step 2 fires the 5m rule at 17m: a
		// gradual rollback, drawn 2m into its 5m drain.
		name: "rolling_back",
		setup: func(t *testing.T) *drive {
			d := newDrive(t, runbookPlan())
			d.canary = faultAt(1, 12*minute, served{P95: 650 * time.Millisecond, ErrRate: 0.001})
			d.runTo(t0.Add(30*minute + 19*minute))
			return d
		},
		phase: canary.PhaseRollingBack,
		want: []string{"RollingBack", "rollback gradual: latencyP95 650ms > 600ms for 5m",
			"5% ✓ → 10% ✗ → 25%", "2m of 5m, 3m left", "canary 0% · stable 100%",
			"flag release_20250814 off", "FIRING 5m"},
	},
	{
		// 5xx at 20% from 12m into step 1: the 1m rule rolls back at once.
		name: "rolled_back_immediate",
		setup: func(t *testing.T) *drive {
			d := newDrive(t, runbookPlan())
			d.canary = faultAt(0, 12*minute, served{P95: 450 * time.Millisecond, ErrRate: 0.2})
			d.runTo(t0.Add(20 * minute))
			return d
		},
		phase: canary.PhaseRolledBack,
		want: []string{"RolledBack · took 13m", "rollback immediate: errorRate 20% > 5% for 1m; done",
			"5% ✗ → 10%", "FIRING 1m", "20%"},
	},
	{
		name: "succeeded",
		setup: func(t *testing.T) *drive {
			d := newDrive(t, runbookPlan())
			d.runTo(t0.Add(2*time.Hour + minute))
			return d
		},
		phase: canary.PhaseSucceeded,
		want: []string{"Succeeded · took 2h", "promoted v1.0.0-elite serves 100% of traffic",
			"5% ✓ → 10% ✓ → 25% ✓ → 50% ✓ → 100% ✓", "canary 100% · stable 0%", "on 100%", "pass"},
	},
	{
		// Step 2 needs a person's approval within 1h; 3m after its hold.
		name: "awaiting_approval",
		setup: func(t *testing.T) *drive {
			p := runbookPlan()
			p.Spec.Steps[1].Approval = &canary.Approval{Manual: true, Timeout: pdur("1h")}
			d := newDrive(t, p)
			d.runTo(t0.Add(63 * minute))
			return d
		},
		phase: canary.PhaseProgressing,
		want:  []string{"30m done", "awaiting approval 3m (manual), pauses in 57m", "10% ●"},
	},
	{
		// Setting the weight of step 2 has failed for 1m: the block says
		// what is being done and why it keeps failing.
		name: "action_failing",
		setup: func(t *testing.T) *drive {
			d := newDrive(t, runbookPlan())
			d.Fail = func(a canary.Action) string {
				if a.Kind == canary.ActSetWeight && a.Weight == 10 {
					return "helm upgrade: context deadline exceeded"
				}
				return ""
			}
			d.runTo(t0.Add(31 * minute))
			return d
		},
		phase: canary.PhaseProgressing,
		want: []string{"starts once the canary weight is 10%", "doing    set canary weight to 10%",
			"error    helm upgrade: context deadline exceeded (failing for 1m, retry in 10s)",
			"canary 5% · stable 95%", "flag release_20250814 on 10%"},
	},
	{
		// A person paused during step 1; the pause reason names them.
		name: "paused_by_person",
		setup: func(t *testing.T) *drive {
			d := newDrive(t, runbookPlan())
			d.runTo(t0.Add(10 * minute))
			d.control(engine.Command{Kind: engine.CmdPause, Actor: "alice"})
			d.runTo(t0.Add(12 * minute))
			return d
		},
		phase: canary.PhasePaused,
		want:  []string{"paused   for 2m: paused by alice", "10m of 30m, 20m left", "stopped while paused"},
	},
}

func TestStatusGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			d := sc.setup(t)
			if d.State.Phase != sc.phase {
				t.Fatalf("phase = %s, want %s; reason %q %q", d.State.Phase, sc.phase, d.State.PauseReason, d.State.RollbackReason)
			}
			got := d.status(100)
			for _, w := range sc.want {
				if !strings.Contains(got, w) {
					t.Errorf("block lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "\x1b") {
				t.Errorf("plain block holds an escape sequence:\n%q", got)
			}
			golden(t, "status_"+sc.name+".txt", got)
		})
	}
}

// TestStatusProgressingRows pins the table row of every rule at the
// pending moment, beyond what the golden file shows.
func TestStatusProgressingRows(t *testing.T) {
	d := scenarios[0].setup(t)
	got := d.status(0)
	wantRows := []string{
		// 200 requests/s × 25% × the 30s window = 1500 canary requests.
		"latencyP95 > 600ms for 5m    650ms    > 600ms   450ms     1500  pending 2m30s of 5m",
		"latencyP95 > 1000ms for 2m   650ms   > 1000ms   450ms     1500  pass",
		"errorRate > 1% for 5m         0.1%       > 1%    0.1%     1500  pass",
		"burnRate > 2x for 10m           1x       > 2x      1x     1500  pass",
	}
	for _, w := range wantRows {
		if !strings.Contains(got, w+"\n") {
			t.Errorf("no row %q in\n%s", w, got)
		}
	}
}

// TestStatusTimersMoveBetweenEvaluations draws the same state later: the
// hold and pending timers follow now, not the last evaluation.
func TestStatusTimersMoveBetweenEvaluations(t *testing.T) {
	d := scenarios[0].setup(t)
	got := Status(d.Plan, d.State, d.Last, d.Now.Add(20*time.Second), 0)
	for _, w := range []string{"12m50s of 30m, 17m10s left", "pending 2m50s of 5m"} {
		if !strings.Contains(got, w) {
			t.Errorf("block lacks %q:\n%s", w, got)
		}
	}
}

func TestStatusColor(t *testing.T) {
	d := scenarios[0].setup(t)
	plain := d.status(100)
	colored := Render(d.Plan, d.State, d.Last, d.Now, Options{Color: true, Width: 100})
	if !strings.Contains(colored, "\x1b[1;33mpending 2m30s of 5m\x1b[0m") {
		t.Errorf("pending verdict not bold yellow:\n%q", colored)
	}
	if got := stripANSI(colored); got != plain {
		t.Errorf("colored block without its escapes differs from the plain one:\n got:\n%s\nwant:\n%s", got, plain)
	}
	golden(t, "status_progressing_pending_color.txt", colored)
}

func TestStatusWidth(t *testing.T) {
	d := scenarios[0].setup(t)
	for _, w := range []int{72, 48, 30} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			golden(t, fmt.Sprintf("status_width%d.txt", w), d.status(w))
		})
	}
}

// TestStatusNeverWiderThanWidth draws every scenario at every width from
// 10 to 110 columns, with and without colors.
func TestStatusNeverWiderThanWidth(t *testing.T) {
	for _, sc := range scenarios {
		d := sc.setup(t)
		for w := 10; w <= 110; w++ {
			for _, color := range []bool{false, true} {
				block := Render(d.Plan, d.State, d.Last, d.Now, Options{Width: w, Color: color})
				for _, l := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
					// Every rune of these blocks is one column wide.
					if n := utf8.RuneCountInString(stripANSI(l)); n > w {
						t.Fatalf("%s at width %d (color %v): line of %d columns: %q", sc.name, w, color, n, l)
					}
				}
			}
		}
	}
}

func TestStatusWideRuleName(t *testing.T) {
	p := runbookPlan()
	p.Spec.Rules = p.Spec.Rules[:1]
	p.Spec.Rules[0].Name = "延迟 P95 超过 600 毫秒 持续五分钟"
	st := engine.New(p, t0)
	got := Status(p, st, nil, t0, 40)
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if w := textWidth(l); w > 40 {
			t.Errorf("line of %d columns: %q", w, l)
		}
	}
	if !strings.Contains(got, "延迟 P95") || !strings.Contains(got, "waiting") {
		t.Errorf("wide name not shown truncated with its verdict:\n%s", got)
	}
}

func TestStatusBeforeTraffic(t *testing.T) {
	p := runbookPlan()
	st := engine.Next(p, engine.New(p, t0), engine.Input{Now: t0}).State
	got := Status(p, st, nil, t0.Add(2*time.Second), 0)
	want := "recoveryos-elite v1.0.0-elite · PreChecks · running 2s\n" +
		"steps    5% → 10% → 25% → 50% → 100%\n" +
		"checks   1 running before any traffic moves\n" +
		"traffic  canary 0% · stable 100%   flag release_20250814 off\n" +
		"RULE                        CANARY  THRESHOLD  VERDICT\n" +
		"latencyP95 > 600ms for 5m        –    > 600ms  waiting\n"
	if !strings.HasPrefix(got, want) {
		t.Errorf("got:\n%s\nwant it to start with:\n%s", got, want)
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		s    string
		w    int
		max  int
		want []string
	}{
		{"a bc def", 4, 3, []string{"a bc", "def"}},
		{"abcdefghij", 4, 3, []string{"abcd", "efgh", "ij"}},
		// The last allowed line ends in … when text is left out.
		{"one two three four five", 8, 2, []string{"one two", "three f…"}},
		{"", 5, 2, []string{""}},
		{"no limit here", 0, 1, []string{"no limit here"}},
	}
	for _, tt := range tests {
		got := wrap(tt.s, tt.w, tt.max)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("wrap(%q, %d, %d) = %q, want %q", tt.s, tt.w, tt.max, got, tt.want)
		}
	}
}

func TestTextWidth(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"abc", 3},
		{"5% ✓ → 10% ●", 12},
		{"延迟", 4},
		{"🚨 ROLLBACK", 11},
		{"e\u0301", 1}, // e + combining acute
		{"↩️", 1},      // arrow + variation selector
	}
	for _, tt := range tests {
		if got := textWidth(tt.s); got != tt.want {
			t.Errorf("textWidth(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}
