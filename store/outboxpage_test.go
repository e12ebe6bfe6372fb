package store

import (
	"github.com/canary-dev/canary"

	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestOutboxPage counts a rollout's notifications in every status
// (another rollout's do not count) and pages them newest first with each
// filter and limit, as reading them all with Outbox and filtering does.
func TestOutboxPage(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := create(t, s, "shop/checkout")
	other := create(t, s, "shop/cart")
	var items []canary.OutboxItem
	for i := range 40 {
		items = append(items, canary.OutboxItem{Key: fmt.Sprintf("k%02d", i), RolloutID: r.ID, Audience: "eng", Channel: "slack",
			Payload: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	items = append(items, canary.OutboxItem{Key: "other", RolloutID: other.ID, Channel: "slack", Payload: []byte("x")})
	if err := s.Enqueue(ctx, items...); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Hour)
	claimed, err := s.ClaimDue(ctx, now, 30)
	if err != nil || len(claimed) != 30 {
		t.Fatalf("claimed %d, %v", len(claimed), err)
	}
	// Of the 30 claimed: 12 delivered, 8 failed to retry, 5 dead, 5 still claimed.
	for i, it := range claimed {
		switch {
		case i < 12:
			err = s.MarkDelivered(ctx, it.Key)
		case i < 20:
			err = s.MarkFailed(ctx, it.Key, "503 from slack", now.Add(time.Minute), false)
		case i < 25:
			err = s.MarkFailed(ctx, it.Key, "410 gone", now, true)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Outbox(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var want OutboxCounts
	for _, it := range all {
		want.Total++
		switch it.Status {
		case canary.OutboxPending:
			want.Pending++
			if it.LastError != "" {
				want.Retrying++
			}
		case canary.OutboxClaimed:
			want.Claimed++
		case canary.OutboxDelivered:
			want.Delivered++
		case canary.OutboxDead:
			want.Dead++
		}
	}
	if want.Total != 40 || want.Retrying == 0 || want.Dead == 0 || want.Claimed == 0 || want.Delivered == 0 {
		t.Fatalf("setup: counts %+v", want)
	}
	tests := []struct {
		name string
		q    OutboxQuery
		keep func(canary.OutboxItem) bool
	}{
		{"all", OutboxQuery{Limit: 15}, func(canary.OutboxItem) bool { return true }},
		{"all, more than there are", OutboxQuery{Limit: 100}, func(canary.OutboxItem) bool { return true }},
		{"pending", OutboxQuery{Status: canary.OutboxPending, Limit: 5}, func(it canary.OutboxItem) bool { return it.Status == canary.OutboxPending }},
		{"claimed", OutboxQuery{Status: canary.OutboxClaimed, Limit: 100}, func(it canary.OutboxItem) bool { return it.Status == canary.OutboxClaimed }},
		{"delivered", OutboxQuery{Status: canary.OutboxDelivered, Limit: 3}, func(it canary.OutboxItem) bool { return it.Status == canary.OutboxDelivered }},
		{"dead", OutboxQuery{Status: canary.OutboxDead, Limit: 100}, func(it canary.OutboxItem) bool { return it.Status == canary.OutboxDead }},
		{"failed", OutboxQuery{Failed: true, Limit: 10}, func(it canary.OutboxItem) bool {
			return it.Status == canary.OutboxDead || (it.Status == canary.OutboxPending && it.LastError != "")
		}},
		{"counts only", OutboxQuery{}, func(canary.OutboxItem) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got, err := s.OutboxPage(ctx, r.ID, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if c != want {
				t.Errorf("counts %+v, want %+v", c, want)
			}
			var kept []canary.OutboxItem
			for _, it := range slices.Backward(all) {
				if tt.keep(it) {
					kept = append(kept, it)
				}
			}
			if m := c.Matching(tt.q); tt.q != (OutboxQuery{}) && m != len(kept) {
				t.Errorf("matching %d, want %d", m, len(kept))
			}
			kept = kept[:min(len(kept), max(tt.q.Limit, 0))]
			if !slices.EqualFunc(got, kept, func(a, b canary.OutboxItem) bool {
				return a.Key == b.Key && a.Status == b.Status && string(a.Payload) == string(b.Payload) && a.LastError == b.LastError
			}) {
				t.Errorf("items %v, want %v", keys(got), keys(kept))
			}
		})
	}
	if c, _, err := s.OutboxPage(ctx, 999, OutboxQuery{Limit: 10}); err != nil || c != (OutboxCounts{}) {
		t.Errorf("unknown rollout: %+v, %v; want no counts", c, err)
	}
}
