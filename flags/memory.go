// Package flags holds canary's feature flags: the built-in flag store the
// engine moves in lockstep with the canary weight.
package flags

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/canary-dev/canary"
)

// Flag is one feature flag's state, as the runbook's flag API shows it.
type Flag struct {
	Name              string    `json:"name"`
	Enabled           bool      `json:"enabled"`
	RolloutPercentage int       `json:"rollout_percentage"`
	Environment       string    `json:"environment,omitempty"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// Memory is an in-memory flag store, safe for concurrent use. It is the
// builtin flag provider of `canary run` and `canary demo`.
type Memory struct {
	// Now stamps changes; default time.Now.
	Now func() time.Time

	mu    sync.Mutex
	flags map[string]Flag
}

var _ canary.FlagSetter = (*Memory)(nil)

// SetFlag sets a flag absolutely.
func (m *Memory) SetFlag(_ context.Context, name string, enabled bool, percent int) error {
	if percent < 0 || percent > 100 {
		return canary.Errorf(canary.EINVALID, "flag %s: rollout percentage %d is out of range (0 to 100)", name, percent)
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flags == nil {
		m.flags = map[string]Flag{}
	}
	f := m.flags[name]
	f.Name, f.Enabled, f.RolloutPercentage, f.UpdatedAt = name, enabled, percent, now()
	m.flags[name] = f
	return nil
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
