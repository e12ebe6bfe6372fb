package manager

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/store"
)

// probeEvery is how often Ready writes to the store to check it can
// (a /readyz answered more often reuses the last probe's result).
const probeEvery = time.Second

// health tracks the rollouts whose last save failed: while any has, the
// manager is not ready, and each such rollout is paused where it was (its
// runner is restarted from the saved state with backoff and takes no
// action until a save succeeds).
type health struct {
	mu      sync.Mutex
	failing map[int64]saveFailure // by rollout ID
	// n is len(failing), read without the lock by the saves that succeed
	// (nearly all of them).
	n atomic.Int32
	// The last write probe, reused for probeEvery (under probeMu, so a
	// slow probe does not hold up saves).
	probeMu  sync.Mutex
	probedAt time.Time
	probeErr error
	// recovered is closed (and replaced) by a save or write probe that
	// succeeds while some rollout's last save had failed: runners
	// waiting to be restarted go at once instead of after their backoff.
	// Under mu.
	recovered chan struct{}
}

// saveFailure is a rollout's last failed save.
type saveFailure struct {
	name string
	err  error
	at   time.Time
}

// noteSave records the outcome of a save of rollout id.
func (h *health) noteSave(id int64, name string, err error, now time.Time) {
	if err == nil && h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		if len(h.failing) > 0 && !now.IsZero() { // not forget
			h.wakeLocked()
		}
		delete(h.failing, id)
	} else {
		if h.failing == nil {
			h.failing = map[int64]saveFailure{}
		}
		h.failing[id] = saveFailure{name: name, err: err, at: now}
	}
	h.n.Store(int32(len(h.failing)))
}

// wake returns a channel closed at the next recovery (see recovered).
func (h *health) wake() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.recovered == nil {
		h.recovered = make(chan struct{})
	}
	return h.recovered
}

// wakeLocked wakes the runners waiting for a recovery (h.mu held).
func (h *health) wakeLocked() {
	if h.recovered != nil {
		close(h.recovered)
		h.recovered = nil
	}
}

// probed records a write probe's outcome: a success wakes the runners
// waiting to be restarted.
func (h *health) probed(err error) {
	if err != nil || h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	h.wakeLocked()
	h.mu.Unlock()
}

// forget drops rollout id (its runner stopped for good).
func (h *health) forget(id int64) { h.noteSave(id, "", nil, time.Time{}) }

// worst returns the number of rollouts whose last save failed and the
// most recent failure.
func (h *health) worst() (int, saveFailure) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last saveFailure
	for _, f := range h.failing {
		if f.at.After(last.at) || last.err == nil {
			last = f
		}
	}
	return len(h.failing), last
}

// Ready fails while the store cannot be read, cannot be written (a small
// write, at most once a second) or the last save of any rollout failed;
// the error says why and what is affected.
func (m *Manager) Ready(ctx context.Context) error {
	if _, err := m.cfg.Store.List(ctx, store.ListOptions{Limit: 1}); err != nil {
		return err
	}
	if err := m.probeWrite(ctx); err != nil {
		return err
	}
	if n, f := m.health.worst(); n > 0 {
		return canary.Errorf(canary.EUNAVAILABLE,
			"%d rollout(s) paused because their state could not be saved (last: %s at %s: %v); they continue once the state database can be written again",
			n, f.name, f.at.UTC().Format(time.RFC3339), f.err)
	}
	return nil
}

// probeWrite checks the store takes a write, reusing a result younger than
// probeEvery.
func (m *Manager) probeWrite(ctx context.Context) error {
	h := &m.health
	h.probeMu.Lock()
	defer h.probeMu.Unlock()
	now := m.cfg.Clock.Now()
	if !h.probedAt.IsZero() && now.Sub(h.probedAt) < probeEvery {
		return h.probeErr
	}
	err := m.cfg.Store.CheckWrite(ctx)
	if ctx.Err() != nil {
		return err // the caller went away: not a verdict on the store
	}
	h.probedAt, h.probeErr = now, err
	h.probed(err)
	if err != nil && canary.ErrorCode(err) != canary.EUNAVAILABLE {
		err = fmt.Errorf("state database write check: %w", err)
		h.probeErr = err
	}
	return err
}
