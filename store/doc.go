// Package store is canary's embedded durable state: one SQLite file (WAL
// journal, synchronous=FULL) holding every rollout's plan, its current State
// snapshot, its append-only event log and a notification outbox.
//
// The runner's loop around it is:
//
//	r, _ := s.Get(ctx, id)                    // or Create for a new rollout
//	out := engine.Next(plan, r.State, in)
//	err := s.Commit(ctx, id, out.State, out.Events, store.WithOutbox(items...))
//	// only now execute out.Actions; their results go into the next Next.
//
// Commit writes the events (the actionIssued events are the intent
// records), the new snapshot and the notifications in one transaction, so a
// crash leaves either all of them or none.
//
// Invariants:
//   - A rollout's events are numbered 1, 2, 3, … without gaps, and its
//     snapshot's EventSeq always equals the Seq of its last stored event.
//     Commit refuses (code conflict, nothing written) any batch that does not
//     continue the log exactly: that fences a stale writer, for example a
//     second runner working from an old snapshot.
//   - A name (namespace/name) has at most one non-terminal rollout; a new
//     version of the same name is a new rollout with the next generation.
//   - Only terminal rollouts can be deleted; deleting one deletes its events.
//     PruneBatch (retention) deletes terminal rollouts whose last commit is
//     older than a cutoff, with their events and notifications, a bounded
//     batch per transaction, and records each name's last one in table
//     pruned so Latest says retention removed it.
//   - Event bodies are stored compressed (codec.go) and read back as the
//     exact JSON they were; bodies written before schema version 4 are
//     JSON text and read as they are.
//   - An outbox item's Key is unique: enqueueing a key twice keeps the first
//     item, so a replayed commit never notifies twice. Delivery is
//     at-least-once: ClaimDue leases items, and a deliverer that crashes
//     before MarkDelivered/MarkFailed loses its lease and the item is offered
//     again; receivers dedupe on the Key.
//   - Errors a person can act on are *canary.Error: not_found, conflict,
//     invalid, and unavailable for every failure that is the disk's or
//     another process's fault (read-only file system, disk full, I/O error,
//     database locked, corrupt file): a server answers 503 and pauses
//     rollouts rather than acting on state it could not record.
//
// Subscribe wakes server-sent-event streams after each commit made through
// the same *Store; commits by another process on the same file are not seen.
package store
