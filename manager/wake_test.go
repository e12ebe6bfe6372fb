package manager

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/store"
)

// TestRecoveryWakesRunnersInBackoff makes every save fail until the runner
// of a rollout waits to be restarted, with a restart delay of an hour,
// then lets saves succeed: the first write that succeeds, a /readyz write
// probe in one case and another rollout's save in the other, restarts it
// at once and it runs to the end (it used to wait out its backoff, up to
// 30s in production).
func TestRecoveryWakesRunnersInBackoff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		recover func(t *testing.T, m *Manager)
	}{
		{"readyz write probe", func(t *testing.T, m *Manager) {
			if err := m.Ready(t.Context()); err == nil {
				t.Error("ready while a rollout's last save failed")
			}
		}},
		{"another rollout's save", func(t *testing.T, m *Manager) {
			if _, err := m.Apply(t.Context(), diskPlan("other"), false, "test"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			var failing atomic.Bool
			st, err := store.OpenConfig(ctx, store.Config{Path: filepath.Join(t.TempDir(), "c.db"),
				FailCommit: func(int64, []canary.Event) error {
					if failing.Load() {
						return canary.Errorf(canary.EUNAVAILABLE, "state database unavailable (disk full): injected")
					}
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			routers := map[string]*canarytest.Router{"web": {}, "other": {}}
			providers := func(_ context.Context, p *canary.Plan) (Providers, error) {
				metrics := canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
					return canary.Measurement{Value: 0.001, Samples: 1000}, nil
				})
				return Providers{Router: routers[p.Metadata.Name], Metrics: metrics, Flags: &flags.Memory{}, Checks: &canarytest.Checker{}}, nil
			}
			m, err := New(Config{Store: st, Providers: providers, RestartDelay: time.Hour,
				Clock: canarytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
			if err != nil {
				t.Fatal(err)
			}
			mctx, cancel := context.WithCancel(ctx)
			defer func() { cancel(); m.Wait() }()
			failing.Store(true)
			if err := m.Start(mctx); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Apply(ctx, diskPlan("web"), false, "test"); err != nil {
				t.Fatal(err) // Create is not a Commit: it is not failed
			}
			canarytest.WaitUntil(t, 10*time.Second, "web's runner waiting to be restarted", func() bool {
				m.mu.Lock()
				defer m.mu.Unlock()
				l := m.live["team/web"]
				n, _ := m.health.worst()
				return l != nil && l.r == nil && n == 1
			})
			failing.Store(false)
			tc.recover(t, m)
			canarytest.WaitUntil(t, 20*time.Second, "web succeeded after the recovery", func() bool {
				r, err := m.Get(ctx, "team/web")
				return err == nil && r.State.Phase == canary.PhaseSucceeded
			})
			if err := m.Ready(ctx); err != nil {
				t.Errorf("not ready after the recovery: %v", err)
			}
		})
	}
}
