package manager

import (
	"context"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/store"
)

// Store is what the manager needs of the state database: rollouts with
// their generations, the event log, the outbox's pages and pruning.
// Package store's *Store implements it over SQLite.
type Store interface {
	Create(ctx context.Context, name string, plan []byte, st canary.State, events []canary.Event, opts ...store.CommitOption) (store.Rollout, error)
	Commit(ctx context.Context, id int64, st canary.State, events []canary.Event, opts ...store.CommitOption) error
	UpdatePlan(ctx context.Context, id int64, plan []byte) error
	Delete(ctx context.Context, id int64) error
	Get(ctx context.Context, id int64) (store.Rollout, error)
	// Latest returns the latest generation of "namespace/name".
	Latest(ctx context.Context, name string) (store.Rollout, error)
	List(ctx context.Context, o store.ListOptions) ([]store.Rollout, error)
	// Events returns rollout id's events with Seq > afterSeq, at most limit.
	Events(ctx context.Context, id int64, afterSeq int64, limit int) ([]canary.Event, error)
	// Subscribe signals (coalesced) rollout id's commits.
	Subscribe(id int64) (<-chan struct{}, func())
	OutboxPage(ctx context.Context, rolloutID int64, q store.OutboxQuery) (store.OutboxCounts, []canary.OutboxItem, error)
	PruneBatch(ctx context.Context, o store.PruneOptions) (store.PruneResult, bool, error)
	// CheckWrite proves the database takes writes (for readiness).
	CheckWrite(ctx context.Context) error
}

var _ Store = (*store.Store)(nil)
