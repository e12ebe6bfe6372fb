package runner_test

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"
)

// holdingStore saves like canarytest.Store until its rollout has been
// evaluated evals times, then blocks every save until release is closed:
// a runner parked in a commit, as thousands are at once in canary serve.
type holdingStore struct {
	canarytest.Store
	evals   int
	parked  *sync.WaitGroup
	release chan struct{}
	seen    int
	once    sync.Once
}

func (s *holdingStore) Save(ctx context.Context, st canary.State, events []canary.Event) error {
	for _, ev := range events {
		if ev.Type == canary.EvEvaluated {
			s.seen++
		}
	}
	if s.seen >= s.evals {
		s.once.Do(s.parked.Done)
		<-s.release
	}
	return s.Store.Save(ctx, st, events)
}

// BenchmarkRunnerStack reports the goroutine stack a runner keeps
// (stack-B/runner: the runtime's StackInuse over the runners) after 20
// evaluations of examples/local.yaml's rules, parked in a save: the
// stack its deepest call (the engine's judging) left it, which the
// runtime keeps until a GC finds it less than a quarter used.
func BenchmarkRunnerStack(b *testing.B) {
	p, err := plan.Load("../examples/local.yaml")
	if err != nil {
		b.Fatal(err)
	}
	const runners = 500
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var parked sync.WaitGroup
		release := make(chan struct{})
		var done sync.WaitGroup
		for range runners {
			parked.Add(1)
			router := &canarytest.Router{}
			r, err := runner.New(runner.Config{Plan: p, Router: router, Metrics: metrics(router, 0.001),
				Flags: &flags.Memory{}, Checks: &canarytest.Checker{}, Clock: canarytest.NewClock(t0),
				Store: &holdingStore{evals: 20, parked: &parked, release: release}}, engine.New(p, t0))
			if err != nil {
				b.Fatal(err)
			}
			done.Go(func() { _, _ = r.Run(context.Background()) })
		}
		parked.Wait()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		close(release)
		done.Wait()
		b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/runners, "stack-B/runner")
	}
}
