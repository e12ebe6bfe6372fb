package manager

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/store"
)

func diskPlan(name string) []byte {
	return fmt.Appendf(nil, `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: team}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: 2s}, {weight: 50, hold: 2s}, {weight: 100}]
  analysis: {interval: 50ms, minRequests: 10, maxHoldExtension: 5m}
  rules:
    - {metric: errorRate, above: 5%%, window: 200ms, for: 100ms, action: rollback-immediate}
`, name)
}

// TestFullDiskPausesRolloutsAndRecovers fills a real file system under a
// running rollout: the manager is not ready and says why, the rollout
// takes no new action, a control and an apply are code unavailable, a
// control that finds the runner between restarts does not leave the
// rollout without one (it used to), and once there is room the manager is
// ready again while the rollout is still running (it used to stay not
// ready until a rollout finished) and the rollout ends as it would have.
func TestFullDiskPausesRolloutsAndRecovers(t *testing.T) {
	ctx := t.Context()
	dir := canarytest.Tmpfs(t, "8m")
	st, err := store.Open(ctx, filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Each rollout has its own router: a write can find room on a full
	// disk (SQLite reuses WAL space after a checkpoint), so the apply of
	// "other" below may succeed; with one router shared, its actions read
	// as web's sequence run twice (w100 promote removeCanary twice).
	router, otherRouter := &canarytest.Router{}, &canarytest.Router{}
	var builds, closes atomic.Int32
	providers := func(_ context.Context, p *canary.Plan) (Providers, error) {
		if p.Metadata.Name == "other" {
			return Providers{Router: otherRouter, Metrics: canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
				return canary.Measurement{Value: 0.001, Samples: 1000}, nil
			}), Flags: &flags.Memory{}, Checks: &canarytest.Checker{}}, nil
		}
		builds.Add(1)
		metrics := canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
			return canary.Measurement{Value: 0.001, Samples: 1000}, nil
		})
		return Providers{Router: router, Metrics: metrics, Flags: &flags.Memory{}, Checks: &canarytest.Checker{},
			Close: func() { closes.Add(1) }}, nil
	}
	m, err := New(Config{Store: st, Providers: providers, RestartDelay: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); m.Wait() }()
	if err := m.Start(mctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, diskPlan("web"), false, "test"); err != nil {
		t.Fatal(err)
	}
	canarytest.WaitUntil(t, 10*time.Second, "weight 10", func() bool { return router.Weight() == 10 })

	filler := canarytest.FillDisk(t, dir)
	canarytest.WaitUntil(t, 20*time.Second, "not ready on a full disk", func() bool { return m.Ready(ctx) != nil })
	err = m.Ready(ctx)
	if canary.ErrorCode(err) != canary.EUNAVAILABLE || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Ready on a full disk: %v; want code unavailable saying disk full", err)
	}
	stored, err := st.Latest(ctx, "team/web")
	if err != nil {
		t.Fatalf("reads on a full disk: %v", err)
	}
	// A control while the runner waits to be restarted goes to the stored
	// rollout: it must fail as unavailable and leave a runner behind.
	canarytest.WaitUntil(t, 10*time.Second, "the runner between restarts", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		l := m.live["team/web"]
		return l != nil && l.r == nil
	})
	if _, err := m.Control(ctx, "team/web", engine.Command{Kind: engine.CmdPause, Actor: "ops"}); canary.ErrorCode(err) != canary.EUNAVAILABLE {
		t.Errorf("pause on a full disk: %v; want code unavailable", err)
	}
	m.mu.Lock()
	stranded := m.live["team/web"] == nil
	m.mu.Unlock()
	if stranded {
		t.Fatal("a failed control left the rollout without a runner")
	}
	canarytest.WaitUntil(t, 5*time.Second, "providers rebuilt after the control", func() bool { return builds.Load()-closes.Load() == 1 })
	b0, c0 := builds.Load(), closes.Load()
	if _, err := m.Apply(ctx, diskPlan("other"), false, "test"); err == nil {
		t.Log("apply on a full disk found room (SQLite reused free WAL or database pages)")
	} else if canary.ErrorCode(err) != canary.EUNAVAILABLE {
		t.Errorf("apply on a full disk: %v; want code unavailable (or success, when SQLite finds room)", err)
	}
	time.Sleep(300 * time.Millisecond) // several intervals and restarts
	if got := slices.Compact(router.Log()); !slices.Equal(got, []string{"w10"}) {
		t.Errorf("actions on a full disk %v, want only w10 (re-applied in place)", router.Log())
	}
	if now, _ := st.Latest(ctx, "team/web"); now.State.EventSeq != stored.State.EventSeq {
		t.Errorf("saved seq moved from %d to %d on a full disk", stored.State.EventSeq, now.State.EventSeq)
	}
	// The runner restarted many times; its providers (a proxy serving
	// users) stayed up: not closed and rebuilt on every restart, the proxy
	// down in between, as they used to be. (The control above stops and
	// starts the rollout's supervisor, so they were rebuilt once then.)
	if b, c := builds.Load(), closes.Load(); b != b0 || c != c0 || b-c != 1 {
		t.Errorf("providers built %d times and closed %d times during the outage (%d and %d before), want no change and one open", b, c, b0, c0)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	canarytest.WaitUntil(t, 20*time.Second, "ready once there is room", func() bool { return m.Ready(ctx) == nil })
	if r, _ := m.Get(ctx, "team/web"); r.State.Phase.Terminal() {
		t.Errorf("ready only once the rollout ended (%s); want ready at the first save", r.State.Phase)
	}
	canarytest.WaitUntil(t, 30*time.Second, "succeeded", func() bool {
		r, _ := m.Get(ctx, "team/web")
		return r.State.Phase == canary.PhaseSucceeded
	})
	if got, want := slices.Compact(router.Log()), []string{"w10", "w50", "w100", "promote", "removeCanary"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", router.Log(), want)
	}
	canarytest.WaitUntil(t, 5*time.Second, "providers closed once the rollout ended", func() bool { return closes.Load() == builds.Load() })
}

// TestMaxActive refuses a new rollout beyond Config.MaxActive with a
// conflict that names the limit, never a re-apply, and takes it once a
// rollout has finished.
func TestMaxActive(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	routers := map[string]*canarytest.Router{}
	for _, n := range []string{"a", "b", "c"} {
		routers[n] = &canarytest.Router{}
	}
	providers := func(_ context.Context, p *canary.Plan) (Providers, error) {
		metrics := canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
			return canary.Measurement{Value: 0.001, Samples: 1000}, nil
		})
		return Providers{Router: routers[p.Metadata.Name], Metrics: metrics, Flags: &flags.Memory{}, Checks: &canarytest.Checker{}}, nil
	}
	m, err := New(Config{Store: st, Providers: providers, MaxActive: 2})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); m.Wait() }()
	if err := m.Start(mctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if _, err := m.Apply(ctx, diskPlan(n), false, "test"); err != nil {
			t.Fatal(err)
		}
	}
	_, err = m.Apply(ctx, diskPlan("c"), false, "test")
	if canary.ErrorCode(err) != canary.ECONFLICT || !strings.Contains(err.Error(), "--max-rollouts 2") {
		t.Fatalf("third rollout with MaxActive 2: %v; want a conflict naming the limit", err)
	}
	if res, err := m.Apply(ctx, diskPlan("a"), false, "test"); err != nil || !res.Unchanged {
		t.Fatalf("re-apply at the limit: %+v, %v; want unchanged", res, err)
	}
	if _, err := m.Control(ctx, "team/a", engine.Command{Kind: engine.CmdAbort, Immediate: true, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	canarytest.WaitUntil(t, 10*time.Second, "a rolled back and its slot free", func() bool {
		_, err := m.Apply(ctx, diskPlan("c"), false, "test")
		return err == nil
	})
}
