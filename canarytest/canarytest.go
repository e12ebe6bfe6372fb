// Package canarytest holds small fakes for tests of the runner and the
// commands: the one test clock (stepped, set, or ticking), a recording traffic
// router, a scripted metric source, a scripted checker and a recording
// store.
package canarytest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
)

// Clock is the one fake canary.Clock of the tests. It stands still
// unless told to move (Set, Advance), jumps straight to every deadline
// it is asked to wait for (After), so a rollout of hours runs in
// milliseconds, and, made by NewTicker, moves a step on every Now so the
// timestamps a store or a flag service writes are in order and distinct.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

var _ canary.Clock = (*Clock)(nil)

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// NewTicker returns a clock that advances by step on every Now; its first
// Now is start + step.
func NewTicker(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// Now returns the fake time (after a ticker's step).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// Set moves the clock to t (backwards too).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// After advances the clock by d and returns a channel that is ready.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// Router records traffic actions as "w5", "promote", "removeCanary".
type Router struct {
	// Fail, when set, returns the error for an action ("" for none).
	Fail func(action string) error
	// Before is called before each action is recorded (optional).
	Before func(action string)

	mu  sync.Mutex
	log []string
	w   int
}

var _ canary.TrafficRouter = (*Router)(nil)

func (r *Router) record(a string) error {
	if r.Before != nil {
		r.Before(a)
	}
	if r.Fail != nil {
		if err := r.Fail(a); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, a)
	return nil
}

// SetWeight records "wN".
func (r *Router) SetWeight(_ context.Context, w int) error {
	if err := r.record(fmt.Sprintf("w%d", w)); err != nil {
		return err
	}
	r.mu.Lock()
	r.w = w
	r.mu.Unlock()
	return nil
}

// Promote records "promote".
func (r *Router) Promote(context.Context) error { return r.record("promote") }

// RemoveCanary records "removeCanary".
func (r *Router) RemoveCanary(context.Context) error { return r.record("removeCanary") }

// Log returns the recorded actions.
func (r *Router) Log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// Weight returns the last weight set.
func (r *Router) Weight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w
}

// Metrics is a scripted metric source.
type Metrics func(q canary.Query) (canary.Measurement, error)

// Measure calls the script.
func (m Metrics) Measure(_ context.Context, q canary.Query) (canary.Measurement, error) { return m(q) }

// Checker is a scripted checker: nil functions pass.
type Checker struct {
	PreCheckFunc func(canary.PreCheck) (string, error)
	HookFunc     func(canary.Hook) (string, error)
	ApprovalFunc func(url string) (checks.Answer, error)
}

// PreCheck runs PreCheckFunc.
func (c *Checker) PreCheck(_ context.Context, pc canary.PreCheck) (string, error) {
	if c.PreCheckFunc == nil {
		return "true", nil
	}
	return c.PreCheckFunc(pc)
}

// Hook runs HookFunc.
func (c *Checker) Hook(_ context.Context, h canary.Hook, _ []byte) (string, error) {
	if c.HookFunc == nil {
		return "", nil
	}
	return c.HookFunc(h)
}

// Approval runs ApprovalFunc.
func (c *Checker) Approval(_ context.Context, url string, _ []byte) (checks.Answer, error) {
	if c.ApprovalFunc == nil {
		return checks.Answer("approved"), nil
	}
	return c.ApprovalFunc(url)
}

// Store records saved states and events in memory.
type Store struct {
	mu     sync.Mutex
	states []canary.State
	events []canary.Event
}

// Save records st and events.
func (s *Store) Save(_ context.Context, st canary.State, events []canary.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = append(s.states, st)
	s.events = append(s.events, events...)
	return nil
}

// Events returns every saved event.
func (s *Store) Events() []canary.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]canary.Event(nil), s.events...)
}

// Last returns the last saved state.
func (s *Store) Last() canary.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.states) == 0 {
		return canary.State{}
	}
	return s.states[len(s.states)-1]
}
