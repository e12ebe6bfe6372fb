package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/canary-dev/canary"
)

// terminalPhases are the phases for which canary.Phase.Terminal is true.
var terminalPhases = []canary.Phase{canary.PhaseSucceeded, canary.PhaseRolledBack, canary.PhaseFailed}

// ListOptions filters and pages List. The zero value lists every rollout.
type ListOptions struct {
	// Name, when set, lists only the generations of this namespace/name.
	Name string
	// Namespace, when set, lists only rollouts named namespace/….
	Namespace string
	// Phases, when set, lists only rollouts in one of these phases.
	Phases []canary.Phase
	// Active lists only rollouts whose phase is not terminal: what a runner
	// resumes after a restart.
	Active bool
	// BeforeID, when positive, lists only rollouts with a smaller ID: pass
	// the last ID of a page to get the next one.
	BeforeID int64
	// Limit caps the number of rollouts returned; zero means no limit.
	Limit int
}

// List returns the rollouts matching o, newest (highest ID) first.
func (s *Store) List(ctx context.Context, o ListOptions) ([]Rollout, error) {
	var where []string
	var args []any
	if o.Name != "" {
		where = append(where, "name = ?")
		args = append(args, o.Name)
	}
	if o.Namespace != "" {
		// '0' follows '/': the range is every name with the prefix "ns/".
		where = append(where, "name >= ? AND name < ?")
		args = append(args, o.Namespace+"/", o.Namespace+"0")
	}
	if len(o.Phases) > 0 {
		where = append(where, "phase IN ("+placeholders(len(o.Phases))+")")
		for _, p := range o.Phases {
			args = append(args, string(p))
		}
	}
	if o.Active {
		where = append(where, "phase NOT IN ("+placeholders(len(terminalPhases))+")")
		for _, p := range terminalPhases {
			args = append(args, string(p))
		}
	}
	if o.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, o.BeforeID)
	}
	q := `SELECT ` + rolloutCols + ` FROM rollouts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if o.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, o.Limit)
	}
	var out []Rollout
	err := s.read(ctx, "list rollouts", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRollout(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Delete removes a terminal rollout and its events; a rollout that is not
// terminal is refused with code conflict. Its outbox items stay, so
// notifications already enqueued are still delivered. Subscribers of id are
// woken and find it gone.
func (s *Store) Delete(ctx context.Context, id int64) error {
	err := s.write(ctx, fmt.Sprintf("delete rollout %d", id), func(tx *sql.Tx) error {
		var phase string
		err := tx.QueryRowContext(ctx, `SELECT phase FROM rollouts WHERE id = ?`, id).Scan(&phase)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		if !canary.Phase(phase).Terminal() {
			return canary.Errorf(canary.ECONFLICT,
				"rollout %d is %s: only a finished rollout (Succeeded, RolledBack or Failed) can be deleted", id, phase)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM rollouts WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return err
	}
	s.hub.notify(id)
	return nil
}
