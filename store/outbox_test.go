package store

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// keys returns the items' keys.
func keys(items []canary.OutboxItem) []string {
	var ks []string
	for _, it := range items {
		ks = append(ks, it.Key)
	}
	return ks
}

func TestOutboxDedupe(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := create(t, s, "shop/checkout")
	page := canary.OutboxItem{Key: "1/2/on-call", Audience: "on-call", Channel: "pagerduty", Payload: []byte("first")}
	mail := canary.OutboxItem{Key: "1/2/product", Audience: "product", Channel: "email", Payload: []byte("mail")}
	if err := s.Commit(ctx, r.ID, state("checkout", 2, canary.PhaseRollingBack),
		events("checkout", 2, 1, canary.EvRollbackStarted), WithOutbox(page, mail, page)); err != nil {
		t.Fatal(err) // a key repeated inside one commit is fine too
	}
	// A replay of the same notification (say, the runner re-derived it after
	// a restart) keeps the first payload.
	again := page
	again.Payload = []byte("second")
	if err := s.Commit(ctx, r.ID, state("checkout", 3, canary.PhaseRolledBack),
		events("checkout", 3, 1, canary.EvRolledBack), WithOutbox(again)); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, again); err != nil {
		t.Fatal(err)
	}
	items, err := s.Outbox(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(items); !reflect.DeepEqual(got, []string{"1/2/on-call", "1/2/product"}) {
		t.Fatalf("keys: got %v", got)
	}
	if string(items[0].Payload) != "first" || items[0].Status != canary.OutboxPending || items[0].RolloutID != r.ID {
		t.Errorf("item: got %+v, want the first payload, pending, rollout %d", items[0], r.ID)
	}
	wantCode(t, s.Enqueue(ctx, canary.OutboxItem{Audience: "x"}), canary.EINVALID)
}

func TestOutboxClaimLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	now := base.Add(time.Hour)
	later := canary.OutboxItem{Key: "later", Channel: "slack", NotBefore: now.Add(10 * time.Minute)}
	if err := s.Enqueue(ctx,
		canary.OutboxItem{Key: "b", Channel: "slack", NotBefore: now.Add(-time.Minute)},
		canary.OutboxItem{Key: "a", Channel: "slack", NotBefore: now.Add(-2 * time.Minute)},
		canary.OutboxItem{Key: "c", Channel: "slack"}, // zero NotBefore: due at once
		later); err != nil {
		t.Fatal(err)
	}
	claim := func(at time.Time, limit int) []string {
		t.Helper()
		items, err := s.ClaimDue(ctx, at, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Status != canary.OutboxClaimed {
				t.Errorf("%s: status %s, want claimed", it.Key, it.Status)
			}
		}
		return keys(items)
	}
	if got := claim(now, 2); !reflect.DeepEqual(got, []string{"c", "a"}) {
		t.Errorf("first claim: got %v, want the two oldest due", got)
	}
	if got := claim(now, 10); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("second claim: got %v, want the rest due; claimed ones are leased", got)
	}
	// a is delivered; b fails and is retried in 5m; c's deliverer dies.
	if err := s.MarkDelivered(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, "b", "slack: 500", now.Add(5*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if got := claim(now.Add(30*time.Second), 10); got != nil {
		t.Errorf("within the lease, before the retry: got %v, want nothing", got)
	}
	if got := claim(now.Add(DefaultClaimLease), 10); !reflect.DeepEqual(got, []string{"c"}) {
		t.Errorf("lease over: got %v, want c again", got)
	}
	if err := s.MarkDelivered(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if got := claim(now.Add(10*time.Minute), 10); !reflect.DeepEqual(got, []string{"b", "later"}) {
		t.Errorf("after the retry time: got %v, want b and later", got)
	}
	if err := s.MarkFailed(ctx, "b", "slack: 404 no_service", time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, "c", "late failure", now, false); err != nil { // delivered stays delivered
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "a"); err != nil { // idempotent
		t.Fatal(err)
	}
	if got := claim(now.Add(24*time.Hour), 10); !reflect.DeepEqual(got, []string{"later"}) {
		t.Errorf("a day later: got %v, want only the still-claimed item whose lease ran out", got)
	}

	type summary struct {
		Outcome, Error string
		Open           bool
	}
	attempts := func(key string) []summary {
		t.Helper()
		as, err := s.Attempts(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var out []summary
		for i, a := range as {
			if a.N != i+1 || a.StartedAt.IsZero() {
				t.Errorf("%s attempt %d: %+v", key, i+1, a)
			}
			out = append(out, summary{a.Outcome, a.Error, a.FinishedAt.IsZero()})
		}
		return out
	}
	tests := []struct {
		key    string
		want   []summary
		status canary.OutboxStatus
	}{
		{"a", []summary{{"delivered", "", false}}, canary.OutboxDelivered},
		{"b", []summary{{"failed", "slack: 500", false}, {"failed", "slack: 404 no_service", false}}, canary.OutboxDead},
		{"c", []summary{{"expired", "", false}, {"delivered", "", false}}, canary.OutboxDelivered},
		{"later", []summary{{"expired", "", false}, {"", "", true}}, canary.OutboxClaimed},
	}
	for _, tt := range tests {
		if got := attempts(tt.key); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s attempts: got %+v, want %+v", tt.key, got, tt.want)
		}
		var status string
		var n int
		var lastErr string
		if err := s.w.QueryRowContext(ctx, `SELECT status, attempts, last_error FROM outbox WHERE key = ?`, tt.key).
			Scan(&status, &n, &lastErr); err != nil {
			t.Fatal(err)
		}
		if canary.OutboxStatus(status) != tt.status || n != len(tt.want) {
			t.Errorf("%s: status %s attempts %d, want %s %d", tt.key, status, n, tt.status, len(tt.want))
		}
	}
	_, err := s.Attempts(ctx, "nope")
	wantCode(t, err, canary.ENOTFOUND)
	wantCode(t, s.MarkDelivered(ctx, "nope"), canary.ENOTFOUND)
	wantCode(t, s.MarkFailed(ctx, "nope", "x", now, false), canary.ENOTFOUND)

	n, err := s.PruneOutbox(ctx, base.Add(24*time.Hour))
	if err != nil || n != 3 {
		t.Errorf("prune: got %d, %v; want the 3 finished items", n, err)
	}
	if c := count(t, s, `SELECT count(*) FROM outbox_attempts`); c != 2 {
		t.Errorf("attempts left after prune: %d, want 2 (those of later)", c)
	}
}
