package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
)

// TestClaimWhoseCommitFailedReturnsNothing claims notifications on a full
// (tmpfs) file system. The claim's updates fit in memory and fail only at
// COMMIT, so the claim and its attempt count are rolled back: the items
// must not be handed out (a deliverer would send them, and since nothing
// recorded the claim they would be due again at once: a storm of sends).
// It used to return every item along with the error.
func TestClaimWhoseCommitFailedReturnsNothing(t *testing.T) {
	ctx := context.Background()
	dir := canarytest.Tmpfs(t, "2m")
	s, err := Open(ctx, filepath.Join(dir, "canary.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var items []canary.OutboxItem
	for i := range 5 {
		items = append(items, canary.OutboxItem{Key: fmt.Sprintf("k%d", i), Audience: "eng", Channel: "webhook", Payload: []byte("x")})
	}
	if err := s.Enqueue(ctx, items...); err != nil {
		t.Fatal(err)
	}
	canarytest.FillDisk(t, dir)
	now := base.Add(time.Hour)
	attempts := func() (n int) {
		stored, err := s.Outbox(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range stored {
			n += it.Attempts
		}
		return n
	}
	for i := range 20 { // SQLite may find room once or twice; not 20 times
		before := attempts()
		got, err := s.ClaimDue(ctx, now.Add(time.Duration(i)*time.Minute), 0)
		if err == nil {
			t.Logf("claim %d found room on the full disk: %d items", i, len(got))
			continue
		}
		wantCode(t, err, canary.EUNAVAILABLE)
		if len(got) != 0 {
			t.Errorf("a claim whose commit failed (%v) returned %d items, want none", err, len(got))
		}
		if after := attempts(); after != before {
			t.Errorf("attempts %d before the failed claim, %d after: want it rolled back", before, after)
		}
		return
	}
	t.Fatal("no claim failed on a full disk")
}
