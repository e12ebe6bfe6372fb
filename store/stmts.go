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
	// The updates are fenced: they match only where the log ends at the
	// given seq. samePhaseSQL leaves phase (and so its index, one more page
	// written per commit) alone; it matches only where phase is unchanged.
	samePhaseSQL   = `UPDATE rollouts SET event_seq = ?, state = ?, updated_at = ? WHERE id = ? AND event_seq = ? AND phase = ?`
	updateStateSQL = `UPDATE rollouts SET phase = ?, event_seq = ?, state = ?, updated_at = ? WHERE id = ? AND event_seq = ?`
)

// hotStmts are Commit's statements, prepared once on the write connection,
// so a commit does not parse and plan its SQL again. A nil statement
// (preparing failed) is prepared in each transaction instead.
type hotStmts struct {
	selectSeq, insertEvent, samePhase, updateState *sql.Stmt
}

func prepareHot(ctx context.Context, w *sql.DB) hotStmts {
	prep := func(q string) *sql.Stmt {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			return nil
		}
		return st
	}
	return hotStmts{selectSeq: prep(selectSeqSQL), insertEvent: prep(insertEventSQL),
		samePhase: prep(samePhaseSQL), updateState: prep(updateStateSQL)}
}

func (h hotStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{h.selectSeq, h.insertEvent, h.samePhase, h.updateState} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
