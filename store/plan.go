package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"
)

// UpdatePlan replaces rollout id's plan. The state and the log are left
// as they are; to change them in the same write, Commit WithPlan.
func (s *Store) UpdatePlan(ctx context.Context, id int64, plan []byte) error {
	now := s.cfg.Clock.Now().UTC()
	return s.write(ctx, fmt.Sprintf("update plan of rollout %d", id), func(tx *sql.Tx) error {
		return updatePlanTx(ctx, tx, id, plan, now)
	})
}

// updatePlanTx replaces rollout id's plan and its digest in tx.
func updatePlanTx(ctx context.Context, tx *sql.Tx, id int64, plan []byte, now time.Time) error {
	sum := sha256.Sum256(plan)
	res, err := tx.ExecContext(ctx, `UPDATE rollouts SET plan = ?, plan_sha256 = ?, updated_at = ? WHERE id = ?`,
		plan, hex.EncodeToString(sum[:]), nanos(now), id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFound(id)
	}
	return nil
}
