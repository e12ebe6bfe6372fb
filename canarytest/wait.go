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
