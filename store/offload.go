package store

import (
	"runtime"
	"sync"

	"github.com/canary-dev/canary"
)

// Encoding a commit (encoding/json's reflection over the snapshot and
// each event, then S2 and zstd) takes about 4 KiB of stack below
// Commit. Commit's callers are rollouts' goroutines, thousands of them
// (a runner each, in canary serve), and a goroutine keeps the stack its
// deepest call needed until a GC shrinks it by half; their own frames
// above Commit are ~7 KiB, so encoding on the caller's stack would
// double each of them. So encode runs on a few shared goroutines, one
// per CPU, and the caller waits for it: the work is pure CPU, so
// queueing it behind other encodes costs no more than the CPUs would
// anyway.

// encodeJob is one encode for the shared goroutines.
type encodeJob struct {
	st     *canary.State
	events []canary.Event
	enc    encoded
	err    error
	done   chan struct{}
}

var (
	encodeJobs  chan *encodeJob
	encodeStart sync.Once
	encodeDone  = sync.Pool{New: func() any { return make(chan struct{}, 1) }}
)

// startEncoders starts one encoding goroutine per CPU; they live as long
// as the process.
func startEncoders() {
	n := max(runtime.GOMAXPROCS(0), 1)
	encodeJobs = make(chan *encodeJob, n)
	for range n {
		go func() {
			for j := range encodeJobs {
				j.enc, j.err = encode(j.st, j.events)
				j.done <- struct{}{}
			}
		}()
	}
}

// encodeShared is encode run on a shared goroutine.
func encodeShared(st *canary.State, events []canary.Event) (encoded, error) {
	encodeStart.Do(startEncoders)
	j := &encodeJob{st: st, events: events, done: encodeDone.Get().(chan struct{})}
	encodeJobs <- j
	<-j.done
	encodeDone.Put(j.done)
	return j.enc, j.err
}
