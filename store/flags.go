package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

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

// DefaultFlagEnvironment is the environment of a flag created without one.
const DefaultFlagEnvironment = "production"

// Limits on the text a flag change carries.
const (
	// MaxFlagNameLen is the longest flag name.
	MaxFlagNameLen = 128
	// MaxActorLen is the longest actor.
	MaxActorLen = 200
	// MaxReasonLen is the longest reason, in bytes.
	MaxReasonLen = 1000
)

// FlagState is what a flag change sets: the three fields of the runbook's
// flag API.
type FlagState struct {
	// Enabled turns the flag on; a disabled flag is off for everyone,
	// whatever its percentage.
	Enabled bool `json:"enabled"`
	// RolloutPercentage is the share of users (0..100) who see an enabled
	// flag on: those whose sticky bucket is below RolloutPercentage×100.
	RolloutPercentage int `json:"rollout_percentage"`
	// Environment labels the flag, e.g. production.
	Environment string `json:"environment"`
}

// Flag is one feature flag as the runbook's flag API shows it.
type Flag struct {
	// Name identifies the flag, e.g. release_20250814.
	Name string `json:"name"`
	// Enabled turns the flag on; a disabled flag is off for everyone.
	Enabled bool `json:"enabled"`
	// RolloutPercentage is the share of users (0..100) who see the flag
	// on when it is enabled (see FlagState).
	RolloutPercentage int `json:"rollout_percentage"`
	// Environment labels the flag, e.g. production.
	Environment string `json:"environment"`
	// Version counts the flag's changes: 1 after the change that created
	// it, +1 for each later change.
	Version int64 `json:"version"`
	// CreatedAt is the time of the change that created the flag.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is the time of the last change.
	UpdatedAt time.Time `json:"updated_at"`
	// UpdatedBy is the last change's actor.
	UpdatedBy string `json:"updated_by"`
}

// State returns the flag's settable fields.
func (f Flag) State() FlagState {
	return FlagState{Enabled: f.Enabled, RolloutPercentage: f.RolloutPercentage, Environment: f.Environment}
}

// FlagUpdate is a partial change: nil fields keep their value (or, for a
// new flag, take the default: disabled, 0%, production).
type FlagUpdate struct {
	// Enabled, when set, enables or disables the flag.
	Enabled *bool `json:"enabled,omitempty"`
	// RolloutPercentage, when set, is the new percentage, 0..100.
	RolloutPercentage *int `json:"rollout_percentage,omitempty"`
	// Environment, when set, is the new environment label (not empty).
	Environment *string `json:"environment,omitempty"`
}

// Validate checks the update's values; the error (code invalid) names
// every bad field.
func (u FlagUpdate) Validate() error {
	var problems []string
	if u.Enabled == nil && u.RolloutPercentage == nil && u.Environment == nil {
		problems = append(problems, `nothing to change: give at least one of enabled, rollout_percentage, environment, e.g. {"rollout_percentage": 10}`)
	}
	if p := u.RolloutPercentage; p != nil && (*p < 0 || *p > 100) {
		problems = append(problems, fmt.Sprintf("rollout_percentage %d is out of range: write a whole number from 0 to 100", *p))
	}
	if e := u.Environment; e != nil {
		if err := checkLabel("environment", *e); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return canary.Errorf(canary.EINVALID, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// Apply returns st with the update's set fields replaced.
func (u FlagUpdate) Apply(st FlagState) FlagState {
	if u.Enabled != nil {
		st.Enabled = *u.Enabled
	}
	if u.RolloutPercentage != nil {
		st.RolloutPercentage = *u.RolloutPercentage
	}
	if u.Environment != nil {
		st.Environment = *u.Environment
	}
	return st
}

// NewFlagState is the state a flag starts from before its first update
// applies: disabled, 0%, DefaultFlagEnvironment.
func NewFlagState() FlagState {
	return FlagState{Environment: DefaultFlagEnvironment}
}

// FlagChange is one entry of a flag's history: who changed it when, why,
// and from what to what.
type FlagChange struct {
	// Flag is the flag's name.
	Flag string `json:"flag"`
	// Version is the flag's version after the change.
	Version int64 `json:"version"`
	// Time is when the change was made.
	Time time.Time `json:"time"`
	// Actor made the change: a rollout ("rollout shop/checkout") or an API
	// token ("token ops"); "anonymous" on an open server.
	Actor string `json:"actor"`
	// Reason says why, as given by the actor. Optional.
	Reason string `json:"reason,omitempty"`
	// Before is the state before the change; nil when it created the flag.
	Before *FlagState `json:"before,omitempty"`
	// After is the state the change set.
	After FlagState `json:"after"`
}

// flagNameRE is what CheckFlagName accepts.
var flagNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CheckFlagName accepts names of 1 to MaxFlagNameLen letters, digits, '.',
// '_' and '-', starting with a letter or digit: safe in a URL path
// segment and an OFREP key. Otherwise it returns code invalid.
func CheckFlagName(name string) error {
	if len(name) > MaxFlagNameLen || !flagNameRE.MatchString(name) {
		return canary.Errorf(canary.EINVALID,
			"flag name %q is not valid: use 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. release_20250814",
			clip(name, 40), MaxFlagNameLen)
	}
	return nil
}

// checkLabel accepts an environment label: like a flag name, at most 64.
func checkLabel(field, v string) error {
	if len(v) > 64 || !flagNameRE.MatchString(v) {
		return fmt.Errorf("%s %q is not valid: use 1 to 64 letters, digits, '.', '_' or '-', e.g. production", field, clip(v, 40))
	}
	return nil
}

// checkActor checks a change's actor and reason.
func checkActor(actor, reason string) error {
	switch {
	case strings.TrimSpace(actor) == "":
		return canary.Errorf(canary.EINVALID, "a flag change needs an actor (the rollout or token making it)")
	case len(actor) > MaxActorLen:
		return canary.Errorf(canary.EINVALID, "actor is %d bytes long, more than %d", len(actor), MaxActorLen)
	case len(reason) > MaxReasonLen:
		return canary.Errorf(canary.EINVALID, "reason is %d bytes long, more than %d: shorten it", len(reason), MaxReasonLen)
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// flagNotFound is the error for a missing flag.
func flagNotFound(name string) error {
	return canary.Errorf(canary.ENOTFOUND, "flag %s not found", name)
}

// CheckFlagChange validates everything UpdateFlag checks before writing:
// the name, the update, the actor and the reason.
func CheckFlagChange(name string, u FlagUpdate, actor, reason string) error {
	if err := CheckFlagName(name); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	return checkActor(actor, reason)
}

// flagCols are the columns scanFlag reads, in order.
const flagCols = `name, enabled, rollout_percentage, environment, version, created_at, updated_at, updated_by`

func scanFlag(row interface{ Scan(...any) error }) (Flag, error) {
	var f Flag
	var created, updated int64
	err := row.Scan(&f.Name, &f.Enabled, &f.RolloutPercentage, &f.Environment, &f.Version, &created, &updated, &f.UpdatedBy)
	f.CreatedAt, f.UpdatedAt = fromNanos(created), fromNanos(updated)
	return f, err
}

// GetFlag returns flag name, or code not_found.
func (s *Store) GetFlag(ctx context.Context, name string) (Flag, error) {
	var f Flag
	err := s.read(ctx, "get flag "+name, func(tx *sql.Tx) error {
		var err error
		f, err = getFlag(ctx, tx, name)
		return err
	})
	return f, err
}

func getFlag(ctx context.Context, tx *sql.Tx, name string) (Flag, error) {
	f, err := scanFlag(tx.QueryRowContext(ctx, `SELECT `+flagCols+` FROM flags WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Flag{}, flagNotFound(name)
	}
	return f, err
}

// ListFlags returns every flag, by name.
func (s *Store) ListFlags(ctx context.Context) ([]Flag, error) {
	out := []Flag{}
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

// UpdateFlag applies u to flag name, creating the flag (from NewFlagState)
// if it does not exist, and records the change with its actor and reason,
// all in one transaction. It returns the flag after the update and whether
// anything changed: an update that sets what is already set is not a
// change, writes nothing and adds no history (so replayed absolute
// actions do not fill the history). Invalid input is code invalid.
func (s *Store) UpdateFlag(ctx context.Context, name string, u FlagUpdate, actor, reason string) (Flag, bool, error) {
	if err := CheckFlagChange(name, u, actor, reason); err != nil {
		return Flag{}, false, err
	}
	var f Flag
	var changed bool
	now := s.cfg.Now().UTC()
	err := s.write(ctx, "update flag "+name, func(tx *sql.Tx) error {
		old, err := getFlag(ctx, tx, name)
		var before *FlagState
		switch {
		case canary.ErrorCode(err) == canary.ENOTFOUND:
			old = Flag{Name: name, CreatedAt: now}
			st := NewFlagState()
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
		f = Flag{Name: name, Enabled: after.Enabled, RolloutPercentage: after.RolloutPercentage,
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
		return Flag{}, false, err
	}
	return f, changed, nil
}

// FlagHistory returns flag name's changes, oldest first: all of them, or
// with limit > 0 the newest limit. An unknown flag is code not_found.
func (s *Store) FlagHistory(ctx context.Context, name string, limit int) ([]FlagChange, error) {
	out := []FlagChange{}
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

func scanChange(rows *sql.Rows) (FlagChange, error) {
	var c FlagChange
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
		c.Before = &FlagState{Enabled: wasEnabled.Bool, RolloutPercentage: int(wasPercent.Int64), Environment: wasEnv.String}
	}
	return c, nil
}
