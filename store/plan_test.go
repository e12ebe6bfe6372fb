package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/canary-dev/canary"
)

// TestCommitWithPlan: a commit WithPlan replaces the plan in the same
// write as the state and events; a refused commit changes neither.
func TestCommitWithPlan(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	r := create(t, s, "shop/web")
	newPlan := []byte("plan of shop/web, forced")
	if err := s.Commit(ctx, r.ID, state("web", 2, canary.PhaseProgressing), events("shop/web", 2, 1, canary.EvCommand), WithPlan(newPlan)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Latest(ctx, "shop/web")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(newPlan)
	if string(got.Plan) != string(newPlan) || got.PlanSHA256 != hex.EncodeToString(sum[:]) || got.State.EventSeq != 2 {
		t.Errorf("after the commit: plan %q sha %s seq %d", got.Plan, got.PlanSHA256, got.State.EventSeq)
	}
	// A stale commit (its events do not continue the log) is refused
	// whole: the plan stays.
	err = s.Commit(ctx, r.ID, state("web", 2, canary.PhaseProgressing), events("shop/web", 2, 1, canary.EvCommand), WithPlan([]byte("other")))
	if canary.ErrorCode(err) != canary.ECONFLICT {
		t.Fatalf("stale commit: %v, want conflict", err)
	}
	if got, _ := s.Latest(ctx, "shop/web"); string(got.Plan) != string(newPlan) {
		t.Errorf("a refused commit changed the plan to %q", got.Plan)
	}
}
