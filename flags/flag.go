package flags

import (
	"context"
	"errors"
	"github.com/canary-dev/canary"
)

// Flag is one feature flag: its settable fields, version and times.
type Flag = canary.Flag

// State is a flag's settable fields: enabled, rollout_percentage and
// environment.
type State = canary.FlagState

// Update is a partial change of a flag: nil fields are kept.
type Update = canary.FlagUpdate

// Change is one entry of a flag's history: version, time, actor, reason,
// and the state before and after.
type Change = canary.FlagChange

// Store keeps flags and the history of their changes. *store.Store (SQLite,
// for `canary serve`) and *Memory implement it. Errors a person can act on
// are *canary.Error: not_found, invalid, unavailable.
type Store interface {
	// GetFlag returns a flag, or code not_found.
	GetFlag(ctx context.Context, name string) (Flag, error)
	// ListFlags returns every flag, by name.
	ListFlags(ctx context.Context) ([]Flag, error)
	// UpdateFlag applies u to flag name, creating it when missing
	// (disabled, 0%, production before u applies), and records the change
	// with its actor and reason. It returns the flag after the update and
	// whether anything changed; an update that changes nothing is not
	// recorded.
	UpdateFlag(ctx context.Context, name string, u Update, actor, reason string) (Flag, bool, error)
	// FlagHistory returns the flag's changes, oldest first: all of them,
	// or with limit > 0 the newest limit. Unknown flag: code not_found.
	FlagHistory(ctx context.Context, name string, limit int) ([]Change, error)
}

// *store.Store implements Store too (checked in the tests: flags does not
// link SQLite).
var _ Store = (*Memory)(nil)

// OpenFeature resolution reasons used by Evaluate.
const (
	// ReasonDisabled: the flag is disabled, so off for everyone.
	ReasonDisabled = "DISABLED"
	// ReasonStatic: the flag is enabled at 0% or 100%, so the value does
	// not depend on the targeting key.
	ReasonStatic = "STATIC"
	// ReasonSplit: the value came from the targeting key's bucket.
	ReasonSplit = "SPLIT"
)

// Variants of a boolean flag.
const (
	VariantOn  = "on"
	VariantOff = "off"
)

// ErrTargetingKeyMissing is returned by Evaluate for a flag whose value
// depends on the targeting key (enabled, between 1% and 99%) when the key
// is empty.
var ErrTargetingKeyMissing = errors.New("targeting key missing")

// Evaluation is a flag's value for one targeting key.
type Evaluation struct {
	// Value is whether the flag is on.
	Value bool
	// Reason is ReasonDisabled, ReasonStatic or ReasonSplit.
	Reason string
	// Variant is VariantOn or VariantOff.
	Variant string
	// Bucket is the key's sticky bucket (0..9999) when Reason is
	// ReasonSplit, else -1.
	Bucket int
}

// Evaluate computes f for a targeting key: off when disabled; when
// enabled, on iff canary.Bucket(key) < f.RolloutPercentage×100, which is
// exactly when the proxy sends that key to the canary at a weight of
// f.RolloutPercentage. At 0% and 100% the key is not needed; between them
// an empty key is ErrTargetingKeyMissing (the proxy would fall back to an
// unkeyed split, which a flag cannot reproduce).
func Evaluate(f Flag, key string) (Evaluation, error) {
	p := f.RolloutPercentage
	switch {
	case !f.Enabled:
		return Evaluation{Value: false, Reason: ReasonDisabled, Variant: VariantOff, Bucket: -1}, nil
	case p <= 0:
		return Evaluation{Value: false, Reason: ReasonStatic, Variant: VariantOff, Bucket: -1}, nil
	case p >= 100:
		return Evaluation{Value: true, Reason: ReasonStatic, Variant: VariantOn, Bucket: -1}, nil
	case key == "":
		return Evaluation{}, ErrTargetingKeyMissing
	}
	b := canary.Bucket(key)
	on := b < p*(canary.Buckets/100)
	v := VariantOff
	if on {
		v = VariantOn
	}
	return Evaluation{Value: on, Reason: ReasonSplit, Variant: v, Bucket: b}, nil
}

// reasonKey is the context key of WithReason.
type reasonKey struct{}

// WithReason returns a context whose flag changes (through Builtin or
// Client) are recorded with reason, e.g. "step 2 of 5: 10% for 30m".
func WithReason(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, reasonKey{}, reason)
}

// ReasonFrom returns the reason set by WithReason, or "".
func ReasonFrom(ctx context.Context) string {
	s, _ := ctx.Value(reasonKey{}).(string)
	return s
}
