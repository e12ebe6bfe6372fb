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

// drive runs the engine on a stepped clock the way a runner would
// (enginetest.Driver): measures from a scenario, executes every action at
// once and keeps the latest evaluations, as `canary run` does for its
// status block.
type drive struct {
	*enginetest.Driver
	t      *testing.T
	rps    float64
	canary func(d *drive) served // the canary's metrics; the stable is healthy
}

func newDrive(t *testing.T, p *canary.Plan) *drive {
	d := &drive{t: t, rps: 200, canary: func(*drive) served { return healthy }}
	d.Driver = enginetest.NewDriver(p, t0, d.observe)
	return d
}

// faultAt makes the canary serve bad from from into step index step.
func faultAt(step int, from time.Duration, bad served) func(*drive) served {
	return func(d *drive) served {
		if d.State.Step == step && d.StepElapsed() >= from {
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
	return enginetest.Observe(q, d.State.Weight, d.rps, m)
}

// runTo drives the rollout up to at (every wake-up at or before it) and
// leaves the clock at at.
func (d *drive) runTo(at time.Time) {
	d.t.Helper()
	if !d.RunTo(at, 100_000) {
		d.t.Fatalf("rollout did not reach %v", at)
	}
}

// control applies a person's command at the current time.
func (d *drive) control(cmd engine.Command) {
	d.t.Helper()
	if err := d.Control(cmd); err != nil {
		d.t.Fatal(err)
	}
}

func (d *drive) status(width int) string {
	return Status(d.Plan, d.State, d.Last, d.Now, width)
}
