package store

import (
	"context"
	"database/sql"
	"errors"
)

// The statements of Commit (selectSeqSQL only when it refuses a commit).
const (
	selectSeqSQL   = `SELECT event_seq FROM rollouts WHERE id = ?`
	insertEventSQL = `INSERT INTO events (rollout_id, seq, time, type, body) VALUES (?, ?, ?, ?, ?)`
	// updateStateSQL is fenced: it matches only where the log ends at the
	// last parameter.
	updateStateSQL = `UPDATE rollouts SET phase = ?, event_seq = ?, state = ?, updated_at = ? WHERE id = ? AND event_seq = ?`
)

// hotStmts are Commit's statements, prepared once on the write connection,
// so a commit does not parse and plan its SQL again. A nil statement
// (preparing failed) is prepared in each transaction instead.
type hotStmts struct {
	selectSeq, insertEvent, updateState *sql.Stmt
}

func prepareHot(ctx context.Context, w *sql.DB) hotStmts {
	prep := func(q string) *sql.Stmt {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			return nil
		}
		return st
	}
	return hotStmts{selectSeq: prep(selectSeqSQL), insertEvent: prep(insertEventSQL), updateState: prep(updateStateSQL)}
}

func (h hotStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{h.selectSeq, h.insertEvent, h.updateState} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
