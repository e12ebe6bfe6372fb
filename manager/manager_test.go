package manager_test

import (
	"context"
	"fmt"
	"github.com/canary-dev/canary/api"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
)

func planYAML(name, version string, hold string) []byte {
	return fmt.Appendf(nil, `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: team}
spec:
  version: %s
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  featureFlag: {name: f-%s}
  steps: [{weight: 10, hold: %s}, {weight: 50, hold: %s}, {weight: 100}]
  analysis: {interval: 50ms, minRequests: 10}
  rules:
    - {metric: errorRate, above: 5%%, window: 50ms, for: 100ms, action: rollback-immediate, urgency: critical}
  rollback: {drain: 100ms}
`, name, version, name, hold, hold)
}

// world holds the fake providers of every rollout a manager runs.
type world struct {
	mu      sync.Mutex
	routers map[string]*canarytest.Router
	bad     map[string]bool
}

func newWorld() *world {
	return &world{routers: map[string]*canarytest.Router{}, bad: map[string]bool{}}
}

func (w *world) router(name string) *canarytest.Router {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.routers[name] == nil {
		w.routers[name] = &canarytest.Router{}
	}
	return w.routers[name]
}

func (w *world) providers(_ context.Context, p *canary.Plan) (manager.Providers, error) {
	r := w.router(p.Metadata.Name)
	metrics := canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
		v := 0.2
		if q.Metric == canary.MetricErrorRate {
			v = 0.001
			w.mu.Lock()
			if w.bad[p.Metadata.Name] && q.Track == canary.TrackCanary {
				v = 0.2
			}
			w.mu.Unlock()
		}
		return canary.Measurement{Value: v, Samples: 1000}, nil
	})
	return manager.Providers{Router: r, Metrics: metrics, Flags: &flags.Memory{}, Checks: &canarytest.Checker{}}, nil
}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newManager(t *testing.T, st *store.Store, w *world) (*manager.Manager, context.CancelFunc) {
	t.Helper()
	m, err := manager.New(manager.Config{Store: st, Providers: w.providers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); m.Wait() })
	return m, cancel
}

// waitPhase polls until name reaches one of phases.
func waitPhase(t *testing.T, m *manager.Manager, name string, phases ...canary.Phase) api.Rollout {
	t.Helper()
	var r api.Rollout
	canarytest.WaitUntil(t, 20*time.Second, fmt.Sprintf("%s in %v", name, phases), func() bool {
		got, err := m.Get(t.Context(), name)
		r = got
		return err == nil && slices.Contains(phases, r.State.Phase)
	})
	return r
}

func TestApplyIsIdempotentAndRunsToTheEnd(t *testing.T) {
	w := newWorld()
	m, _ := newManager(t, openStore(t, filepath.Join(t.TempDir(), "c.db")), w)
	ctx := t.Context()
	res, err := m.Apply(ctx, planYAML("web", "v2", "300ms"), false, "alice")
	if err != nil || !res.Created || res.Rollout.Name != "team/web" || res.Rollout.Generation != 1 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	again, err := m.Apply(ctx, planYAML("web", "v2", "300ms"), false, "alice")
	if err != nil || !again.Unchanged || again.Rollout.ID != res.Rollout.ID {
		t.Fatalf("re-apply: %+v, %v; want unchanged", again, err)
	}
	if _, err := m.Apply(ctx, planYAML("web", "v2", "400ms"), false, "alice"); canary.ErrorCode(err) != canary.ECONFLICT {
		t.Fatalf("changed spec mid-rollout: %v, want conflict", err)
	}
	if _, err := m.Apply(ctx, planYAML("web", "v3", "300ms"), true, "alice"); canary.ErrorCode(err) != canary.ECONFLICT {
		t.Fatalf("new version mid-rollout: %v, want conflict", err)
	}
	if _, err := m.Apply(ctx, planYAML("web", "v2", "200ms"), true, "alice"); err != nil {
		t.Fatalf("forced change: %v", err)
	}
	r := waitPhase(t, m, "team/web", canary.PhaseSucceeded)
	// The forced change restarts the runner, which re-applies the confirmed
	// weight in place.
	if got, want := slices.Compact(w.router("web").Log()), []string{"w10", "w50", "w100", "promote", "removeCanary"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", w.router("web").Log(), want)
	}
	evs, err := m.Events(ctx, "team/web", 0, 0)
	if err != nil || int64(len(evs)) != r.State.EventSeq {
		t.Fatalf("%d events for seq %d: %v", len(evs), r.State.EventSeq, err)
	}
	// The forced change is in the audit trail: who changed which section.
	forced := 0
	for _, ev := range evs {
		if ev.Type == canary.EvCommand && ev.Actor == "alice" && ev.Message == "plan replaced by alice: steps" {
			forced++
		}
	}
	if forced != 1 {
		t.Errorf("%d events record the forced change, want 1", forced)
	}
	next, err := m.Apply(ctx, planYAML("web", "v3", "200ms"), false, "alice")
	if err != nil || !next.Created || next.Rollout.Generation != 2 {
		t.Fatalf("new version after the end: %+v, %v", next, err)
	}
	waitPhase(t, m, "team/web", canary.PhaseSucceeded)
	if res, err := m.Delete(ctx, "team/web"); err != nil || !slices.Equal(res.Generations, []int{1, 2}) {
		t.Errorf("delete finished: %+v, %v; want both generations gone", res, err)
	}
}

func TestInvalidPlanIsRejected(t *testing.T) {
	m, _ := newManager(t, openStore(t, filepath.Join(t.TempDir(), "c.db")), newWorld())
	_, err := m.Apply(t.Context(), []byte("kind: Rollout\nspec: {steps: [{weight: 200}]}\n"), false, "x")
	if err == nil || !strings.Contains(err.Error(), "plan:") {
		t.Fatalf("err = %v, want plan errors with positions", err)
	}
}

func TestControlsAndRetry(t *testing.T) {
	w := newWorld()
	w.bad["api"] = true
	m, _ := newManager(t, openStore(t, filepath.Join(t.TempDir(), "c.db")), w)
	ctx := t.Context()
	if _, err := m.Apply(ctx, planYAML("api", "v2", "10s"), false, "ops"); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, m, "team/api", canary.PhaseRolledBack)
	if r.State.RollbackKind != canary.ActionRollbackImmediate {
		t.Fatalf("rollback kind %s", r.State.RollbackKind)
	}
	if _, err := m.Control(ctx, "team/api", engine.Command{Kind: engine.CmdPause}); canary.ErrorCode(err) != canary.ECONFLICT {
		t.Fatalf("pause of a rolled-back rollout: %v, want conflict", err)
	}
	w.mu.Lock()
	w.bad["api"] = false
	w.mu.Unlock()
	if _, err := m.Control(ctx, "team/api", engine.Command{Kind: engine.CmdRetry, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, m, "team/api", canary.PhaseProgressing)
	if _, err := m.Control(ctx, "team/api", engine.Command{Kind: engine.CmdPause, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, m, "team/api", canary.PhasePaused)
	if _, err := m.Delete(ctx, "team/api"); canary.ErrorCode(err) != canary.ECONFLICT {
		t.Errorf("delete of a paused rollout: %v, want conflict", err)
	}
	if _, err := m.Control(ctx, "team/api", engine.Command{Kind: engine.CmdPromote, Full: true, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, m, "team/api", canary.PhaseSucceeded)
}

// TestRestartResumes stops a manager mid-rollout (as a shutdown does) and
// starts another on the same store: the rollout finishes where it was,
// with no step repeated.
func TestRestartResumes(t *testing.T) {
	w := newWorld()
	path := filepath.Join(t.TempDir(), "c.db")
	st := openStore(t, path)
	m1, cancel := newManager(t, st, w)
	if _, err := m1.Apply(t.Context(), planYAML("svc", "v2", "400ms"), false, "x"); err != nil {
		t.Fatal(err)
	}
	canarytest.WaitUntil(t, 20*time.Second, "svc at weight 50", func() bool { return w.router("svc").Weight() == 50 })
	cancel()
	m1.Wait()
	mid, _ := m1.Get(t.Context(), "team/svc")
	if mid.State.Phase.Terminal() {
		t.Fatalf("finished before the restart: %s", mid.State.Phase)
	}
	m2, _ := newManager(t, st, w)
	waitPhase(t, m2, "team/svc", canary.PhaseSucceeded)
	// The resumed runner re-applies the confirmed weight (stateless
	// providers start empty), so w50 may repeat in place; nothing else.
	if got, want := slices.Compact(w.router("svc").Log()), []string{"w10", "w50", "w100", "promote", "removeCanary"}; !slices.Equal(got, want) {
		t.Errorf("actions across the restart %v, want %v", w.router("svc").Log(), want)
	}
}
