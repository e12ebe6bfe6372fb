package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/canary-dev/canary"
)

// flagsSchema is migration 2: feature flags and the history of their
// changes. A change row is never updated or deleted; the flags row is the
// state after the flag's last change (its version).
const flagsSchema = `
CREATE TABLE flags (
	name               TEXT    PRIMARY KEY,
	enabled            INTEGER NOT NULL CHECK (enabled IN (0, 1)),
	rollout_percentage INTEGER NOT NULL CHECK (rollout_percentage BETWEEN 0 AND 100),
	environment        TEXT    NOT NULL,
	version            INTEGER NOT NULL,                 -- 1, 2, … one per change
	created_at         INTEGER NOT NULL,                 -- Unix nanoseconds
	updated_at         INTEGER NOT NULL,
	updated_by         TEXT    NOT NULL                  -- the last change's actor
) WITHOUT ROWID;

CREATE TABLE flag_changes (
	flag                   TEXT    NOT NULL,
	version                INTEGER NOT NULL,             -- the flag's version after the change
	time                   INTEGER NOT NULL,
	actor                  TEXT    NOT NULL,             -- "rollout ns/name", "token ops", …
	reason                 TEXT    NOT NULL DEFAULT '',
	enabled                INTEGER NOT NULL,             -- the state after the change
	rollout_percentage     INTEGER NOT NULL,
	environment            TEXT    NOT NULL,
	was_enabled            INTEGER,                      -- the state before; NULL when the change created the flag
	was_rollout_percentage INTEGER,
	was_environment        TEXT,
	PRIMARY KEY (flag, version)
) WITHOUT ROWID;
`

// flagNotFound is the error for a missing flag.
func flagNotFound(name string) error {
	return canary.Errorf(canary.ENOTFOUND, "flag %s not found", name)
}

// flagCols are the columns scanFlag reads, in order.
const flagCols = `name, enabled, rollout_percentage, environment, version, created_at, updated_at, updated_by`

func scanFlag(row interface{ Scan(...any) error }) (canary.Flag, error) {
	var f canary.Flag
	var created, updated int64
	err := row.Scan(&f.Name, &f.Enabled, &f.RolloutPercentage, &f.Environment, &f.Version, &created, &updated, &f.UpdatedBy)
	f.CreatedAt, f.UpdatedAt = fromNanos(created), fromNanos(updated)
	return f, err
}

// GetFlag returns flag name, or code not_found.
func (s *Store) GetFlag(ctx context.Context, name string) (canary.Flag, error) {
	var f canary.Flag
	err := s.read(ctx, "get flag "+name, func(tx *sql.Tx) error {
		var err error
		f, err = getFlag(ctx, tx, name)
		return err
	})
	return f, err
}

func getFlag(ctx context.Context, tx *sql.Tx, name string) (canary.Flag, error) {
	f, err := scanFlag(tx.QueryRowContext(ctx, `SELECT `+flagCols+` FROM flags WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return canary.Flag{}, flagNotFound(name)
	}
	return f, err
}

// ListFlags returns every flag, by name.
func (s *Store) ListFlags(ctx context.Context) ([]canary.Flag, error) {
	out := []canary.Flag{}
	err := s.read(ctx, "list flags", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+flagCols+` FROM flags ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := scanFlag(rows)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return rows.Err()
	})
	return out, err
}

// UpdateFlag applies u to flag name, creating the flag (from canary.NewFlagState)
// if it does not exist, and records the change with its actor and reason,
// all in one transaction. It returns the flag after the update and whether
// anything changed: an update that sets what is already set is not a
// change, writes nothing and adds no history (so replayed absolute
// actions do not fill the history). Invalid input is code invalid.
func (s *Store) UpdateFlag(ctx context.Context, name string, u canary.FlagUpdate, actor, reason string) (canary.Flag, bool, error) {
	if err := canary.CheckFlagChange(name, u, actor, reason); err != nil {
		return canary.Flag{}, false, err
	}
	var f canary.Flag
	var changed bool
	now := s.cfg.Clock.Now().UTC()
	err := s.write(ctx, "update flag "+name, func(tx *sql.Tx) error {
		old, err := getFlag(ctx, tx, name)
		var before *canary.FlagState
		switch {
		case canary.ErrorCode(err) == canary.ENOTFOUND:
			old = canary.Flag{Name: name, CreatedAt: now}
			st := canary.NewFlagState()
			old.Enabled, old.RolloutPercentage, old.Environment = st.Enabled, st.RolloutPercentage, st.Environment
		case err != nil:
			return err
		default:
			b := old.State()
			before = &b
		}
		after := u.Apply(old.State())
		if before != nil && after == *before {
			f = old
			return nil
		}
		changed = true
		f = canary.Flag{Name: name, Enabled: after.Enabled, RolloutPercentage: after.RolloutPercentage,
			Environment: after.Environment, Version: old.Version + 1, CreatedAt: old.CreatedAt, UpdatedAt: now, UpdatedBy: actor}
		if _, err := tx.ExecContext(ctx, `INSERT INTO flags (`+flagCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, rollout_percentage = excluded.rollout_percentage,
			environment = excluded.environment, version = excluded.version, updated_at = excluded.updated_at,
			updated_by = excluded.updated_by`,
			f.Name, f.Enabled, f.RolloutPercentage, f.Environment, f.Version, nanos(f.CreatedAt), nanos(now), actor); err != nil {
			return err
		}
		var was [3]any // NULLs for a new flag
		if before != nil {
			was = [3]any{before.Enabled, before.RolloutPercentage, before.Environment}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO flag_changes (flag, version, time, actor, reason,
			enabled, rollout_percentage, environment, was_enabled, was_rollout_percentage, was_environment)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			name, f.Version, nanos(now), actor, reason, after.Enabled, after.RolloutPercentage, after.Environment,
			was[0], was[1], was[2])
		return err
	})
	if err != nil {
		return canary.Flag{}, false, err
	}
	return f, changed, nil
}

// FlagHistory returns flag name's changes, oldest first: all of them, or
// with limit > 0 the newest limit. An unknown flag is code not_found.
func (s *Store) FlagHistory(ctx context.Context, name string, limit int) ([]canary.FlagChange, error) {
	out := []canary.FlagChange{}
	err := s.read(ctx, "read history of flag "+name, func(tx *sql.Tx) error {
		if _, err := getFlag(ctx, tx, name); err != nil {
			return err
		}
		q := `SELECT version, time, actor, reason, enabled, rollout_percentage, environment,
			was_enabled, was_rollout_percentage, was_environment FROM flag_changes WHERE flag = ? ORDER BY version DESC`
		args := []any{name}
		if limit > 0 {
			q += ` LIMIT ?`
			args = append(args, limit)
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanChange(rows)
			if err != nil {
				return err
			}
			c.Flag = name
			out = append(out, c)
		}
		return rows.Err()
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

func scanChange(rows *sql.Rows) (canary.FlagChange, error) {
	var c canary.FlagChange
	var t int64
	var wasEnabled sql.NullBool
	var wasPercent sql.NullInt64
	var wasEnv sql.NullString
	if err := rows.Scan(&c.Version, &t, &c.Actor, &c.Reason, &c.After.Enabled, &c.After.RolloutPercentage,
		&c.After.Environment, &wasEnabled, &wasPercent, &wasEnv); err != nil {
		return c, err
	}
	c.Time = fromNanos(t)
	if wasEnabled.Valid {
		c.Before = &canary.FlagState{Enabled: wasEnabled.Bool, RolloutPercentage: int(wasPercent.Int64), Environment: wasEnv.String}
	}
	return c, nil
}
