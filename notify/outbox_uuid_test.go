package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/store"
)

// TestKeysUniqueAcrossDatabases: two servers' databases both number
// their first rollout 1, so keys made of the rollout ID alone repeat and a
// receiver dropping repeats drops the second server's messages.
// OutboxItemsIn keys each item with the database's UUID: the same rollout
// ID and events give different keys (and PagerDuty incidents) in two
// databases, the same keys again in one (a replayed commit enqueues
// nothing twice), and the items committed with the events carry them.
func TestKeysUniqueAcrossDatabases(t *testing.T) {
	p := testPlan(t, receivers{smtp: "127.0.0.1:25", pagerduty: "http://127.0.0.1:1", webhook: "http://127.0.0.1:1"})
	a, _ := testStore(t)
	b, _ := testStore(t)
	idA, idB := createRollout(t, a, p), createRollout(t, b, p)
	if idA != idB {
		t.Fatalf("rollout IDs %d and %d: the test needs the same ID in both databases", idA, idB)
	}
	batch := rolloutEvents()[3] // the rollback: every audience, PagerDuty included
	itemsA, itemsB := OutboxItemsIn(a.UUID(), p, idA, batch), OutboxItemsIn(b.UUID(), p, idB, batch)
	if len(itemsA) == 0 || len(itemsA) != len(itemsB) {
		t.Fatalf("%d and %d items", len(itemsA), len(itemsB))
	}
	keysA := map[string]bool{}
	for _, it := range itemsA {
		keysA[it.Key] = true
		if !strings.HasPrefix(it.Key, "rollout/"+a.UUID()+".1/event/") {
			t.Errorf("key %s: want rollout/<database UUID>.<id>/event/…", it.Key)
		}
	}
	for i, it := range itemsB {
		if keysA[it.Key] {
			t.Errorf("key %s repeats across databases", it.Key)
		}
		ma, mb := message(t, itemsA[i]), message(t, it)
		if ma.Incident() == mb.Incident() {
			t.Errorf("PagerDuty incident %s repeats across databases", ma.Incident())
		}
	}
	for i, it := range OutboxItemsIn(a.UUID(), p, idA, batch) {
		if it.Key != itemsA[i].Key {
			t.Errorf("replay: key %s, first %s", it.Key, itemsA[i].Key)
		}
	}
	// Committed with the events, as serve's runner does, and read back.
	for _, batch := range rolloutEvents() {
		last := batch[len(batch)-1]
		items := OutboxItemsIn(a.UUID(), p, idA, batch)
		for _, it := range items {
			keysA[it.Key] = true
		}
		state := canary.State{Name: p.Metadata.Name, Version: p.Spec.Version, Phase: last.Phase, EventSeq: last.Seq}
		if err := a.Commit(t.Context(), idA, state, batch, store.WithOutbox(items...)); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := a.Outbox(t.Context(), idA)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range stored {
		if !keysA[it.Key] {
			t.Errorf("stored key %s was not made of the database's UUID", it.Key)
		}
		if m, err := decodeItem(it); err != nil || m.UID != a.UUID()+".1" || m.RolloutID != idA {
			t.Errorf("decoded %s: UID %q RolloutID %d (%v); want %s.1 and %d", it.Key, m.UID, m.RolloutID, err, a.UUID(), idA)
		}
	}
}

// message decodes an item's payload.
func message(t *testing.T, it canary.OutboxItem) Message {
	t.Helper()
	var m Message
	if err := json.Unmarshal(it.Payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
