package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/enginetest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/web/webtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenFile compares got with testdata/output/name, rewriting it with
// -update.
func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "output", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReadOutputs -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -run TestReadOutputs -update rewrites it); got:\n%s", name, got)
	}
}

// simulated drives the engine on a stepped clock from start (every
// action done at once) until stop says so or the rollout ends, and
// returns the rollout as the API would show it, with its events.
func simulated(t *testing.T, name, yaml string, start time.Time, canaryServes enginetest.Served,
	stop func(canary.State) bool) (api.Rollout, []canary.Event, *canary.Plan, time.Time) {
	t.Helper()
	p, err := plan.Parse("plan.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d := enginetest.NewDriver(p, start, nil)
	d.Observe = func(q canary.Query) canary.Observation {
		m := enginetest.Served{ErrRate: 0.001, P95: 420 * time.Millisecond}
		if q.Track == canary.TrackCanary {
			m = canaryServes
		}
		return enginetest.Observe(q, d.State.Weight, 200, m)
	}
	for i := 0; i < 10000 && !d.State.Phase.Terminal() && (stop == nil || !stop(d.State)); i++ {
		out := d.Cycle()
		switch {
		case len(out.Actions) > 0:
		case out.WakeAt.After(d.Now):
			d.Now = out.WakeAt
		default:
			d.Now = d.Now.Add(time.Second)
		}
	}
	st, now, evs := d.State, d.Now, d.Events
	var last []canary.Evaluation // as the manager keeps them: of any event
	for _, ev := range evs {
		if len(ev.Evaluations) > 0 {
			last = ev.Evaluations
		}
	}
	r := api.Rollout{Name: name, Generation: 1, Plan: p, State: st, LastEvaluations: last, CreatedAt: start, UpdatedAt: now}
	return r, evs, p, now
}

// TestReadOutputs is the golden test of every read command's -o: get
// (table, wide, json, yaml, name), describe and events (text, json,
// yaml) and report (markdown, json), on two rollouts made by the real
// engine on a stepped clock: web rolled back by its latency rule at 10%,
// api paused by alice with a reason. Times are fixed (webtest.T0), so the
// outputs are byte for byte the same on every run.
func TestReadOutputs(t *testing.T) {
	e := newCtlEnv(t)
	start := webtest.T0.Add(-time.Hour)
	slow := enginetest.Served{ErrRate: 0.002, P95: 742 * time.Millisecond}
	web, webEvs, _, _ := simulated(t, "default/web", ctlPlan, start, slow, nil)
	if web.State.Phase != canary.PhaseRolledBack {
		t.Fatalf("web: %s, want RolledBack", web.State.Phase)
	}
	e.api.Put(web, webEvs...)
	apiPlan := strings.Replace(strings.Replace(ctlPlan, "name: web", "name: api", 1), "release_web", "release_api", 1)
	healthy := enginetest.Served{ErrRate: 0.001, P95: 400 * time.Millisecond}
	ro, evs, p, now := simulated(t, "default/api", apiPlan, start.Add(10*time.Minute), healthy,
		func(st canary.State) bool { return st.Judged >= 3 })
	out, err := engine.Control(p, ro.State, engine.Command{Kind: engine.CmdPause, Actor: "alice", Reason: "checking the dashboard"}, now)
	if err != nil {
		t.Fatal(err)
	}
	ro.State = out.State
	e.api.Put(ro, append(evs, out.Events...)...)

	for _, o := range getFormats {
		goldenFile(t, "get."+o, e.ok("get", "-o", o))
	}
	goldenFile(t, "get-one.table", e.ok("get", "api"))
	for _, o := range describeFormats {
		goldenFile(t, "describe."+o, e.ok("describe", "web", "-o", o))
	}
	for _, o := range eventFormats {
		goldenFile(t, "events."+o, e.ok("events", "web", "-o", o))
	}
	goldenFile(t, "report.markdown", e.ok("report", "web"))
	goldenFile(t, "report.json", e.ok("report", "web", "-o", "json"))
	if e.ok("report", "web", "-o", "markdown") != e.ok("report", "web") {
		t.Error("report -o markdown differs from the default")
	}
	for cmd, fs := range map[string][]string{"get": getFormats, "describe": describeFormats, "events": eventFormats, "report": reportFormats} {
		has(t, e.fails(ExitInvalid, cmd, "web", "-o", "xml"), `-o "xml": use `+strings.Join(fs, " or "))
	}
}
