package view

import (
	"flag"
	"github.com/canary-dev/canary/enginetest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./view -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./view -update rewrites it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// stripANSI removes escape sequences.
func stripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

var t0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

const minute = time.Minute

func pdur(s string) canary.Duration {
	v, err := canary.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return canary.Duration(v)
}

func qty(s string) canary.Quantity {
	v, err := canary.ParseQuantity(s)
	if err != nil {
		panic(err)
	}
	return v
}

// runbookPlan is the runbook as a plan (enginetest.RunbookPlan) with one
// pre-check and no cleanup hook.
func runbookPlan() *canary.Plan {
	p := enginetest.RunbookPlan()
	p.Spec.PreChecks, p.Spec.Cleanup = p.Spec.PreChecks[:1], nil
	return p
}

// served is what one track serves.
type served = enginetest.Served

var healthy = served{P95: 450 * time.Millisecond, ErrRate: 0.001}

// drive runs the engine on a stepped clock the way a runner would:
// measures from a scenario, executes every action at once and keeps the
// latest evaluations, as `canary run` does for its status block.
type drive struct {
	t       *testing.T
	plan    *canary.Plan
	st      canary.State
	now     time.Time
	rps     float64
	canary  func(d *drive) served                  // the canary's metrics; the stable is healthy
	fail    func(d *drive, a canary.Action) string // an action's error, or ""
	last    []canary.Evaluation
	events  []canary.Event
	results []canary.ActionResult
}

func newDrive(t *testing.T, p *canary.Plan) *drive {
	return &drive{t: t, plan: p, st: engine.New(p, t0), now: t0, rps: 200,
		canary: func(*drive) served { return healthy }}
}

// inStep is how long the current step has held its weight.
func (d *drive) inStep() time.Duration {
	if d.st.StepStartedAt.IsZero() {
		return 0
	}
	return d.now.Sub(d.st.StepStartedAt)
}

// faultAt makes the canary serve bad from from into step index step.
func faultAt(step int, from time.Duration, bad served) func(*drive) served {
	return func(d *drive) served {
		if d.st.Step == step && d.inStep() >= from {
			return bad
		}
		return healthy
	}
}

func (d *drive) observe(q canary.Query) canary.Observation {
	m := healthy
	if q.Track == canary.TrackCanary {
		m = d.canary(d)
	}
	return enginetest.Observe(q, d.st.Weight, d.rps, m)
}

func (d *drive) cycle() engine.Output {
	out := enginetest.Cycle(d.plan, d.st, d.now, d.results, d.observe)
	d.results = nil
	d.absorb(out)
	return out
}

func (d *drive) absorb(out engine.Output) {
	d.st = out.State
	for _, ev := range out.Events {
		if ev.Type == canary.EvEvaluated && len(ev.Evaluations) > 0 {
			d.last = ev.Evaluations
		}
	}
	d.events = append(d.events, out.Events...)
	for _, a := range out.Actions {
		r := canary.ActionResult{ID: a.ID, At: d.now}
		if d.fail != nil {
			r.Err = d.fail(d, a)
		}
		d.results = append(d.results, r)
		if r.Err != "" {
			break
		}
	}
}

// runTo drives the rollout up to at (every wake-up at or before it) and
// leaves the clock at at.
func (d *drive) runTo(at time.Time) {
	d.t.Helper()
	for i := 0; i < 100_000; i++ {
		out := d.cycle()
		if len(d.results) > 0 {
			continue
		}
		switch {
		case out.WakeAt.IsZero() || d.st.Phase.Terminal() || out.WakeAt.After(at):
			d.now = at
			return
		case out.WakeAt.After(d.now):
			d.now = out.WakeAt
		}
	}
	d.t.Fatalf("rollout did not reach %v", at)
}

// control applies a person's command at the current time.
func (d *drive) control(cmd engine.Command) {
	d.t.Helper()
	out, err := engine.Control(d.plan, d.st, cmd, d.now)
	if err != nil {
		d.t.Fatal(err)
	}
	d.absorb(out)
}

func (d *drive) status(width int) string {
	return Status(d.plan, d.st, d.last, d.now, width)
}
