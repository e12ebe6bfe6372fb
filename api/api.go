// Package api holds the types the HTTP API speaks: what package web
// serves, package client reads and package manager implements. It links
// no store, runner or command-running code, so an API client stays small
// (a test checks `go list -deps ./client`).
package api

import (
	"context"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
)

// Rollout is one rollout as the API shows it.
type Rollout struct {
	// ID is the store's ID; Name is "namespace/name"; Generation counts the
	// versions applied under that name, from 1.
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Generation int    `json:"generation"`
	// Plan is the validated plan with defaults applied.
	Plan *canary.Plan `json:"plan"`
	// State is the engine's state: phase, step, weight, rule states with
	// their pending timers.
	State canary.State `json:"state"`
	// LastEvaluations are the inputs of the last decision.
	LastEvaluations []canary.Evaluation `json:"lastEvaluations,omitempty"`
	CreatedAt       time.Time           `json:"createdAt"`
	UpdatedAt       time.Time           `json:"updatedAt"`
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	Rollout Rollout `json:"rollout"`
	// Created is true when a new rollout (a new name or a new version)
	// started; Unchanged when the same spec was already applied (a no-op).
	Created   bool `json:"created"`
	Unchanged bool `json:"unchanged"`
}

// ListOptions filter List.
type ListOptions struct {
	// Phase keeps rollouts in this phase only (empty: all).
	Phase canary.Phase
	// Limit caps the number returned (0: 100).
	Limit int
}

// API is what the HTTP API (package web) needs from the host that runs
// rollouts (package manager implements it for `canary serve`). Errors
// are *canary.Error with a code (invalid, not_found, conflict,
// unavailable); invalid plans are a plan.ErrorList.
type API interface {
	// Apply validates a plan (YAML or JSON) and starts it. The same spec is
	// a no-op; a new spec.version starts a new rollout (a new generation);
	// any other change to a rollout that is not finished is a conflict
	// unless force is set.
	Apply(ctx context.Context, plan []byte, force bool, actor string) (ApplyResult, error)
	List(ctx context.Context, opt ListOptions) ([]Rollout, error)
	// Get returns a rollout by "namespace/name" (its latest generation)
	// or "namespace/name@GEN" (that generation; see SplitGeneration). The
	// name argument of Events, Subscribe and Notifications reads the same.
	Get(ctx context.Context, name string) (Rollout, error)
	// Events returns events with Seq > after, at most limit (0: 1000).
	Events(ctx context.Context, name string, after int64, limit int) ([]canary.Event, error)
	// Subscribe signals (coalesced) whenever the rollout has new events;
	// call cancel when done.
	Subscribe(ctx context.Context, name string) (ch <-chan struct{}, cancel func())
	// Control applies a manual command to the latest generation; a
	// command that does not apply in the current phase is a conflict, and
	// so is "name@GEN" for an older generation. cmd.Actor names the token.
	Control(ctx context.Context, name string, cmd engine.Command) (Rollout, error)
	// Delete removes every generation of "namespace/name", or the one
	// "namespace/name@GEN" names, with their events; a conflict while one
	// of them is active (and then nothing is removed).
	Delete(ctx context.Context, name string) (DeleteResult, error)
	// Ready reports whether the manager can serve (the store is writable).
	Ready(ctx context.Context) error
	NotificationReader // a rollout's notifications (notification.go)
}
