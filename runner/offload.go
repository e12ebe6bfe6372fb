package runner

import (
	"runtime"
	"sync"
)

// The engine's judging is deep: engine.Next → observe → evaluate → judge
// → the always-valid bounds takes about 12 KiB of stack below the
// runner's own frames, so a runner that called it on its goroutine kept a
// 32 KiB stack while it waited (a goroutine's stack only shrinks at a GC,
// by half, and grows back at its next evaluation, copying itself). At
// 10,000 rollouts that was ~320 MiB of stacks, which the garbage
// collector scans and counts in its heap goal (BENCHMARKS.md, "Rollouts
// at scale").
//
// So the engine runs on a few shared goroutines instead, one per CPU: a
// rollout's goroutine hands them the call and waits, and keeps only the
// shallow stack of its loop. The engine is pure CPU (no I/O, no locks,
// no waiting), so a call never holds a worker for longer than its
// computation, and the work queued behind it is work the CPUs would have
// run anyway.

// engineJob is one call for the engine's goroutines.
type engineJob struct {
	f    func()
	done chan struct{} // gets a value when f has returned
}

var (
	engineJobs  chan engineJob
	engineStart sync.Once
)

// startEngineWorkers starts one engine goroutine per CPU. They live as
// long as the process (idle, they cost their small stacks).
func startEngineWorkers() {
	n := max(runtime.GOMAXPROCS(0), 1)
	engineJobs = make(chan engineJob, n)
	for range n {
		go func() {
			for j := range engineJobs {
				j.f()
				j.done <- struct{}{}
			}
		}()
	}
}

// offload runs f on an engine goroutine and returns when it has. done
// must have room for one value and be used by one caller at a time (a
// runner's own channel): it carries no allocation per call.
func offload(done chan struct{}, f func()) {
	engineStart.Do(startEngineWorkers)
	engineJobs <- engineJob{f: f, done: done}
	<-done
}
