package notify

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/canary-dev/canary"
)

// OutboxItems returns the notifications events cause under plan, one per
// audience and channel that wants each event, for the runner to commit
// with the events (store.WithOutbox) so both are written or neither. Each
// item's Key is Key(rolloutID, …), unique across rollouts and generations
// and stable across replays, so a replayed commit enqueues nothing twice.
// Its Payload is the JSON Message; channel settings and secrets are read
// from the plan when the item is sent, never stored.
//
// A stepCompleted event carries the last evaluation before it in events
// (the engine evaluates and completes the step in one call), for the
// per-step summary.
//
// Its keys are unique within one database only; canary serve and canary
// run --state use OutboxItemsIn, whose keys are unique across databases.
func OutboxItems(plan *canary.Plan, rolloutID int64, events []canary.Event) []canary.OutboxItem {
	return outboxItems(Messages(plan, rolloutID, events), rolloutID)
}

// OutboxItemsIn is OutboxItems for rollout rolloutID of the state
// database whose UUID is storeUUID (store.Store.UUID): each message's UID
// is StoreUID(storeUUID, rolloutID) and its key KeyUID(UID, …),
// rollout/<database UUID>.<id>/event/<seq>/<audience>/<channel>, so two
// servers never send the same key and a receiver that drops repeats never
// drops a second server's message (nor PagerDuty merges their incidents).
func OutboxItemsIn(storeUUID string, plan *canary.Plan, rolloutID int64, events []canary.Event) []canary.OutboxItem {
	msgs := Messages(plan, rolloutID, events)
	uid := StoreUID(storeUUID, rolloutID)
	for i := range msgs {
		msgs[i].UID = uid
		msgs[i].Key = KeyUID(uid, msgs[i].Event.Seq, msgs[i].Audience, msgs[i].Channel)
	}
	return outboxItems(msgs, rolloutID)
}

// StoreUID is the globally unique ID of rollout rolloutID of the state
// database whose UUID is storeUUID: "<database UUID>.<id>".
func StoreUID(storeUUID string, rolloutID int64) string {
	return storeUUID + "." + strconv.FormatInt(rolloutID, 10)
}

// outboxItems encodes msgs as outbox items of rollout rolloutID.
func outboxItems(msgs []Message, rolloutID int64) []canary.OutboxItem {
	var items []canary.OutboxItem
	for _, m := range msgs {
		payload, err := json.Marshal(m)
		if err != nil {
			continue // a Message always encodes; unreachable
		}
		items = append(items, canary.OutboxItem{Key: m.Key, RolloutID: rolloutID,
			Audience: m.Audience, Channel: m.Channel, Payload: payload})
	}
	return items
}

// Messages returns the messages events cause under plan, in event order,
// one per audience and channel that wants each event, keyed by
// Key(rolloutID, …). A stepCompleted event carries the last evaluation
// before it in events (the engine evaluates and completes the step in one
// call), for the per-step summary. OutboxItems stores them under canary
// serve; canary operator keeps them in the Rollout's status.
func Messages(plan *canary.Plan, rolloutID int64, events []canary.Event) []Message {
	var out []Message
	var last []canary.Evaluation // the latest evaluation seen in events
	for _, ev := range events {
		if ev.Type == canary.EvEvaluated && len(ev.Evaluations) > 0 {
			last = ev.Evaluations
		}
		for _, m := range route(plan, rolloutID, ev) {
			if ev.Type == canary.EvStepCompleted && len(m.Evaluations) == 0 {
				m.Evaluations = last
			}
			out = append(out, m)
		}
	}
	return out
}

// decodeItem reads an outbox item's Message.
func decodeItem(it canary.OutboxItem) (Message, error) {
	var m Message
	if err := json.Unmarshal(it.Payload, &m); err != nil {
		return m, Permanent(fmt.Errorf("notification %s: payload is not a message: %w", it.Key, err))
	}
	m.Key = it.Key
	if m.Channel == "" {
		m.Channel = it.Channel
	}
	if m.Audience == "" {
		m.Audience = it.Audience
	}
	// A message with a UID is identified by it: the item's RolloutID is
	// then only the outbox's handle on the plan (canary run without
	// --state keeps its outbox in a temporary store whose IDs repeat).
	if m.RolloutID == 0 && m.UID == "" {
		m.RolloutID = it.RolloutID
	}
	return m, nil
}
