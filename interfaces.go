package canary

import (
	"context"
	"time"
)

// TrafficRouter moves traffic between the stable and canary versions. Every
// method is absolute and idempotent.
type TrafficRouter interface {
	// SetWeight routes weight percent (0..100) of traffic to the canary.
	SetWeight(ctx context.Context, weight int) error
	// Promote makes the canary version the stable one.
	Promote(ctx context.Context) error
	// RemoveCanary tears the canary down (after promotion or rollback).
	RemoveCanary(ctx context.Context) error
}

// MetricSource measures one metric of one track over a window.
type MetricSource interface {
	Measure(ctx context.Context, q Query) (Measurement, error)
}

// FlagSetter sets a feature flag absolutely.
type FlagSetter interface {
	SetFlag(ctx context.Context, name string, enabled bool, percent int) error
}

// Notifier delivers an event to the audiences that want it.
type Notifier interface {
	Notify(ctx context.Context, plan *Plan, ev Event) error
}

// Clock tells the time and sleeps; tests use a stepped one.
type Clock interface {
	Now() time.Time
	// After is like time.After.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
