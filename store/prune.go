package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/canary-dev/canary"
)

// DefaultPruneBatch is PruneOptions.BatchRows' default.
const DefaultPruneBatch = 500

// PruneOptions says what PruneBatch removes.
type PruneOptions struct {
	// FinishedBefore: a rollout in a terminal phase (Succeeded, RolledBack,
	// Failed) whose last commit (UpdatedAt) is before it is removed with
	// its events and notifications, unless a notification of it is still
	// waiting to be delivered. Required.
	FinishedBefore time.Time
	// BatchRows caps the rows one PruneBatch deletes (events, then
	// notifications, then the rollout), so the transaction holding them
	// is short: commits wait for it. Default: DefaultPruneBatch.
	BatchRows int
}

// PruneResult counts the rows a prune deleted.
type PruneResult struct {
	// Rollouts removed (snapshot and plan), Events and Outbox items
	// (notifications, with their delivery attempts).
	Rollouts, Events, Outbox int64
}

// Add adds r's counts to p.
func (p *PruneResult) Add(r PruneResult) {
	p.Rollouts += r.Rollouts
	p.Events += r.Events
	p.Outbox += r.Outbox
}

// Rows is the number of rows deleted.
func (p PruneResult) Rows() int64 { return p.Rollouts + p.Events + p.Outbox }

// PruneBatch deletes at most o.BatchRows rows of what retention removes,
// in one transaction shared with concurrent commits, and reports whether
// nothing is left to remove (more is false). Call it until more is false.
//
// A rollout's events go first, newest first, then its notifications, and
// the rollout itself last, with a record in table pruned so Latest can say
// that retention removed it. Each batch checks again that the rollout is
// finished and old enough: a rollout retried mid-way (active again) is
// left alone from then on. Delivered and dead notifications of deleted
// rollouts (canary delete) that finished before o.FinishedBefore go too.
// Freed pages are reused by later writes; the file does not shrink.
func (s *Store) PruneBatch(ctx context.Context, o PruneOptions) (res PruneResult, more bool, err error) {
	if o.FinishedBefore.IsZero() {
		return PruneResult{}, false, canary.Errorf(canary.EINVALID, "prune: FinishedBefore is required")
	}
	if o.BatchRows <= 0 {
		o.BatchRows = DefaultPruneBatch
	}
	err = s.writeBatched(ctx, operation{what: "prune finished rollouts"}, func(w *wtx) error {
		var err error
		res, more, err = s.pruneTx(ctx, w.Tx, o)
		return err
	})
	return res, more, err
}

// pruneTx is one PruneBatch.
func (s *Store) pruneTx(ctx context.Context, tx *sql.Tx, o PruneOptions) (PruneResult, bool, error) {
	var res PruneResult
	before := nanos(o.FinishedBefore)
	var id, gen, finished int64
	var name, phase string
	err := tx.QueryRowContext(ctx, `SELECT id, name, generation, phase, updated_at FROM rollouts r
		WHERE phase IN (?, ?, ?) AND updated_at < ?
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.rollout_id = r.id AND o.status IN (?, ?))
		ORDER BY updated_at LIMIT 1`,
		string(canary.PhaseSucceeded), string(canary.PhaseRolledBack), string(canary.PhaseFailed), before,
		string(canary.OutboxPending), string(canary.OutboxClaimed)).Scan(&id, &name, &gen, &phase, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		// No rollout left: notifications of rollouts deleted by hand.
		n, err := deleteRows(ctx, tx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
			WHERE rollout_id IS NULL AND status IN (?, ?) AND finished_at < ? LIMIT ?)`,
			string(canary.OutboxDelivered), string(canary.OutboxDead), before, o.BatchRows)
		res.Outbox = n
		return res, n == int64(o.BatchRows), err
	}
	if err != nil {
		return res, false, err
	}
	budget := int64(o.BatchRows)
	if res.Events, err = deleteRows(ctx, tx, `DELETE FROM events WHERE rowid IN
		(SELECT rowid FROM events WHERE rollout_id = ? ORDER BY seq DESC LIMIT ?)`, id, budget); err != nil {
		return res, false, err
	}
	if budget -= res.Events; budget == 0 {
		return res, true, nil
	}
	if res.Outbox, err = deleteRows(ctx, tx, `DELETE FROM outbox WHERE id IN
		(SELECT id FROM outbox WHERE rollout_id = ? LIMIT ?)`, id, budget); err != nil {
		return res, false, err
	}
	if budget -= res.Outbox; budget == 0 {
		return res, true, nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM rollouts WHERE id = ?`, id); err != nil {
		return res, false, err
	}
	res.Rollouts = 1
	_, err = tx.ExecContext(ctx, `INSERT INTO pruned (name, rollout_id, generation, phase, finished_at, pruned_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET rollout_id = excluded.rollout_id,
		generation = excluded.generation, phase = excluded.phase, finished_at = excluded.finished_at, pruned_at = excluded.pruned_at`,
		name, id, gen, phase, finished, nanos(s.cfg.Clock.Now()))
	return res, true, err
}

// deleteRows runs a DELETE and returns the rows it deleted.
func deleteRows(ctx context.Context, tx *sql.Tx, q string, args ...any) (int64, error) {
	r, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// prunedError is Latest's not_found for a name whose latest generation
// retention removed (nil when it did not).
func prunedError(ctx context.Context, tx *sql.Tx, name string) error {
	var gen, last, finished, pruned int64
	var phase string
	err := tx.QueryRowContext(ctx, `SELECT p.generation, g.generation, p.phase, p.finished_at, p.pruned_at
		FROM pruned p JOIN generations g ON g.name = p.name WHERE p.name = ?`, name).Scan(&gen, &last, &phase, &finished, &pruned)
	if err != nil || gen != last {
		return nil // never pruned, or a later generation was deleted by hand
	}
	return canary.Errorf(canary.ENOTFOUND,
		"rollout %s was removed by retention: generation %d finished (%s) at %s and was deleted with its events and notifications at %s; canary serve --retention sets how long finished rollouts are kept",
		name, gen, phase, fromNanos(finished).Format(time.RFC3339), fromNanos(pruned).Format(time.RFC3339))
}

// String is for logs.
func (p PruneResult) String() string {
	return fmt.Sprintf("%d rollouts, %d events, %d notifications", p.Rollouts, p.Events, p.Outbox)
}
