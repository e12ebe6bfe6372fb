package store

import (
	"github.com/canary-dev/canary"

	"context"
	"database/sql"
	"strings"
)

// OutboxQuery selects the items OutboxPage returns.
type OutboxQuery struct {
	// Status keeps the items of one status ("": every status).
	Status canary.OutboxStatus
	// Failed keeps the items whose last attempt failed: pending with a
	// LastError (to be retried) or dead.
	Failed bool
	// Limit caps the items returned, newest first; 0 or less returns none
	// (only the counts).
	Limit int
}

// OutboxCounts count a rollout's notifications by status.
type OutboxCounts struct {
	Total     int
	Pending   int
	Claimed   int
	Delivered int
	Dead      int
	// Retrying counts the pending ones whose last attempt failed (part of
	// Pending).
	Retrying int
}

// Matching is how many items q keeps (with any limit).
func (c OutboxCounts) Matching(q OutboxQuery) int {
	switch {
	case q.Failed && q.Status == "":
		return c.Retrying + c.Dead
	case q.Failed && q.Status == canary.OutboxPending:
		return c.Retrying
	case q.Failed && q.Status == canary.OutboxDead:
		return c.Dead
	case q.Failed:
		return 0
	}
	switch q.Status {
	case "":
		return c.Total
	case canary.OutboxPending:
		return c.Pending
	case canary.OutboxClaimed:
		return c.Claimed
	case canary.OutboxDelivered:
		return c.Delivered
	case canary.OutboxDead:
		return c.Dead
	}
	return 0
}

// OutboxPage returns rollout id's notifications counted by status (in
// SQL, without reading them) and the newest q.Limit of those q keeps,
// newest first: what a page of a rollout's notifications needs, without
// reading every item and its payload as Outbox does.
func (s *Store) OutboxPage(ctx context.Context, rolloutID int64, q OutboxQuery) (OutboxCounts, []canary.OutboxItem, error) {
	var c OutboxCounts
	var items []canary.OutboxItem
	err := s.read(ctx, "read notifications", func(tx *sql.Tx) error {
		if err := countOutbox(ctx, tx, rolloutID, &c); err != nil {
			return err
		}
		if q.Limit <= 0 || c.Matching(q) == 0 {
			return nil
		}
		var where strings.Builder
		args := []any{rolloutID}
		where.WriteString(`rollout_id = ?`)
		if q.Status != "" {
			where.WriteString(` AND status = ?`)
			args = append(args, string(q.Status))
		}
		if q.Failed {
			where.WriteString(` AND (status = ? OR (status = ? AND last_error != ''))`)
			args = append(args, string(canary.OutboxDead), string(canary.OutboxPending))
		}
		args = append(args, q.Limit)
		rows, err := tx.QueryContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE `+where.String()+
			` ORDER BY id DESC LIMIT ?`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		items = make([]canary.OutboxItem, 0, min(q.Limit, c.Matching(q)))
		for rows.Next() {
			it, err := scanItem(rows)
			if err != nil {
				return err
			}
			items = append(items, it)
		}
		return rows.Err()
	})
	return c, items, err
}

// countOutbox counts rollout id's items by status and failure.
func countOutbox(ctx context.Context, tx *sql.Tx, rolloutID int64, c *OutboxCounts) error {
	rows, err := tx.QueryContext(ctx, `SELECT status, last_error != '', count(*) FROM outbox
		WHERE rollout_id = ? GROUP BY 1, 2`, rolloutID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var failed bool
		var n int
		if err := rows.Scan(&status, &failed, &n); err != nil {
			return err
		}
		c.Total += n
		switch canary.OutboxStatus(status) {
		case canary.OutboxPending:
			c.Pending += n
			if failed {
				c.Retrying += n
			}
		case canary.OutboxClaimed:
			c.Claimed += n
		case canary.OutboxDelivered:
			c.Delivered += n
		case canary.OutboxDead:
			c.Dead += n
		}
	}
	return rows.Err()
}
