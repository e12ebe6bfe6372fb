package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/canary-dev/canary"
)

// DefaultClaimLimit is ClaimDue's limit when none is given.
const DefaultClaimLimit = 100

// Enqueue stores notifications outside any rollout commit (prefer
// WithOutbox on Commit for notifications caused by events). Items whose Key
// is already stored are ignored.
func (s *Store) Enqueue(ctx context.Context, items ...canary.OutboxItem) error {
	err := s.write(ctx, "enqueue notifications", func(tx *sql.Tx) error {
		return insertOutbox(ctx, tx, 0, items, s.cfg.Clock.Now().UTC())
	})
	if err == nil {
		s.hub.notify(0)
	}
	return err
}

// insertOutbox inserts items, ignoring known keys. rolloutID, when not 0,
// overrides the items' RolloutID.
func insertOutbox(ctx context.Context, tx *sql.Tx, rolloutID int64, items []canary.OutboxItem, now time.Time) error {
	for _, it := range items {
		if it.Key == "" {
			return canary.Errorf(canary.EINVALID, "outbox item for audience %q has no key", it.Audience)
		}
		rid := sql.NullInt64{Int64: it.RolloutID, Valid: it.RolloutID != 0}
		if rolloutID != 0 {
			rid = sql.NullInt64{Int64: rolloutID, Valid: true}
		}
		payload := it.Payload
		if payload == nil {
			payload = []byte{}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox
			(key, rollout_id, audience, channel, payload, status, not_before, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
			it.Key, rid, it.Audience, it.Channel, payload, string(canary.OutboxPending), nanos(it.NotBefore), nanos(now)); err != nil {
			return err
		}
	}
	return nil
}

// outboxCols are the columns scanItem reads, in order.
const outboxCols = `key, rollout_id, audience, channel, payload, not_before, status, attempts, last_error, created_at, finished_at`

func scanItem(row interface{ Scan(...any) error }) (canary.OutboxItem, error) {
	var it canary.OutboxItem
	var rid sql.NullInt64
	var notBefore, created, finished int64
	var status string
	err := row.Scan(&it.Key, &rid, &it.Audience, &it.Channel, &it.Payload, &notBefore, &status,
		&it.Attempts, &it.LastError, &created, &finished)
	it.RolloutID, it.Status = rid.Int64, canary.OutboxStatus(status)
	it.NotBefore, it.CreatedAt, it.FinishedAt = fromNanos(notBefore), fromNanos(created), fromNanos(finished)
	return it, err
}

// ClaimDue leases up to limit items (limit ≤ 0: DefaultClaimLimit) that are
// due at now: pending with NotBefore ≤ now, or claimed with an expired
// lease. Each claim starts an attempt; the lease lasts Config.ClaimLease
// from now. Deliver each item, then MarkDelivered or MarkFailed it. Items
// come oldest NotBefore first. A claim that fails (its commit included)
// returns no items: none of them was claimed.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int) ([]canary.OutboxItem, error) {
	if limit <= 0 {
		limit = DefaultClaimLimit
	}
	var out []canary.OutboxItem
	err := s.write(ctx, "claim notifications", func(tx *sql.Tx) error {
		ids, err := dueItems(ctx, tx, now, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		in := "(" + placeholders(len(ids)) + ")"
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		// An open attempt of a due item is one whose lease ran out.
		if _, err := tx.ExecContext(ctx, `UPDATE outbox_attempts SET finished_at = ?, outcome = 'expired'
			WHERE finished_at = 0 AND item_id IN `+in, append([]any{nanos(now)}, args...)...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, claimed_until = ?, attempts = attempts + 1
			WHERE id IN `+in, append([]any{string(canary.OutboxClaimed), nanos(now.Add(s.cfg.ClaimLease))}, args...)...); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_attempts (item_id, attempt, started_at)
			SELECT id, attempts, ? FROM outbox WHERE id IN `+in, append([]any{nanos(now)}, args...)...); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id IN `+in+
			` ORDER BY not_before, id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			it, err := scanItem(rows)
			if err != nil {
				return err
			}
			out = append(out, it)
		}
		return rows.Err()
	})
	if err != nil {
		// The claim was rolled back (a failed COMMIT included): nothing
		// records these items as claimed, so handing them out would send
		// them with no attempt counted and no lease, due again at once.
		return nil, err
	}
	return out, nil
}

// dueItems returns the IDs of up to limit items due at now.
func dueItems(ctx context.Context, tx *sql.Tx, now time.Time, limit int) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM outbox
		WHERE (status = ? AND not_before <= ?) OR (status = ? AND claimed_until <= ?)
		ORDER BY not_before, id LIMIT ?`,
		string(canary.OutboxPending), nanos(now), string(canary.OutboxClaimed), nanos(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// MarkDelivered records that item key was delivered. Marking a delivered
// item again does nothing; an unknown key is code not_found.
func (s *Store) MarkDelivered(ctx context.Context, key string) error {
	now := s.cfg.Clock.Now().UTC()
	return s.write(ctx, "mark notification "+key+" delivered", func(tx *sql.Tx) error {
		id, status, err := itemStatus(ctx, tx, key)
		if err != nil || status == canary.OutboxDelivered {
			return err
		}
		if err := finishAttempt(ctx, tx, id, now, "delivered", ""); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET status = ?, claimed_until = 0, finished_at = ? WHERE id = ?`,
			string(canary.OutboxDelivered), nanos(now), id)
		return err
	})
}

// MarkFailed records a failed delivery of item key with its error text.
// Unless final, the item is offered again from retryAt; a final failure
// gives the item up (status dead). A delivered or dead item is left as it
// is; an unknown key is code not_found.
func (s *Store) MarkFailed(ctx context.Context, key string, errText string, retryAt time.Time, final bool) error {
	now := s.cfg.Clock.Now().UTC()
	return s.write(ctx, "mark notification "+key+" failed", func(tx *sql.Tx) error {
		id, status, err := itemStatus(ctx, tx, key)
		if err != nil || status == canary.OutboxDelivered || status == canary.OutboxDead {
			return err
		}
		if err := finishAttempt(ctx, tx, id, now, "failed", errText); err != nil {
			return err
		}
		status, finished := canary.OutboxPending, int64(0)
		if final {
			status, finished = canary.OutboxDead, nanos(now)
		}
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET status = ?, not_before = ?, last_error = ?,
			claimed_until = 0, finished_at = ? WHERE id = ?`,
			string(status), nanos(retryAt), errText, finished, id)
		return err
	})
}

func itemStatus(ctx context.Context, tx *sql.Tx, key string) (int64, canary.OutboxStatus, error) {
	var id int64
	var status string
	err := tx.QueryRowContext(ctx, `SELECT id, status FROM outbox WHERE key = ?`, key).Scan(&id, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", canary.Errorf(canary.ENOTFOUND, "notification %q not found", key)
	}
	return id, canary.OutboxStatus(status), err
}

// finishAttempt closes item id's open attempt with outcome, or records a
// finished attempt when none is open (a result reported without a claim).
func finishAttempt(ctx context.Context, tx *sql.Tx, id int64, now time.Time, outcome, errText string) error {
	res, err := tx.ExecContext(ctx, `UPDATE outbox_attempts SET finished_at = ?, outcome = ?, error = ?
		WHERE item_id = ? AND finished_at = 0`, nanos(now), outcome, errText, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE id = ?`, id); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox_attempts (item_id, attempt, started_at, finished_at, outcome, error)
		SELECT id, attempts, ?, ?, ?, ? FROM outbox WHERE id = ?`, nanos(now), nanos(now), outcome, errText, id)
	return err
}

// Attempts returns item key's delivery attempts, oldest first; an unknown
// key is code not_found.
func (s *Store) Attempts(ctx context.Context, key string) ([]canary.OutboxAttempt, error) {
	var out []canary.OutboxAttempt
	err := s.read(ctx, "read attempts of notification "+key, func(tx *sql.Tx) error {
		id, _, err := itemStatus(ctx, tx, key)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT attempt, started_at, finished_at, outcome, error
			FROM outbox_attempts WHERE item_id = ? ORDER BY attempt`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a canary.OutboxAttempt
			var started, finished int64
			if err := rows.Scan(&a.N, &started, &finished, &a.Outcome, &a.Error); err != nil {
				return err
			}
			a.StartedAt, a.FinishedAt = fromNanos(started), fromNanos(finished)
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}

// Outbox returns rollout id's notifications in the order they were
// enqueued, with their delivery status.
func (s *Store) Outbox(ctx context.Context, rolloutID int64) ([]canary.OutboxItem, error) {
	return s.queryItems(ctx, "read notifications", `SELECT `+outboxCols+` FROM outbox WHERE rollout_id = ? ORDER BY id`, rolloutID)
}

// Unfinished returns every item not yet delivered or given up (pending or
// claimed), of any rollout, in the order they were enqueued.
func (s *Store) Unfinished(ctx context.Context) ([]canary.OutboxItem, error) {
	return s.queryItems(ctx, "read unfinished notifications",
		`SELECT `+outboxCols+` FROM outbox WHERE status IN (?, ?) ORDER BY id`,
		string(canary.OutboxPending), string(canary.OutboxClaimed))
}

// queryItems reads the outbox items a query selects (by outboxCols).
func (s *Store) queryItems(ctx context.Context, what, query string, args ...any) ([]canary.OutboxItem, error) {
	var out []canary.OutboxItem
	err := s.read(ctx, what, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			it, err := scanItem(rows)
			if err != nil {
				return err
			}
			out = append(out, it)
		}
		return rows.Err()
	})
	return out, err
}

// PruneOutbox deletes delivered and dead items finished before before, with
// their attempts, and returns how many it deleted. A pruned key no longer
// dedupes: prune only items far older than any commit that could repeat.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, "prune notifications", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE status IN (?, ?) AND finished_at < ?`,
			string(canary.OutboxDelivered), string(canary.OutboxDead), nanos(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
