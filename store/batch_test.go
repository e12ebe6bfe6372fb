package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestGroupCommitIsolatesFailures queues commits that land in one
// transaction, some of which must fail: a stale one (conflict), one for a
// missing rollout (not found) and one that fails after writing (an outbox
// item without a key). Each gets its own error, the failed ones leave no
// trace, and the others are durable.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	var rs []Rollout
	for i := range 6 {
		rs = append(rs, create(t, s, fmt.Sprintf("shop/svc-%d", i)))
	}
	// Hold the batcher in a transaction until every commit is queued.
	started, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.writeBatched(ctx, operation{what: "hold"}, func(*wtx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	stats0 := s.WriteStats()

	next := func(r Rollout) (canary.State, []canary.Event) {
		return state(r.Name, 2, canary.PhaseProgressing), events(r.Name, 2, 1, canary.EvEvaluated)
	}
	commits := []struct {
		name string
		do   func() error
		want string // error code; "" for success
	}{
		{"ok 0", func() error { st, evs := next(rs[0]); return s.Commit(ctx, rs[0].ID, st, evs) }, ""},
		{"stale", func() error {
			return s.Commit(ctx, rs[1].ID, state(rs[1].Name, 1, canary.PhaseProgressing), events(rs[1].Name, 1, 1, canary.EvEvaluated))
		}, canary.ECONFLICT},
		{"ok 2", func() error { st, evs := next(rs[2]); return s.Commit(ctx, rs[2].ID, st, evs) }, ""},
		{"fails after writing", func() error {
			st, evs := next(rs[3])
			return s.Commit(ctx, rs[3].ID, st, evs, WithOutbox(canary.OutboxItem{Audience: "on-call"}))
		}, canary.EINVALID},
		{"not found", func() error { st, evs := next(rs[4]); return s.Commit(ctx, 999, st, evs) }, canary.ENOTFOUND},
		{"ok 5, new phase", func() error {
			st, evs := next(rs[5])
			st.Phase = canary.PhasePaused
			return s.Commit(ctx, rs[5].ID, st, evs, WithOutbox(canary.OutboxItem{Key: "k5"}))
		}, ""},
	}
	errs := make([]error, len(commits))
	var wg sync.WaitGroup
	for i, c := range commits {
		wg.Go(func() { errs[i] = c.do() })
	}
	waitQueued(t, s, len(commits))
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for i, c := range commits {
		if got := canary.ErrorCode(errs[i]); got != c.want {
			t.Errorf("%s: got code %q (%v), want %q", c.name, got, errs[i], c.want)
		}
	}
	for i, want := range []int64{2, 1, 2, 1, 1, 2} {
		got, err := s.Get(ctx, rs[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		n := count(t, s, `SELECT count(*) FROM events WHERE rollout_id = ?`, rs[i].ID)
		if got.State.EventSeq != want || int64(n) != want {
			t.Errorf("rollout %d: snapshot at seq %d with %d events, want %d", i, got.State.EventSeq, n, want)
		}
	}
	if got, _ := s.Get(ctx, rs[5].ID); got.State.Phase != canary.PhasePaused {
		t.Errorf("rollout 5: phase %s, want Paused", got.State.Phase)
	}
	if n := count(t, s, `SELECT count(*) FROM outbox`); n != 1 {
		t.Errorf("%d outbox items, want 1 (k5)", n)
	}
	// The holding write's transaction, then one holding the three
	// commits that succeeded (the rolled-back attempt is not counted).
	if got, want := s.WriteStats(), (WriteStats{stats0.Transactions + 2, stats0.Writes + 4}); got != want {
		t.Errorf("WriteStats %+v, want %+v", got, want)
	}
}

// waitQueued waits until n writes wait in s's batcher queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.b.mu.Lock()
		q := len(s.b.queue)
		s.b.mu.Unlock()
		if q == n {
			return
		}
	}
	t.Fatalf("never %d writes queued", n)
}
