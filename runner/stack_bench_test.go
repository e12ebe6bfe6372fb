package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"
	"github.com/canary-dev/canary/store"
)

// holdingStore saves like canarytest.Store until its rollout has been
// evaluated evals times, then blocks every save until release is closed:
// a runner parked in a commit, as thousands are at once in canary serve.
type holdingStore struct {
	runner.Store
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

// sqliteSaver saves a runner's commits in a real store (a rollout of
// its own), as canary serve's manager does.
type sqliteSaver struct {
	st *store.Store
	id int64
}

func (s *sqliteSaver) Save(ctx context.Context, st canary.State, events []canary.Event) error {
	return s.st.Commit(ctx, s.id, st, events)
}

// BenchmarkRunnerStack reports the goroutine stack a runner keeps
// (stack-B/runner: the runtime's StackInuse over the runners) after 20
// evaluations of examples/local.yaml's rules, parked in a save: the
// stack its deepest call (the engine's judging, a commit's encoding) left
// it, which the runtime keeps until a GC finds it less than a quarter
// used. memory saves in canarytest.Store, sqlite commits to a store.
func BenchmarkRunnerStack(b *testing.B) {
	p, err := plan.Load("../examples/local.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("memory", func(b *testing.B) {
		runnerStack(b, p, func(int) runner.Store { return &canarytest.Store{} })
	})
	b.Run("sqlite", func(b *testing.B) {
		ctx := context.Background()
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "stack.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		n := 0
		runnerStack(b, p, func(int) runner.Store {
			n++
			r, err := st.Create(ctx, fmt.Sprintf("shop/svc-%d", n), []byte("plan"), canary.State{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			return &sqliteSaver{st: st, id: r.ID}
		})
	})
}

// runnerStack runs the benchmark's runners, each saving to newStore(i).
func runnerStack(b *testing.B, p *canary.Plan, newStore func(i int) runner.Store) {
	const runners = 500
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var parked sync.WaitGroup
		release := make(chan struct{})
		var done sync.WaitGroup
		for i := range runners {
			parked.Add(1)
			router := &canarytest.Router{}
			r, err := runner.New(runner.Config{Plan: p, Router: router, Metrics: metrics(router, 0.001),
				Flags: &flags.Memory{}, Checks: &canarytest.Checker{}, Clock: canarytest.NewClock(t0),
				Store: &holdingStore{Store: newStore(i), evals: 20, parked: &parked, release: release}}, engine.New(p, t0))
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
