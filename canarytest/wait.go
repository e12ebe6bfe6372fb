package canarytest

import (
	"sync"
	"testing"
	"time"
)

// Ticker is a Now func's clock that advances Step on every call, so the
// timestamps a store or a flag service writes are in order and distinct
// (a test's Config.Now: (&Ticker{...}).Now).
type Ticker struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewTicker returns a ticker whose first Now is start + step.
func NewTicker(start time.Time, step time.Duration) *Ticker {
	return &Ticker{now: start, step: step}
}

// Now advances the ticker by its step and returns the new time.
func (c *Ticker) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// WaitUntil polls cond (every 20ms) until it holds, failing t with what
// once limit has passed: for tests that watch a real server or process,
// never for logic a stepped clock can drive.
func WaitUntil(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
