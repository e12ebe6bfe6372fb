package manager

import (
	"context"
	"time"

	"github.com/canary-dev/canary/store"
)

// DefaultPruneEvery is Config.PruneEvery's default.
const DefaultPruneEvery = 10 * time.Minute

// pruneLoop runs Prune at Start and then every PruneEvery until ctx ends.
func (m *Manager) pruneLoop(ctx context.Context) {
	for {
		if _, err := m.Prune(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Error("retention: could not delete finished rollouts; trying again later", "err", err, "in", m.cfg.PruneEvery)
		}
		select {
		case <-ctx.Done():
			return
		case <-m.cfg.Clock.After(m.cfg.PruneEvery):
		}
	}
}

// Prune deletes the rollouts that finished more than Config.Retention ago
// (by the Clock), with their events and notifications, in small batches
// that share transactions with the rollouts' commits (store.PruneBatch),
// and returns what it deleted. It does nothing when Retention is 0.
func (m *Manager) Prune(ctx context.Context) (store.PruneResult, error) {
	var total store.PruneResult
	if m.cfg.Retention <= 0 {
		return total, nil
	}
	o := store.PruneOptions{FinishedBefore: m.cfg.Clock.Now().Add(-m.cfg.Retention)}
	for {
		res, more, err := m.cfg.Store.PruneBatch(ctx, o)
		total.Add(res)
		m.met.observePrune(res)
		if err != nil || !more {
			if total.Rows() > 0 {
				m.cfg.Logger.Info("retention: deleted finished rollouts", "retention", m.cfg.Retention,
					"rollouts", total.Rollouts, "events", total.Events, "notifications", total.Outbox)
			}
			return total, err
		}
	}
}
