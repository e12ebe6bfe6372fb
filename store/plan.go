package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
)

// UpdatePlan replaces rollout id's plan (a forced apply of a changed spec
// to a running rollout). The state and the log are left as they are.
func (s *Store) UpdatePlan(ctx context.Context, id int64, plan []byte) error {
	sum := sha256.Sum256(plan)
	now := s.cfg.Now().UTC()
	return s.write(ctx, fmt.Sprintf("update plan of rollout %d", id), func(tx *sql.Tx) error {
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
	})
}
