package canarytest

import (
	"testing"
	"time"
)

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

// WaitFor is WaitUntil for a condition that can say how things stand:
// check returns whether it holds and, when not, what it saw, which the
// failure quotes (the last answer, a log's tail).
func WaitFor(t testing.TB, limit time.Duration, what string, check func() (ok bool, saw string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, saw := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s: %s", what, limit, saw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
