package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
)

// rolloutWith creates name with n events in all (commits of 50) and an
// outbox item per commit, marked delivered unless pending, and leaves it
// in phase.
func rolloutWith(t *testing.T, s *Store, name string, n int, phase canary.Phase, pending bool) Rollout {
	t.Helper()
	ctx := context.Background()
	short := name[strings.Index(name, "/")+1:]
	r, err := s.Create(ctx, name, []byte("plan of "+name), state(short, 1, canary.PhaseProgressing), events(short, 1, 1, canary.EvCreated))
	if err != nil {
		t.Fatal(err)
	}
	for seq := int64(2); seq <= int64(n); seq += 50 {
		k := min(50, int64(n)-seq+1)
		ph := canary.PhaseProgressing
		if seq+k-1 == int64(n) {
			ph = phase
		}
		key := fmt.Sprintf("%s/%d", name, seq)
		err := s.Commit(ctx, r.ID, state(short, seq+k-1, ph), events(short, seq, int(k), canary.EvEvaluated),
			WithOutbox(canary.OutboxItem{Key: key, Audience: "oncall", Channel: "slack", Payload: []byte("{}")}))
		if err != nil {
			t.Fatal(err)
		}
		if !pending {
			if err := s.MarkDelivered(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

// TestPrune removes exactly the rollouts that finished before the cutoff
// and have nothing left to deliver, in batches no larger than asked, and
// leaves active and recent ones untouched: an active one still continues
// its log, a pruned name says retention removed it, and the freed pages
// are reused by later events instead of growing the file.
func TestPrune(t *testing.T) {
	ctx := context.Background()
	clock := canarytest.NewClock(base)
	s, err := OpenConfig(ctx, Config{Path: filepath.Join(t.TempDir(), "canary.db"), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// 40 days ago.
	old := rolloutWith(t, s, "shop/old", 301, canary.PhaseSucceeded, false)
	failed := rolloutWith(t, s, "shop/failed", 120, canary.PhaseFailed, false)
	undelivered := rolloutWith(t, s, "shop/undelivered", 51, canary.PhaseRolledBack, true)
	active := rolloutWith(t, s, "shop/active", 201, canary.PhaseProgressing, false)
	paused := rolloutWith(t, s, "shop/paused", 51, canary.PhasePaused, false)
	regen := rolloutWith(t, s, "shop/regen", 51, canary.PhaseSucceeded, false)
	deleted := rolloutWith(t, s, "shop/deleted", 101, canary.PhaseRolledBack, false) // 2 notifications
	if err := s.Delete(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	// 10 days ago: finished, but recently.
	clock.Set(base.Add(30 * 24 * time.Hour))
	recent := rolloutWith(t, s, "shop/recent", 51, canary.PhaseRolledBack, false)
	regen2 := rolloutWith(t, s, "shop/regen", 51, canary.PhaseProgressing, false)
	now := base.Add(40 * 24 * time.Hour)
	clock.Set(now)

	eventsBefore := count(t, s, `SELECT count(*) FROM events`)
	var total PruneResult
	batches := 0
	for more := true; more; batches++ {
		res, m, err := s.PruneBatch(ctx, PruneOptions{FinishedBefore: now.Add(-30 * 24 * time.Hour), BatchRows: 100})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows() > 100 {
			t.Fatalf("a batch deleted %d rows, more than the 100 asked", res.Rows())
		}
		total.Add(res)
		more = m
		if batches > 100 {
			t.Fatal("prune does not end")
		}
	}
	// old (301 events, 6 notifications), failed (120, 3) and regen's
	// first generation (51, 1); deleted's 2 notifications.
	want := PruneResult{Rollouts: 3, Events: 301 + 120 + 51, Outbox: 6 + 3 + 1 + 2}
	if total != want {
		t.Errorf("pruned %v, want %v", total, want)
	}
	if batches < 6 {
		t.Errorf("pruned in %d batches, want at least 6 of at most 100 rows", batches)
	}
	if got := count(t, s, `SELECT count(*) FROM events`); got != eventsBefore-int(want.Events) {
		t.Errorf("%d events left, want %d", got, eventsBefore-int(want.Events))
	}
	for _, r := range []Rollout{old, failed, regen} {
		if _, err := s.Get(ctx, r.ID); canary.ErrorCode(err) != canary.ENOTFOUND {
			t.Errorf("rollout %s generation %d: got %v, want not found", r.Name, r.Generation, err)
		}
		if n := count(t, s, `SELECT count(*) FROM outbox WHERE rollout_id = ?`, r.ID); n != 0 {
			t.Errorf("%s: %d notifications left", r.Name, n)
		}
	}
	for _, name := range []string{"shop/old", "shop/failed"} {
		_, err := s.Latest(ctx, name)
		wantCode(t, err, canary.ENOTFOUND)
		if !strings.Contains(err.Error(), "removed by retention") || !strings.Contains(err.Error(), "--retention") {
			t.Errorf("%s: got %q, want it to say retention removed it", name, err)
		}
	}
	if _, err := s.Latest(ctx, "shop/never"); err == nil || strings.Contains(err.Error(), "retention") {
		t.Errorf("unknown name: got %v, want a plain not found", err)
	}
	// Untouched: every event of each is still there and reads back.
	for _, r := range []Rollout{undelivered, active, paused, recent, regen2} {
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		evs, err := s.Events(ctx, r.ID, 0, 0)
		if err != nil || int64(len(evs)) != got.State.EventSeq || evs[len(evs)-1].Seq != got.State.EventSeq {
			t.Errorf("%s: %d events (%v), want %d", r.Name, len(evs), err, got.State.EventSeq)
		}
	}
	if got, err := s.Latest(ctx, "shop/regen"); err != nil || got.ID != regen2.ID {
		t.Errorf("shop/regen: got %d, %v; want the second generation %d", got.ID, err, regen2.ID)
	}
	// The active rollout resumes: its log continues where it was.
	if err := s.Commit(ctx, active.ID, state("active", 202, canary.PhaseProgressing), events("active", 202, 1, canary.EvEvaluated)); err != nil {
		t.Errorf("active rollout after the prune: %v", err)
	}

	if n := count(t, s, `PRAGMA freelist_count`); n == 0 {
		t.Error("no free pages after the prune")
	}
	pages := count(t, s, `PRAGMA page_count`)
	rolloutWith(t, s, "shop/next", 301, canary.PhaseProgressing, false)
	if got := count(t, s, `PRAGMA page_count`); got > pages {
		t.Errorf("the file grew from %d to %d pages for as many events as were pruned: freed pages not reused", pages, got)
	}
	var ok string
	if err := s.w.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check: %q, %v", ok, err)
	}
}

// TestPruneNeedsCutoff: the zero time would prune nothing by accident or
// everything by mistake; it is refused.
func TestPruneNeedsCutoff(t *testing.T) {
	s, _ := openTest(t)
	_, _, err := s.PruneBatch(context.Background(), PruneOptions{})
	wantCode(t, err, canary.EINVALID)
}

// BenchmarkPruneBatch measures one retention batch (the default 500 rows)
// of runbook evaluation events: how long commits wait behind it.
func BenchmarkPruneBatch(b *testing.B) {
	ctx := context.Background()
	clock := canarytest.NewClock(base)
	s, err := OpenConfig(ctx, Config{Path: filepath.Join(b.TempDir(), "canary.db"), Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	newFinished := func() {
		rl, err := s.Create(ctx, fmt.Sprintf("shop/svc-%d", r.Int()), []byte("plan"), state("svc", 0, canary.PhaseProgressing), nil)
		if err != nil {
			b.Fatal(err)
		}
		for seq := int64(1); seq <= 5000; seq += 100 {
			evs := make([]canary.Event, 100)
			for i := range evs {
				evs[i] = runbookEvaluation(seq+int64(i), r)
			}
			ph := canary.PhaseProgressing
			if seq+99 == 5000 {
				ph = canary.PhaseSucceeded
			}
			if err := s.Commit(ctx, rl.ID, state("svc", seq+99, ph), evs); err != nil {
				b.Fatal(err)
			}
		}
	}
	cutoff := base.Add(time.Hour)
	rows := int64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if i%10 == 0 {
			newFinished() // 5,000 events: ten batches
		}
		b.StartTimer()
		res, _, err := s.PruneBatch(ctx, PruneOptions{FinishedBefore: cutoff})
		if err != nil {
			b.Fatal(err)
		}
		rows += res.Rows()
	}
	b.ReportMetric(float64(rows)/float64(b.N), "rows/batch")
}
