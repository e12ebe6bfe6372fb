// Package notify tells a plan's audiences about a rollout: it routes each
// event to the audiences whose filters want it (Route, Wants), turns the
// routed messages into notification outbox items that the runner commits
// in the same transaction as the events (OutboxItems), and delivers them
// on Slack, email, a signed webhook or PagerDuty (Deliverer).
//
// The delivery loop is Deliverer.Run:
//
//	for {
//		items := store.ClaimDue(now)         // leased, one attempt each
//		for each item, concurrently:         // a slow receiver holds up only itself
//			send it with Config.Timeout
//			MarkDelivered, or MarkFailed(retryAt = now + backoff with jitter,
//			                             final after MaxAttempts or a permanent error)
//		wait for a commit (store.Subscribe), a retry falling due or the ticker
//	}
//
// Invariants:
//   - Delivery never blocks or breaks a rollout: the runner only writes
//     outbox rows; everything that talks to a receiver runs in the
//     Deliverer, and its failures are recorded on the outbox item (visible
//     through store.Attempts), never returned to the runner.
//   - Every message has a stable key, rollout/<uid>/event/<seq>/<audience>/<channel>,
//     the same for every retry and unique across rollouts, generations and
//     servers: the uid is the state database's UUID and the rollout's ID
//     (OutboxItemsIn), or the Rollout's Kubernetes UID under the operator.
//     Delivery is at least once: a deliverer that crashes after sending and
//     before MarkDelivered sends again once the claim's lease runs out.
//     Receivers dedupe on the key: the X-Canary-Delivery header (webhook),
//     the X-Canary-Delivery header and Message-ID (email); PagerDuty dedupes
//     on dedup_key. Once MarkDelivered is recorded the key is never sent again.
//   - A PagerDuty audience's messages for one rollout are delivered in
//     order, so a resolve never overtakes the trigger it resolves.
//   - Secrets (canary.SecretRef) are resolved at send time and never appear
//     in an error, an event, an outbox row or a log line; URLs are shown
//     with their credentials and query values redacted.
package notify
