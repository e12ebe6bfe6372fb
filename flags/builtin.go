package flags

import (
	"context"
	"fmt"

	"github.com/canary-dev/canary"
)

// Builtin is the builtin flag provider: it moves flags in a Store
// in-process (the SQLite store of `canary serve`, or a Memory), recording
// each change with the rollout as its actor.
type Builtin struct {
	// Store holds the flags. Required.
	Store Store
	// Actor is recorded with every change, e.g. "rollout shop/checkout".
	// Default: "rollout".
	Actor string
	// Environment is set on every change. Default: the flag's own
	// (production for a new flag).
	Environment string
}

var _ canary.FlagSetter = (*Builtin)(nil)

// SetFlag sets the flag absolutely and checks that the store holds what was
// set. The change's reason is the context's (WithReason), else a
// description such as "set to 10%".
func (b *Builtin) SetFlag(ctx context.Context, name string, enabled bool, percent int) error {
	if b.Store == nil {
		return canary.Errorf(canary.EINTERNAL, "builtin flag provider without a store")
	}
	actor := b.Actor
	if actor == "" {
		actor = MemoryActor
	}
	u := Update{Enabled: &enabled, RolloutPercentage: &percent}
	if b.Environment != "" {
		u.Environment = &b.Environment
	}
	reason := ReasonFrom(ctx)
	if reason == "" {
		reason = describeSet(enabled, percent)
	}
	f, _, err := b.Store.UpdateFlag(ctx, name, u, actor, reason)
	if err != nil {
		return fmt.Errorf("set flag %s: %w", name, err)
	}
	return confirm(f, name, u, "the builtin flag store")
}

// describeSet is the default reason of a change made by a provider.
func describeSet(enabled bool, percent int) string {
	if !enabled {
		return fmt.Sprintf("disable (rollout percentage %d%%)", percent)
	}
	return fmt.Sprintf("set to %d%%", percent)
}

// confirm checks that f, read after a change, holds what u set.
func confirm(f Flag, name string, u Update, where string) error {
	want := u.Apply(f.State())
	if f.State() == want {
		return nil
	}
	return canary.Errorf(canary.EUNAVAILABLE,
		"flag %s did not take effect in %s: set %s, read back %s", name, where, showState(want), showState(f.State()))
}

// showState is a state for messages: "enabled 10% (production)".
func showState(s State) string {
	on := "disabled"
	if s.Enabled {
		on = "enabled"
	}
	if s.Environment == "" {
		return fmt.Sprintf("%s %d%%", on, s.RolloutPercentage)
	}
	return fmt.Sprintf("%s %d%% (%s)", on, s.RolloutPercentage, s.Environment)
}
