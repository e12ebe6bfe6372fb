// Package storetest holds fixtures on a real store.Store for the tests
// of its readers (manager, web). Tests only.
package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
)

// Outbox says what SeedOutbox stores.
type Outbox struct {
	// Name is the rollout's "namespace/name"; Plan its YAML, whose notify
	// entries decide the notifications each event queues.
	Name, Plan string
	// Events is how many events after the creation queue notifications.
	Events int
	// Deliver is the audience whose notifications are delivered; every
	// other audience's fail once with Failure and are retried after Retry,
	// except each audience's newest, given up with GiveUp (Failure when
	// empty).
	Deliver         string
	Failure, GiveUp string
	Retry           time.Duration
}

// SeedOutbox stores o's rollout with its events and the notifications
// they queue (notify.OutboxItems, committed with the events as the runner
// does); then, on the store's stepped clock, one second later claims them
// all and another second later delivers or fails them as o says. It
// returns the notifications' keys by audience, oldest first.
func SeedOutbox(t testing.TB, st *store.Store, clock *canarytest.Clock, o Outbox) map[string][]string {
	t.Helper()
	ctx := t.Context()
	p, err := plan.Parse("plan.yaml", []byte(o.Plan))
	if err != nil {
		t.Fatal(err)
	}
	_, name, _ := strings.Cut(o.Name, "/")
	ev := func(seq int64, typ canary.EventType) canary.Event {
		return canary.Event{Seq: seq, Time: clock.Now(), Rollout: name, Type: typ,
			Phase: canary.PhaseProgressing, Weight: 10, Message: fmt.Sprintf("step %d", seq)}
	}
	r, err := st.Create(ctx, o.Name, []byte(o.Plan), canary.State{Phase: canary.PhaseProgressing, EventSeq: 1},
		[]canary.Event{ev(1, canary.EvCreated)})
	if err != nil {
		t.Fatal(err)
	}
	var evs []canary.Event
	for seq := int64(2); seq <= int64(o.Events)+1; seq++ {
		evs = append(evs, ev(seq, canary.EvStepStarted))
	}
	items := notify.OutboxItems(p, r.ID, evs)
	if err := st.Commit(ctx, r.ID, canary.State{Phase: canary.PhaseProgressing, EventSeq: int64(o.Events) + 1}, evs,
		store.WithOutbox(items...)); err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, it := range items {
		keys[it.Audience] = append(keys[it.Audience], it.Key)
	}
	clock.Advance(time.Second)
	claimed, err := st.ClaimDue(ctx, clock.Now(), len(items))
	if err != nil || len(claimed) != len(items) {
		t.Fatalf("claimed %d of %d: %v", len(claimed), len(items), err)
	}
	clock.Advance(time.Second)
	giveUp := o.GiveUp
	if giveUp == "" {
		giveUp = o.Failure
	}
	for _, it := range claimed {
		aud := keys[it.Audience]
		switch {
		case it.Audience == o.Deliver:
			err = st.MarkDelivered(ctx, it.Key)
		case it.Key == aud[len(aud)-1]:
			err = st.MarkFailed(ctx, it.Key, giveUp, clock.Now().Add(o.Retry), true)
		default:
			err = st.MarkFailed(ctx, it.Key, o.Failure, clock.Now().Add(o.Retry), false)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
