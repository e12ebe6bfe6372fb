package providers_test

// The shared harness of the whole-rollout tests of the metric sources:
// one loop feeds traffic into a source's store at the driver's time and
// runs the rollout through the engine on a stepped clock, and one set of
// scenarios (promotion, immediate rollback, gradual rollback, an outage)
// with the same assertions runs against every registered source.
//
// To add a source, register it from its own file:
//
//	func init() {
//		rolloutSources = append(rolloutSources, rolloutSource{name: "graphite", outage: "connection refused", start: ...})
//	}
//
// start starts the source's servers once for its subtest and returns an
// opener giving each rollout a fresh feedSource: the plan's metrics
// block, Feed (write the requests into the store: points, per-second
// sums, whatever the source reads) and Down (a real outage and its end).

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/enginetest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/providers"
)

// rolloutPlan is a rollout of minutes (driven on a stepped clock)
// measured by the metrics block given; the interval is the coarsest
// source's resolution (CloudWatch's minute).
const rolloutPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: shop, namespace: prod}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 20, hold: 5m}, {weight: 50, hold: 5m}, {weight: 100}]
  analysis:
    interval: 1m
    minRequests: 50
    maxHoldExtension: 3m
    metrics: %s
  rules:
    - {metric: errorRate, above: 5%%, window: 2m, action: rollback-immediate, urgency: critical}
    - {metric: latencyP95, above: 500ms, window: 2m, for: 2m, action: rollback-gradual}
`

// request is one request a track served: when, how long it took, its
// HTTP status.
type request struct {
	At      time.Time
	Latency time.Duration
	Status  int
}

// feedSource is one rollout's view of a source's store.
type feedSource interface {
	// Metrics is the plan's analysis.metrics block (YAML) reading the
	// store.
	Metrics() string
	// Feed writes the requests a track served into the store.
	Feed(t testing.TB, track canary.Track, reqs []request)
	// Down takes the source away (true: its server stops answering) or
	// brings it back with its data (false).
	Down(t testing.TB, down bool)
}

// rolloutSource is a source the rollout scenarios run against.
type rolloutSource struct {
	name string
	// outage is text the rollout's events show while the source is down
	// ("503", "connection refused").
	outage string
	// start starts the source's servers for t (the source's subtest,
	// whose scenarios share them) and returns an opener of a fresh store
	// per rollout.
	start func(t *testing.T) func(t *testing.T) feedSource
	// env, when set, is called first (credentials in the environment).
	env func(t *testing.T)
}

// rolloutSources are the registered sources, in their files' init.
var rolloutSources []rolloutSource

// canaryServes is what the canary does in a scenario, at a step and its
// elapsed time; the stable serves 1% errors at 100ms.
type canaryServes func(step int, elapsed time.Duration) (errRate, latency float64)

// rps is the service's traffic, split between the tracks by the weight.
const rps = 20

// served is n requests spread evenly over [from, to): errRate of them
// 5xx (spread evenly too), latencies from 80% to 100% of latency
// (seconds).
func served(from, to time.Time, n int, errRate, latency float64) []request {
	reqs := make([]request, n)
	gap := to.Sub(from) / time.Duration(max(n, 1))
	for i := range reqs {
		status := 200
		if math.Floor(float64(i+1)*errRate) > math.Floor(float64(i)*errRate) {
			status = 503
		}
		l := latency * (0.8 + 0.2*float64(i%20)/19)
		reqs[i] = request{At: from.Add(gap/2 + time.Duration(i)*gap), Latency: time.Duration(l * float64(time.Second)), Status: status}
	}
	return reqs
}

// rollout is a rollout in progress against a feedSource.
type rollout struct {
	t       *testing.T
	fs      feedSource
	d       *enginetest.Driver
	serves  canaryServes
	down    bool
	timeout time.Duration
}

// startsAt is a feedSource whose store only keeps points near the real
// time (Graphite keeps a day, and no future points): its rollouts start
// at Start instead of 2026-12-01 10:00.
type startsAt interface{ Start() time.Time }

// startRollout parses the plan reading fs and starts it at 10:00 (or
// fs's Start).
func startRollout(t *testing.T, fs feedSource, serves canaryServes) *rollout {
	t.Helper()
	p, err := plan.Parse("plan.yaml", []byte(fmt.Sprintf(rolloutPlan, fs.Metrics())))
	if err != nil {
		t.Fatal(err)
	}
	src, err := providers.Metrics(t.Context(), p, providers.Env{Host: "canary run"})
	if err != nil {
		t.Fatal(err)
	}
	r := &rollout{t: t, fs: fs, serves: serves, timeout: time.Minute}
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if st, ok := fs.(startsAt); ok {
		start = st.Start()
	}
	r.d = enginetest.NewDriver(p, start, func(q canary.Query) canary.Observation {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		defer cancel()
		m, err := src.Measure(ctx, q)
		o := canary.Observation{Query: q, Measurement: m}
		if err != nil {
			o.Err = err.Error()
		}
		return o
	})
	return r
}

// setDown starts or ends an outage. During one each query has less time
// than the first retry's backoff, so it is tried once and the test does
// not wait out the retries (the sources' own tests check those).
func (r *rollout) setDown(down bool) {
	if down == r.down {
		return
	}
	r.down = down
	r.fs.Down(r.t, down)
	r.timeout = time.Minute
	if down {
		r.timeout = 90 * time.Millisecond
	}
}

// run drives the rollout minute by minute for at most limit, until it
// ends or pauses, asking outage (when set) before each minute whether the
// source is down.
func (r *rollout) run(limit time.Duration, outage func(*enginetest.Driver) bool) *enginetest.Driver {
	r.t.Helper()
	d := r.d
	for end := d.Now.Add(limit); d.Now.Before(end) && !d.State.Phase.Terminal() && d.State.Phase != canary.PhasePaused; {
		if outage != nil {
			r.setDown(outage(d))
		}
		r.minute()
	}
	return d
}

// minute feeds the next minute's requests of both tracks at the current
// weight into the store (unless the source is down: nothing is recorded
// then) and drives the engine through it.
func (r *rollout) minute() {
	r.t.Helper()
	d := r.d
	if !r.down {
		r.feed(d.Now, d.Now.Add(time.Minute))
	}
	if !d.RunTo(d.Now.Add(time.Minute), 1000) {
		r.t.Fatal("the engine did not settle")
	}
}

// feed writes what each track served over [from, to) into the store.
func (r *rollout) feed(from, to time.Time) {
	d := r.d
	share := float64(d.State.Weight) / 100
	cErr, cLat := r.serves(d.State.Step, d.StepElapsed())
	n := func(share float64) int { return int(math.Round(rps * share * to.Sub(from).Seconds())) }
	r.fs.Feed(r.t, canary.TrackCanary, served(from, to, n(share), cErr, cLat))
	r.fs.Feed(r.t, canary.TrackStable, served(from, to, n(1-share), 0.01, 0.1))
}

// The scenarios: what the canary serves.
var (
	healthy canaryServes = func(int, time.Duration) (float64, float64) { return 0.01, 0.1 }
	// failing serves 30% errors at the second step.
	failing canaryServes = func(step int, _ time.Duration) (float64, float64) {
		if step == 1 {
			return 0.3, 0.1
		}
		return 0.01, 0.1
	}
	// slow answers in 1.2s from the second step's second minute on.
	slow canaryServes = func(step int, el time.Duration) (float64, float64) {
		if step == 1 && el >= time.Minute {
			return 0.01, 1.2
		}
		return 0.01, 0.1
	}
)

// TestSourceRollouts: a whole rollout through the engine against each
// registered source, fed the tracks' requests as the clock advances: a
// healthy canary is promoted; errors at the second step roll back at
// once; a slow canary rolls back gradually; the source going down from
// the first step's second minute holds the weight, never promotes,
// pauses once the outage outlasts the hold and its extension, and once
// the source is back a resumed rollout is promoted.
func TestSourceRollouts(t *testing.T) {
	for _, src := range rolloutSources {
		t.Run(src.name, func(t *testing.T) {
			if src.env != nil {
				src.env(t)
			}
			open := src.start(t)
			t.Run("promote", func(t *testing.T) {
				d := startRollout(t, open(t), healthy).run(40*time.Minute, nil)
				if d.State.Phase != canary.PhaseSucceeded {
					t.Errorf("healthy: ended %s, want Succeeded; events:\n%s", d.State.Phase, events(d))
				}
			})
			t.Run("rollback-immediate", func(t *testing.T) {
				d := startRollout(t, open(t), failing).run(40*time.Minute, nil)
				if d.State.Phase != canary.PhaseRolledBack || !strings.HasPrefix(firedFirst(d), "errorRate") {
					t.Errorf("errors: ended %s, want RolledBack at once; events:\n%s", d.State.Phase, events(d))
				}
			})
			t.Run("rollback-gradual", func(t *testing.T) {
				d := startRollout(t, open(t), slow).run(40*time.Minute, nil)
				if d.State.Phase != canary.PhaseRolledBack || !strings.HasPrefix(firedFirst(d), "latencyP95") {
					t.Errorf("slow: ended %s, want RolledBack gradually; events:\n%s", d.State.Phase, events(d))
				}
			})
			t.Run("outage", func(t *testing.T) { testOutage(t, src, open(t)) })
		})
	}
}

// testOutage: the source goes down from the first step's second minute:
// the rollout holds its 20%, never promotes, and pauses once the outage
// outlasts maxHoldExtension; back up (a restarted server keeps its data),
// the paused rollout's rules measure again and it stays paused for a
// person, whose resume takes it to promotion without pausing again.
func testOutage(t *testing.T, src rolloutSource, fs feedSource) {
	r := startRollout(t, fs, healthy)
	d := r.run(40*time.Minute, func(d *enginetest.Driver) bool {
		return d.State.Step == 0 && d.StepElapsed() >= 2*time.Minute || d.State.Step > 0
	})
	if d.State.Phase != canary.PhasePaused || d.State.Step != 0 || d.State.Weight != 20 || hasEvent(d, canary.EvStepCompleted) {
		t.Fatalf("ended %s at step %d weight %d, want Paused at the first step's 20%%; events:\n%s",
			d.State.Phase, d.State.Step, d.State.Weight, events(d))
	}
	if ev := lastEvent(d, canary.EvPaused); !strings.Contains(ev.Message, "more than maxHoldExtension (3m)") {
		t.Errorf("paused with %q, want past maxHoldExtension", ev.Message)
	}
	if !strings.Contains(events(d), src.outage) {
		t.Errorf("the outage's errors (%q) are not in the events:\n%s", src.outage, events(d))
	}
	r.setDown(false)
	for range 3 {
		r.minute()
	}
	for _, e := range d.Last {
		if e.Verdict != canary.VerdictPass || e.Samples < 50 {
			t.Errorf("source back: %s is %s over %d samples, want pass over the minute's requests: %s", e.Rule, e.Verdict, e.Samples, e.Detail)
		}
	}
	if d.State.Phase != canary.PhasePaused || d.State.Weight != 20 {
		t.Fatalf("source back: %s at %d%%, want still Paused at 20%% (a person resumes)", d.State.Phase, d.State.Weight)
	}
	if err := d.Control(engine.Command{Kind: engine.CmdResume, Actor: "sre"}); err != nil {
		t.Fatal(err)
	}
	if r.run(40*time.Minute, nil); d.State.Phase != canary.PhaseSucceeded || countEvents(d, canary.EvPaused) != 1 {
		t.Errorf("resumed with the source back: ended %s after %d pauses, want Succeeded after the outage's only; events:\n%s",
			d.State.Phase, countEvents(d, canary.EvPaused), events(d))
	}
}

func countEvents(d *enginetest.Driver, typ canary.EventType) int {
	n := 0
	for _, ev := range d.Events {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

func hasEvent(d *enginetest.Driver, typ canary.EventType) bool { return lastEvent(d, typ).Type == typ }

// lastEvent is the last event of type typ.
func lastEvent(d *enginetest.Driver, typ canary.EventType) canary.Event {
	var last canary.Event
	for _, ev := range d.Events {
		if ev.Type == typ {
			last = ev
		}
	}
	return last
}

func events(d *enginetest.Driver) string {
	var b strings.Builder
	for _, ev := range d.Events {
		fmt.Fprintf(&b, "  %s %s %s %s %s\n", ev.Time.Format("15:04:05"), ev.Type, ev.Rule, ev.Message, ev.Error)
	}
	return b.String()
}

// firedFirst is the metric of the first rule that fired.
func firedFirst(d *enginetest.Driver) string {
	for _, ev := range d.Events {
		if ev.Type == canary.EvRuleFiring {
			return ev.Rule
		}
	}
	return ""
}

// pointStore keeps the requests fed, per track in time order, for the
// test's own servers (the web source's, the API stand-ins).
type pointStore struct {
	mu   sync.Mutex
	reqs map[canary.Track][]request
}

func (s *pointStore) Feed(_ testing.TB, track canary.Track, reqs []request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reqs == nil {
		s.reqs = map[canary.Track][]request{}
	}
	s.reqs[track] = append(s.reqs[track], reqs...)
}

// window is what track served in (from, to]: the requests, the 5xx and
// the nearest-rank percentile pct of the latencies in seconds (0 with no
// requests).
func (s *pointStore) window(track canary.Track, from, to time.Time, pct float64) (n, errs int, latency float64) {
	s.mu.Lock()
	all := s.reqs[track]
	s.mu.Unlock()
	i := sort.Search(len(all), func(i int) bool { return all[i].At.After(from) })
	j := sort.Search(len(all), func(i int) bool { return all[i].At.After(to) })
	lat := make([]float64, 0, j-i)
	for _, r := range all[i:j] {
		if r.Status >= 500 {
			errs++
		}
		lat = append(lat, r.Latency.Seconds())
	}
	if len(lat) == 0 {
		return 0, 0, 0
	}
	sort.Float64s(lat)
	rank := int(math.Ceil(pct / 100 * float64(len(lat))))
	return len(lat), errs, lat[max(rank, 1)-1]
}
