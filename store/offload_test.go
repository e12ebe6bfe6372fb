package store

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

// commitStack is the goroutine stack (runtime StackInuse per goroutine)
// that each of n goroutines keeps once it has committed an evaluation (a
// runbook-sized snapshot and its events) and parked, as a runner waits
// for its next evaluation. The garbage collector is off meanwhile: it
// would shrink the parked stacks.
func commitStack(t testing.TB, n int) float64 {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "stack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := make([]int64, n)
	for i := range ids {
		r, err := s.Create(ctx, fmt.Sprintf("shop/svc-%d", i), []byte("plan"), benchState(0), nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.ID
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var committed, done sync.WaitGroup
	release := make(chan struct{})
	for _, id := range ids {
		committed.Add(1)
		done.Go(func() {
			if err := s.Commit(ctx, id, benchState(3), benchEvents(1)); err != nil {
				t.Error(err)
			}
			committed.Done()
			<-release
		})
	}
	committed.Wait()
	runtime.ReadMemStats(&after)
	close(release)
	done.Wait()
	return float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
}

// TestCommitKeepsCallerStackSmall: a goroutine that committed keeps a
// small stack. Encoding on the caller's goroutine left it 128 KiB (S2's
// dictionary encoder keeps a 64 KiB table on the stack), which at 10,000
// rollouts was ~1.2 GiB of canary serve's memory; encodeShared does it on
// a few shared goroutines.
func TestCommitKeepsCallerStackSmall(t *testing.T) {
	const n = 200
	per := commitStack(t, n)
	t.Logf("%.0f bytes of stack per committed goroutine", per)
	if per > 16<<10 {
		t.Fatalf("each of %d goroutines keeps %.0f bytes of stack after a commit; want at most 16 KiB", n, per)
	}
}

// BenchmarkCommitStack reports the stack each committing goroutine keeps
// (stack-B/goroutine) after one commit; see TestCommitKeepsCallerStackSmall.
func BenchmarkCommitStack(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(commitStack(b, 200), "stack-B/goroutine")
	}
}
