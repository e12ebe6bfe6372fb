package store

import (
	"context"
	"sync"
	"testing"

	"github.com/canary-dev/canary"
)

// TestConcurrentWriters runs writers on two Stores over one file (as two
// processes would) that each read the rollout, build the next commit from
// what they read and retry on conflict. Fencing must let exactly one
// writer continue each Seq, so the log ends up gapless with every
// successful commit in it once.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s1, path := openTest(t)
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	r := create(t, s1, "shop/checkout")

	const writers, commits = 4, 25
	var mu sync.Mutex
	conflicts := 0
	var wg sync.WaitGroup
	for w := range writers {
		s := []*Store{s1, s2}[w%2]
		wg.Go(func() {
			for done := 0; done < commits; {
				cur, err := s.Get(ctx, r.ID)
				if err != nil {
					t.Error(err)
					return
				}
				seq := cur.State.EventSeq
				st := state("checkout", seq+1, canary.PhaseProgressing)
				st.Weight = w
				err = s.Commit(ctx, r.ID, st, events("checkout", seq+1, 1, canary.EvEvaluated), ExpectSeq(seq))
				switch canary.ErrorCode(err) {
				case "":
					done++
				case canary.ECONFLICT:
					mu.Lock()
					conflicts++
					mu.Unlock()
				default:
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s1.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(1 + writers*commits)
	if got.State.EventSeq != want || count(t, s1, `SELECT count(*) FROM events`) != int(want) {
		t.Errorf("snapshot seq %d: want %d, as many as events", got.State.EventSeq, want)
	}
	t.Logf("%d commits, %d refused as stale", writers*commits, conflicts)
}
