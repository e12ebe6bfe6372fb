package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/canary-dev/canary"
)

func TestCreateCommitGet(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	plan := []byte("apiVersion: canary.dev/v1alpha1\nkind: Rollout\n")
	r, err := s.Create(ctx, "shop/checkout", plan, state("checkout", 1, canary.PhasePending),
		events("checkout", 1, 1, canary.EvCreated))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(plan)
	if r.ID == 0 || r.Generation != 1 || r.PlanSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("created %+v: want an ID, generation 1 and the plan's SHA-256", r)
	}
	plan[0] = 'X' // the store keeps its own copy

	st := state("checkout", 4, canary.PhaseProgressing)
	st.Weight, st.LastValues = 25, map[string]float64{"canary.latencyP95": 0.5}
	if err := s.Commit(ctx, r.ID, st, events("checkout", 2, 3, canary.EvEvaluated)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Plan) != "apiVersion: canary.dev/v1alpha1\nkind: Rollout\n" {
		t.Errorf("plan: got %q", got.Plan)
	}
	if got.State.EventSeq != 4 || got.State.Weight != 25 || got.State.Phase != canary.PhaseProgressing ||
		got.State.LastValues["canary.latencyP95"] != 0.5 || !got.State.UpdatedAt.Equal(st.UpdatedAt) ||
		!reflect.DeepEqual(got.State.Rules, st.Rules) {
		t.Errorf("state: got %+v, want %+v", got.State, st)
	}
	if !got.UpdatedAt.After(got.CreatedAt) {
		t.Errorf("updatedAt %v not after createdAt %v", got.UpdatedAt, got.CreatedAt)
	}
	evs, err := s.Events(ctx, r.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []canary.EventType
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Errorf("event %d: seq %d", i, ev.Seq)
		}
		types = append(types, ev.Type)
	}
	want := []canary.EventType{canary.EvCreated, canary.EvEvaluated, canary.EvEvaluated, canary.EvEvaluated}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("event types: got %v, want %v", types, want)
	}
	if evs[3].Message != "event 4" || !evs[3].Time.Equal(base.Add(4e9)) {
		t.Errorf("event 4: got %+v", evs[3])
	}
}

func TestGenerations(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	first := create(t, s, "shop/checkout")
	_, err := s.Create(ctx, "shop/checkout", []byte("v3"), state("checkout", 0, canary.PhasePending), nil)
	wantCode(t, err, canary.ECONFLICT) // generation 1 is still progressing

	done := state("checkout", 2, canary.PhaseSucceeded)
	if err := s.Commit(ctx, first.ID, done, events("checkout", 2, 1, canary.EvPromoted)); err != nil {
		t.Fatal(err)
	}
	second, err := s.Create(ctx, "shop/checkout", []byte("v3"), state("checkout", 0, canary.PhasePending), nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Generation != 2 || second.ID == first.ID {
		t.Errorf("second: got id %d generation %d, want a new id and generation 2", second.ID, second.Generation)
	}
	other := create(t, s, "shop/cart")
	if other.Generation != 1 {
		t.Errorf("another name: got generation %d, want 1", other.Generation)
	}
	latest, err := s.Latest(ctx, "shop/checkout")
	if err != nil || latest.ID != second.ID {
		t.Errorf("latest: got %d, %v; want %d", latest.ID, err, second.ID)
	}
	_, err = s.Latest(ctx, "shop/nothing")
	wantCode(t, err, canary.ENOTFOUND)
	_, err = s.Get(ctx, 999)
	wantCode(t, err, canary.ENOTFOUND)

	for _, bad := range []string{"", "checkout", "/checkout", "shop/", "a/b/c"} {
		_, err := s.Create(ctx, bad, nil, state("x", 0, canary.PhasePending), nil)
		wantCode(t, err, canary.EINVALID)
	}
}

// TestCommitFencing checks that a commit that does not continue the log
// exactly is refused with conflict and changes nothing: not the snapshot,
// not the events, not the outbox.
func TestCommitFencing(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := create(t, s, "shop/checkout")
	if err := s.Commit(ctx, r.ID, state("checkout", 3, canary.PhaseProgressing),
		events("checkout", 2, 2, canary.EvEvaluated)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		st     canary.State
		events []canary.Event
		opts   []CommitOption
	}{
		// A second runner working from the snapshot at seq 1 replays seq 2.
		{"stale writer", state("checkout", 3, canary.PhasePaused), events("checkout", 2, 2, canary.EvPaused), nil},
		{"skips ahead", state("checkout", 5, canary.PhasePaused), events("checkout", 5, 1, canary.EvPaused), nil},
		{"gap inside the batch", state("checkout", 6, canary.PhasePaused),
			append(events("checkout", 4, 1, canary.EvPaused), events("checkout", 6, 1, canary.EvPaused)...), nil},
		{"state behind its events", state("checkout", 3, canary.PhasePaused), events("checkout", 4, 1, canary.EvPaused), nil},
		{"state without events moves seq", state("checkout", 4, canary.PhasePaused), nil, nil},
		{"stale snapshot, no events", state("checkout", 1, canary.PhasePaused), nil, nil},
		{"expected seq differs", state("checkout", 4, canary.PhasePaused), events("checkout", 4, 1, canary.EvPaused),
			[]CommitOption{ExpectSeq(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append(tt.opts, WithOutbox(canary.OutboxItem{Key: "refused/" + tt.name, Channel: "slack"}))
			err := s.Commit(ctx, r.ID, tt.st, tt.events, opts...)
			wantCode(t, err, canary.ECONFLICT)
			got, err := s.Get(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State.EventSeq != 3 || got.State.Phase != canary.PhaseProgressing {
				t.Errorf("snapshot changed: seq %d phase %s", got.State.EventSeq, got.State.Phase)
			}
			if n := count(t, s, `SELECT count(*) FROM events WHERE rollout_id = ?`, r.ID); n != 3 {
				t.Errorf("got %d events, want 3", n)
			}
			if n := count(t, s, `SELECT count(*) FROM outbox`); n != 0 {
				t.Errorf("got %d outbox items, want 0", n)
			}
		})
	}
	// The right continuation, with the right expectation, goes through.
	if err := s.Commit(ctx, r.ID, state("checkout", 4, canary.PhasePaused),
		events("checkout", 4, 1, canary.EvPaused), ExpectSeq(3)); err != nil {
		t.Fatal(err)
	}
	// A snapshot-only commit that keeps the seq is allowed.
	if err := s.Commit(ctx, r.ID, state("checkout", 4, canary.PhasePaused), nil); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(ctx, 999, state("checkout", 1, canary.PhasePaused), events("checkout", 1, 1, canary.EvPaused))
	wantCode(t, err, canary.ENOTFOUND)
}

func TestEventsPaging(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := create(t, s, "shop/checkout")
	if err := s.Commit(ctx, r.ID, state("checkout", 25, canary.PhaseProgressing),
		events("checkout", 2, 24, canary.EvEvaluated)); err != nil {
		t.Fatal(err)
	}
	var pages [][2]int64
	after := int64(0)
	for {
		page, err := s.Events(ctx, r.ID, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages = append(pages, [2]int64{page[0].Seq, page[len(page)-1].Seq})
		after = page[len(page)-1].Seq
	}
	want := [][2]int64{{1, 10}, {11, 20}, {21, 25}}
	if !reflect.DeepEqual(pages, want) {
		t.Errorf("pages (first, last seq): got %v, want %v", pages, want)
	}
	if evs, err := s.Events(ctx, r.ID, 100, 10); err != nil || len(evs) != 0 {
		t.Errorf("past the end: got %d events, %v; want none, nil", len(evs), err)
	}
	_, err := s.Events(ctx, 999, 0, 10)
	wantCode(t, err, canary.ENOTFOUND)
}

func TestList(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ids := map[string]int64{}
	for _, name := range []string{"shop/checkout", "shop/cart", "shop-eu/cart", "shop2/cart", "search/api"} {
		ids[name] = create(t, s, name).ID
	}
	for _, name := range []string{"shop/cart", "search/api"} {
		if err := s.Commit(ctx, ids[name], state(name, 2, canary.PhaseRolledBack),
			events(name, 2, 1, canary.EvRolledBack)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(ctx, ids["shop2/cart"], state("cart", 2, canary.PhasePaused),
		events("cart", 2, 1, canary.EvPaused)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts ListOptions
		want []string
	}{
		{"all, newest first", ListOptions{}, []string{"search/api", "shop2/cart", "shop-eu/cart", "shop/cart", "shop/checkout"}},
		{"namespace", ListOptions{Namespace: "shop"}, []string{"shop/cart", "shop/checkout"}},
		{"name", ListOptions{Name: "shop/cart"}, []string{"shop/cart"}},
		{"phases", ListOptions{Phases: []canary.Phase{canary.PhaseRolledBack, canary.PhasePaused}},
			[]string{"search/api", "shop2/cart", "shop/cart"}},
		{"active", ListOptions{Active: true}, []string{"shop2/cart", "shop-eu/cart", "shop/checkout"}},
		{"limit", ListOptions{Limit: 2}, []string{"search/api", "shop2/cart"}},
		{"next page", ListOptions{Limit: 2, BeforeID: ids["shop2/cart"]}, []string{"shop-eu/cart", "shop/cart"}},
		{"nothing", ListOptions{Namespace: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := s.List(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := create(t, s, "shop/checkout")
	wantCode(t, s.Delete(ctx, r.ID), canary.ECONFLICT) // still progressing

	err := s.Commit(ctx, r.ID, state("checkout", 2, canary.PhaseRolledBack), events("checkout", 2, 1, canary.EvRolledBack),
		WithOutbox(canary.OutboxItem{Key: "rolledBack/on-call", Audience: "on-call", Channel: "pagerduty"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, r.ID)
	wantCode(t, err, canary.ENOTFOUND)
	_, err = s.Events(ctx, r.ID, 0, 0)
	wantCode(t, err, canary.ENOTFOUND)
	if n := count(t, s, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("got %d events left, want 0", n)
	}
	// The pending page still goes out.
	items, err := s.ClaimDue(ctx, base, 10)
	if err != nil || len(items) != 1 || items[0].Key != "rolledBack/on-call" || items[0].RolloutID != 0 {
		t.Errorf("claim after delete: got %+v, %v", items, err)
	}
	wantCode(t, s.Delete(ctx, r.ID), canary.ENOTFOUND)
	// The next rollout of the name gets a new ID and generation.
	if next := create(t, s, "shop/checkout"); next.ID == r.ID || next.Generation != 2 {
		t.Errorf("after delete: got ID %d generation %d, want a new ID and generation 2", next.ID, next.Generation)
	}
}
