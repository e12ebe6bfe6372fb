package store

import (
	"runtime"
	"sync"

	"github.com/canary-dev/canary"
)

// A commit's encoding needs a deep stack: encoding/json's reflection
// over the snapshot and each event takes about 4 KiB, and S2's encoder
// against the event dictionary (s2.Dict.Encode, klauspost/compress's
// encodeBlockDictGo) declares its 64 KiB hash table as a local array, on
// the stack. Commit's callers are rollouts' goroutines, thousands of them
// in canary serve, and a goroutine keeps the stack its deepest call
// needed until a GC finds it less than a quarter used (and then halves
// it): encoding on the caller's goroutine left every runner with a 128
// KiB stack, ~1.2 GiB at 10,000 rollouts (BENCHMARKS.md, "Rollouts at
// scale").
//
// So encode runs on a few shared goroutines, one per CPU, while the
// caller waits; only they keep the deep stacks. The work is pure CPU (no
// I/O, no locks), so queueing behind another encode costs no more than
// the CPUs would anyway, and the hand-off is two channel operations.

// encodeJob is one encode for the shared goroutines.
type encodeJob struct {
	st     *canary.State
	events []canary.Event
	enc    encoded
	err    error
	done   chan struct{} // gets a value when enc and err are set
}

var (
	encodeJobs  chan *encodeJob
	encodeStart sync.Once
	encodeDone  = sync.Pool{New: func() any { return make(chan struct{}, 1) }}
)

// startEncoders starts one encoding goroutine per CPU; they live as long
// as the process (idle, they cost their stacks: GOMAXPROCS × 128 KiB).
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
