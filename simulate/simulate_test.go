package simulate

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
)

func loadPlan(t *testing.T, name string) *canary.Plan {
	t.Helper()
	p, err := plan.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func loadScenario(t *testing.T, name string) *Scenario {
	t.Helper()
	sc, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func parseScenario(t *testing.T, src string) *Scenario {
	t.Helper()
	sc, err := Parse("scenario.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestExpectedTimeline: without sampling, the runbook's matrix rolls a
// 1.5% error spike (from 45m) back when its rule says, judged with
// confidence: 1.5% against 1% is evidence once the rule pools ten 30s
// windows of the spike (its first breach at 49m30s), and it fires 5
// minutes later, each window adding new evidence.
func TestExpectedTimeline(t *testing.T) {
	res, err := Run(loadPlan(t, "runbook.yaml"), loadScenario(t, "spike.yaml"), Options{Events: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.RolledBack || res.Rule != "errorRate > 1% for 5m" || res.RollbackAt != 54*time.Minute+30*time.Second {
		t.Errorf("rolled back %v at %v by %q, want at 54m30s by errorRate > 1%% for 5m", res.RolledBack, res.RollbackAt, res.Rule)
	}
	if res.Phase != canary.PhaseRolledBack || res.Kind != canary.ActionRollbackGradual {
		t.Errorf("phase %s kind %s, want RolledBack, gradual", res.Phase, res.Kind)
	}
	var b strings.Builder
	if err := WriteTimeline(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stepStarted      step 2 (10%)", "49m30s  10%  rulePending      errorRate > 1% for 5m pending",
		"=> rolled back 54m30s after the start"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("timeline lacks %q:\n%s", want, b.String())
		}
	}
}

func TestHealthyPromotes(t *testing.T) {
	res, err := Run(loadPlan(t, "runbook.yaml"), loadScenario(t, "healthy.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Phase != canary.PhaseSucceeded || res.RolledBack || res.End != 2*time.Hour {
		t.Errorf("phase %s rolled back %v after %v, want promoted after the 2h of holds", res.Phase, res.RolledBack, res.End)
	}
}

// TestSeedReproducible: a sampled run is the same for the same seed and
// stream, differs for another seed, and many runs give the same summary
// whatever the number of workers.
func TestSeedReproducible(t *testing.T) {
	p, sc := loadPlan(t, "runbook.yaml"), loadScenario(t, "spike.yaml")
	sc.Noise = Noise{Every: canary.Duration(30 * time.Second), Latency: 0.1, ErrorRate: 0.3, RPS: 0.1, Shared: 0.05}
	run := func(seed, stream uint64) Result {
		res, err := Run(p, sc, Options{Sampled: true, Seed: seed, Stream: stream, Events: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(7, 3), run(7, 3)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two runs with seed 7 stream 3 differ:\n%+v\n%+v", a.RollbackAt, b.RollbackAt)
	}
	differ := false
	for s := uint64(1); s <= 5 && !differ; s++ {
		differ = !reflect.DeepEqual(run(7, 3).Events, run(8+s, 3).Events)
	}
	if !differ {
		t.Error("runs with other seeds gave the same events: the seed is not used")
	}
	one, err := Many(p, sc, 12, 42, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	four, err := Many(p, sc, 12, 42, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, four) {
		t.Errorf("1 worker: %+v\n4 workers: %+v", one, four)
	}
}

// TestSharedDegradation: a dependency degrading both tracks at once
// rolls the canary back under the runbook's thresholds but not under
// baseline rules.
func TestSharedDegradation(t *testing.T) {
	sc := loadScenario(t, "shared.yaml")
	abs, err := Run(loadPlan(t, "runbook.yaml"), sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	base, err := Run(loadPlan(t, "baseline.yaml"), sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !abs.RolledBack || base.RolledBack || base.Phase != canary.PhaseSucceeded {
		t.Errorf("runbook rolled back %v (want true); baseline rules rolled back %v, phase %s (want false, promoted)",
			abs.RolledBack, base.RolledBack, base.Phase)
	}
	s := Summarize(sc.Expect, 0, []Result{abs, base})
	if s.FalseRollbacks != 1 || s.Missed != 0 {
		t.Errorf("summary %+v, want the runbook's rollback counted as false", s)
	}
}

// TestTrafficMatchesScenario: measurements over the generated traffic
// give the scenario's values: requests at the weight's share, the error
// rate, and latency quantiles within the bins' 2.5%.
func TestTrafficMatchesScenario(t *testing.T) {
	sc := parseScenario(t, `rps: 200
stable: {p50: 200ms, p95: 450ms, errorRate: 0.1%}
canary: {p95: 900ms, errorRate: 2%}
changes:
  - {at: 10m, over: 10m, track: canary, errorRate: 4%}
  - {at: 30m, until: 40m, rps: 100}
`)
	for _, sampled := range []bool{false, true} {
		tr := newTraffic(sc, Start, 10*time.Second, nil)
		if sampled {
			tr = newTraffic(sc, Start, 10*time.Second, newRand(1, 1))
		}
		tr.setWeight(Start, 25)
		at := func(d time.Duration) time.Time { return Start.Add(d) }
		q := func(m canary.Metric, track canary.Track, w, end time.Duration) canary.Measurement {
			ms, err := tr.Measure(context.Background(), canary.Query{Metric: m, Track: track, Window: w, At: at(end)})
			if err != nil {
				t.Fatal(err)
			}
			return ms
		}
		tol := 1e-9
		if sampled {
			tol = 0.1
		}
		checks := []struct {
			what      string
			got, want float64
			rel       float64
		}{
			{"canary requests in 5m", float64(q(canary.MetricErrorRate, canary.TrackCanary, 5*time.Minute, 5*time.Minute).Samples), 200 * 0.25 * 300, tol},
			{"stable error rate", q(canary.MetricErrorRate, canary.TrackStable, 20*time.Minute, 30*time.Minute).Value, 0.001, 2 * tol},
			{"canary error rate", q(canary.MetricErrorRate, canary.TrackCanary, 5*time.Minute, 5*time.Minute).Value, 0.02, tol},
			{"canary error rate halfway up the ramp", q(canary.MetricErrorRate, canary.TrackCanary, 10*time.Second, 15*time.Minute+10*time.Second).Value, 0.03, 50 * tol},
			{"canary error rate after the ramp", q(canary.MetricErrorRate, canary.TrackCanary, 5*time.Minute, 25*time.Minute).Value, 0.04, tol},
			{"stable p95", q("latencyP95", canary.TrackStable, 5*time.Minute, 25*time.Minute).Value, 0.45, 0.025 + tol},
			{"stable p50", q("latencyP50", canary.TrackStable, 5*time.Minute, 25*time.Minute).Value, 0.2, 0.025 + tol},
			{"canary p95", q("latencyP95", canary.TrackCanary, 5*time.Minute, 25*time.Minute).Value, 0.9, 0.025 + tol},
			{"requests while rps is 100", q(canary.MetricRequestRate, canary.TrackStable, 5*time.Minute, 35*time.Minute).Value, 75, tol},
			{"requests after", q(canary.MetricRequestRate, canary.TrackStable, 5*time.Minute, 45*time.Minute).Value, 150, tol},
		}
		for _, c := range checks {
			if math.Abs(c.got-c.want) > c.rel*c.want {
				t.Errorf("sampled=%v: %s = %v, want %v (±%.1f%%)", sampled, c.what, c.got, c.want, 100*c.rel)
			}
		}
		if h := q("latencyP95", canary.TrackStable, time.Minute, 25*time.Minute).Latency; len(h) < 20 {
			t.Errorf("sampled=%v: %d latency buckets, want a histogram", sampled, len(h))
		}
	}
}

// TestEndpoints: an endpoint with its own error rate adds its share.
func TestEndpoints(t *testing.T) {
	sc := parseScenario(t, `rps: 100
stable: {p50: 100ms, p95: 200ms, errorRate: 0%}
endpoints: [{name: search, share: 10%}]
changes: [{at: 0s, track: canary, endpoint: search, errorRate: 50%}]
`)
	tr := newTraffic(sc, Start, 10*time.Second, nil)
	tr.setWeight(Start, 50)
	for _, tc := range []struct {
		track canary.Track
		want  float64
	}{{canary.TrackCanary, 0.05}, {canary.TrackStable, 0}} {
		m, _ := tr.Measure(context.Background(), canary.Query{Metric: canary.MetricErrorRate, Track: tc.track, Window: time.Minute, At: Start.Add(time.Minute)})
		if math.Abs(m.Value-tc.want) > 1e-9 || m.Samples != 3000 {
			t.Errorf("%s: error rate %v over %d requests, want %v over 3000", tc.track, m.Value, m.Samples, tc.want)
		}
	}
}

func TestSeries(t *testing.T) {
	dir := t.TempDir()
	csv := "# recorded per track\nat,track,rps,p95,errorRate\n0,both,200,450ms,0.1%\n60s,canary,,650ms,\n2m,canary,,,2%\n"
	if err := os.WriteFile(filepath.Join(dir, "rec.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte("series: rec.csv\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m := newModel(sc)
	seg := m.segments[0]
	for _, c := range []struct {
		at    time.Duration
		ti    int
		f     field
		want  float64
		label string
	}{
		{30 * time.Second, 1, fieldP95, 0.45, "canary p95 before 60s"},
		{90 * time.Second, 1, fieldP95, 0.65, "canary p95 from 60s"},
		{90 * time.Second, 0, fieldP95, 0.45, "stable p95 from 60s"},
		{3 * time.Minute, 1, fieldErrorRate, 0.02, "canary errors from 2m"},
		{3 * time.Minute, 1, fieldP95, 0.65, "canary p95 holds"},
	} {
		if got := m.value(seg, c.ti, c.f, c.at); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", c.label, got, c.want)
		}
	}
	if got := m.rps(time.Hour); got != 200 {
		t.Errorf("rps %v, want 200 from the series", got)
	}
}

func TestScenarioErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"rps: 200\nstable: {p95: 1s}\nfoo: 1\n", "field foo not found"},
		{"stable: {p95: 1s}\n", "rps: required"},
		{"rps: 10\nstable: {p50: 1s, p95: 500ms}\n", "stable: p95 500ms is not above p50 1s"},
		{"rps: 10\nchanges: [{at: 1m, track: canaries, errorRate: 1%}]\n", `changes[0].track: "canaries"`},
		{"rps: 10\nchanges: [{at: 1m, track: canary, endpoint: x, errorRate: 1%}]\n", `changes[0].endpoint: "x"`},
		{"rps: 10\nendpoints: [{name: a, share: 70%}, {name: b, share: 40%}]\n", "more than 100%"},
		{"rps: 10\nstable: {errorRate: 1}\n", "not a percentage"},
		{"rps: 10\nchanges: [{at: 1m, until: 1m, track: canary, errorRate: 1%}]\n", "changes[0].until"},
	}
	for _, tt := range tests {
		_, err := Parse("s.yaml", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.src, err, tt.want)
		}
	}
}
