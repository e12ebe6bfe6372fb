package runner

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestOffload: offload returns only once f has run, from many callers at
// once (more than there are engine goroutines), each with its own
// channel, and a caller's channel is ready for its next call.
func TestOffload(t *testing.T) {
	var wg sync.WaitGroup
	var total atomic.Int64
	for range 64 {
		wg.Go(func() {
			done := make(chan struct{}, 1)
			for i := range 100 {
				ran := false
				offload(done, func() { ran = true; total.Add(int64(i)) })
				if !ran {
					t.Error("offload returned before f ran")
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := total.Load(), int64(64*(99*100/2)); got != want {
		t.Errorf("sum of the offloaded calls' values: got %d, want %d", got, want)
	}
}
