package flags

import (
	"context"
	"sort"
	"sync"

	"github.com/canary-dev/canary"
)

// MemoryActor is the actor Memory.SetFlag records.
const MemoryActor = "rollout"

// Memory is an in-memory Store with history, safe for concurrent use; the
// zero value is ready. It is the flag store of `canary run` and `canary
// demo`, where nothing outlives the process. It is also a
// canary.FlagSetter for callers that need no actor (see Builtin for one
// that records the rollout).
type Memory struct {
	// Clock stamps changes; default canary.SystemClock.
	Clock canary.Clock

	mu      sync.Mutex
	flags   map[string]Flag
	history map[string][]Change
}

var _ canary.FlagSetter = (*Memory)(nil)

// SetFlag sets a flag's enabled and percentage absolutely (its environment
// is kept, production for a new flag), recorded with actor MemoryActor and
// the context's reason (WithReason).
func (m *Memory) SetFlag(ctx context.Context, name string, enabled bool, percent int) error {
	_, _, err := m.UpdateFlag(ctx, name, Update{Enabled: &enabled, RolloutPercentage: &percent}, MemoryActor, ReasonFrom(ctx))
	return err
}

// GetFlag returns a flag, or code not_found.
func (m *Memory) GetFlag(_ context.Context, name string) (Flag, error) {
	if f, ok := m.Get(name); ok {
		return f, nil
	}
	return Flag{}, canary.Errorf(canary.ENOTFOUND, "flag %s not found", name)
}

// ListFlags returns every flag, by name.
func (m *Memory) ListFlags(context.Context) ([]Flag, error) { return m.List(), nil }

// UpdateFlag applies u like store.Store.UpdateFlag: it creates a missing
// flag, validates everything first and records only real changes.
func (m *Memory) UpdateFlag(_ context.Context, name string, u Update, actor, reason string) (Flag, bool, error) {
	if err := canary.CheckFlagChange(name, u, actor, reason); err != nil {
		return Flag{}, false, err
	}
	var clock canary.Clock = canary.SystemClock{}
	if m.Clock != nil {
		clock = m.Clock
	}
	t := clock.Now().UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flags == nil {
		m.flags, m.history = map[string]Flag{}, map[string][]Change{}
	}
	old, exists := m.flags[name]
	var before *State
	if exists {
		b := old.State()
		before = &b
	} else {
		st := canary.NewFlagState()
		old = Flag{Name: name, Enabled: st.Enabled, RolloutPercentage: st.RolloutPercentage, Environment: st.Environment, CreatedAt: t}
	}
	after := u.Apply(old.State())
	if before != nil && after == *before {
		return old, false, nil
	}
	f := Flag{Name: name, Enabled: after.Enabled, RolloutPercentage: after.RolloutPercentage, Environment: after.Environment,
		Version: old.Version + 1, CreatedAt: old.CreatedAt, UpdatedAt: t, UpdatedBy: actor}
	m.flags[name] = f
	m.history[name] = append(m.history[name], Change{Flag: name, Version: f.Version, Time: t, Actor: actor,
		Reason: reason, Before: before, After: after})
	return f, true, nil
}

// FlagHistory returns the flag's changes, oldest first (the newest limit
// with limit > 0), or code not_found.
func (m *Memory) FlagHistory(_ context.Context, name string, limit int) ([]Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.history[name]
	if !ok {
		return nil, canary.Errorf(canary.ENOTFOUND, "flag %s not found", name)
	}
	if limit > 0 && len(h) > limit {
		h = h[len(h)-limit:]
	}
	out := make([]Change, len(h))
	for i, c := range h {
		if c.Before != nil {
			b := *c.Before // callers cannot reach the stored state
			c.Before = &b
		}
		out[i] = c
	}
	return out, nil
}

// Get returns a flag and whether it exists.
func (m *Memory) Get(name string) (Flag, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.flags[name]
	return f, ok
}

// List returns every flag, by name.
func (m *Memory) List() []Flag {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Flag, 0, len(m.flags))
	for _, f := range m.flags {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
