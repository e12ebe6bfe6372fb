package canary

import "time"

// OutboxStatus is where an outbox item is in its delivery.
type OutboxStatus string

// The outbox statuses.
const (
	OutboxPending   OutboxStatus = "pending"   // waiting for NotBefore, then claimable
	OutboxClaimed   OutboxStatus = "claimed"   // leased by a claim until the lease ends
	OutboxDelivered OutboxStatus = "delivered" // done
	OutboxDead      OutboxStatus = "dead"      // given up after the last attempt
)

// OutboxItem is one notification to deliver to one audience on one channel.
type OutboxItem struct {
	// Key identifies the notification across crashes and retries, e.g.
	// "rollout/12/event/34/on-call". Required; a second item with the same
	// Key is ignored. Receivers that dedupe (PagerDuty's dedup_key) get it.
	Key string `json:"key"`
	// RolloutID is the rollout the notification is about; 0 for none.
	// The store sets it when the item is committed with a rollout.
	RolloutID int64 `json:"rolloutID,omitempty"`
	// Audience is the plan's audience name (engineering, on-call, …).
	Audience string `json:"audience"`
	// Channel is how it is sent (slack, email, webhook, pagerduty).
	Channel string `json:"channel"`
	// Payload is the rendered message; a store does not read it.
	Payload []byte `json:"payload"`
	// NotBefore is the earliest time a store offers the item; zero means
	// at once.
	NotBefore time.Time `json:"notBefore,omitzero"`

	// The fields below are kept by the store and ignored when enqueueing.

	// Status of the delivery.
	Status OutboxStatus `json:"status,omitempty"`
	// Attempts counts claims (and failures reported without a claim).
	Attempts int `json:"attempts,omitempty"`
	// LastError is the last failed attempt's error.
	LastError string `json:"lastError,omitempty"`
	// CreatedAt is when the item was enqueued; FinishedAt when it was
	// delivered or given up (zero before).
	CreatedAt  time.Time `json:"createdAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// OutboxAttempt is one delivery attempt of an outbox item, for describe.
type OutboxAttempt struct {
	// N counts the item's attempts from 1.
	N int `json:"n"`
	// StartedAt is the claim's time; FinishedAt the result's, zero while
	// the attempt is in flight.
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Outcome is "delivered", "failed", "expired" (the claim's lease ran
	// out without a result: the deliverer crashed or hung) or "" while in
	// flight.
	Outcome string `json:"outcome,omitempty"`
	// Error is the failed attempt's error text.
	Error string `json:"error,omitempty"`
}
