package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/canary-dev/canary"
)

// migrations are the schema, in order: migrations[i] takes the database from
// version i to i+1. Append only; never edit a released entry.
var migrations = []string{
	// 1: rollouts with their snapshot, generations, the event log, the outbox.
	`
CREATE TABLE rollouts (
	id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused after a delete
	name        TEXT    NOT NULL,                  -- namespace/name
	generation  INTEGER NOT NULL,                  -- 1, 2, … per name
	plan        BLOB    NOT NULL,
	plan_sha256 TEXT    NOT NULL,                  -- hex
	phase       TEXT    NOT NULL,                  -- copy of state.phase, for List
	event_seq   INTEGER NOT NULL,                  -- copy of state.eventSeq: the last event's seq
	state       TEXT    NOT NULL,                  -- canary.State as JSON
	created_at  INTEGER NOT NULL,                  -- Unix nanoseconds
	updated_at  INTEGER NOT NULL,
	UNIQUE (name, generation)
);
CREATE INDEX rollouts_phase ON rollouts (phase, id);

-- The last generation given to each name, so a generation is never reused,
-- even after its rollout was deleted.
CREATE TABLE generations (
	name       TEXT    PRIMARY KEY,
	generation INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
	rollout_id INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	time       INTEGER NOT NULL,
	type       TEXT    NOT NULL,
	body       TEXT    NOT NULL,                   -- canary.Event as JSON
	PRIMARY KEY (rollout_id, seq)
) WITHOUT ROWID;

CREATE TABLE outbox (
	id            INTEGER PRIMARY KEY,
	key           TEXT    NOT NULL UNIQUE,         -- dedupe key
	rollout_id    INTEGER REFERENCES rollouts (id) ON DELETE SET NULL,
	audience      TEXT    NOT NULL,
	channel       TEXT    NOT NULL,
	payload       BLOB    NOT NULL,
	status        TEXT    NOT NULL,                -- pending, claimed, delivered, dead
	not_before    INTEGER NOT NULL,
	claimed_until INTEGER NOT NULL DEFAULT 0,
	attempts      INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT    NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	finished_at   INTEGER NOT NULL DEFAULT 0       -- delivered or given up
);
CREATE INDEX outbox_due ON outbox (status, not_before);
CREATE INDEX outbox_rollout ON outbox (rollout_id);

CREATE TABLE outbox_attempts (
	item_id     INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
	attempt     INTEGER NOT NULL,                  -- 1, 2, …
	started_at  INTEGER NOT NULL,
	finished_at INTEGER NOT NULL DEFAULT 0,        -- 0 while in flight
	outcome     TEXT    NOT NULL DEFAULT '',       -- delivered, failed, expired
	error       TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (item_id, attempt)
) WITHOUT ROWID;
`,
	// 2: feature flags and the history of their changes (flags.go).
	flagsSchema,
	// 3: events move to a rowid table (see eventsByRowid).
	eventsByRowid,
	// 4: compressed event bodies and retention's record of what it removed.
	compressedAndPruned,
	// 5: event bodies may be zstd (codec.go's bodyZstdV1): a canary that
	// knows only version 4's DEFLATE bodies refuses the file as a whole
	// instead of failing on single events. Nothing else changes.
	`SELECT 1;`,
	// 6: the database's UUID (identity.go), for globally unique
	// notification keys.
	identity,
	// 7: the front doors of canary serve (services.go).
	servicesSchema,
	// 8: a rollout's snapshot may be S2-compressed (codec.go's stateS2V1):
	// a canary that reads only JSON snapshots refuses the file as a whole
	// instead of failing on single rollouts. Nothing else changes.
	`SELECT 1;`,
	// 9: event bodies may be S2 against the event dictionary (codec.go's
	// bodyS2DictV1): a canary that knows only zstd bodies refuses the
	// file as a whole instead of failing on single events. Nothing else
	// changes.
	`SELECT 1;`,
}

// eventsByRowid rebuilds the event log as an ordinary (rowid) table with
// (rollout_id, seq) as a unique index. In the WITHOUT ROWID table of
// migration 1 a row is a B-tree key: an evaluation's ~1.2 KiB JSON body
// spilled onto an overflow page (a mostly empty 4 KiB page per event), and
// every insert's seek read the overflow pages of the rows it compared
// with. Here bodies are appended in commit order on dense pages and the
// index holds small keys.
const eventsByRowid = `
CREATE TABLE events_by_rowid (
	rollout_id INTEGER NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	time       INTEGER NOT NULL,
	type       TEXT    NOT NULL,
	body       TEXT    NOT NULL,                   -- canary.Event as JSON (from version 4 maybe compressed: codec.go)
	PRIMARY KEY (rollout_id, seq)
);
INSERT INTO events_by_rowid (rollout_id, seq, time, type, body)
	SELECT rollout_id, seq, time, type, body FROM events ORDER BY rollout_id, seq;
DROP TABLE events;
ALTER TABLE events_by_rowid RENAME TO events;
`

// compressedAndPruned marks the database as holding event bodies that may
// be compressed (codec.go): a canary from before it could not read them,
// and with this version it refuses the file and says to use a newer
// binary instead. Bodies written before stay JSON text and read as they
// did. The pruned table is Prune's record of the last rollout of each
// name it removed, so asking for it says why it is gone.
const compressedAndPruned = `
CREATE TABLE pruned (
	name        TEXT    PRIMARY KEY,               -- namespace/name
	rollout_id  INTEGER NOT NULL,
	generation  INTEGER NOT NULL,
	phase       TEXT    NOT NULL,                  -- the phase it ended in
	finished_at INTEGER NOT NULL,                  -- Unix nanoseconds: its last commit
	pruned_at   INTEGER NOT NULL
) WITHOUT ROWID;
`

// schemaVersion reads the database's schema version: 0 for a new database.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var n int
	err := q.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v int
	err = q.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// migrate brings db to version len(migs), applying the missing migrations
// and the new version number in one transaction: a failed migration leaves
// the database as it was. A database that is already current is not
// written to, so a read-only file that needs no migration opens.
func migrate(ctx context.Context, db *sql.DB, migs []string, readOnly bool) error {
	v, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if err := checkVersion(v, len(migs), readOnly); err != nil || v == len(migs) {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have migrated between the read and the lock.
	if v, err = schemaVersion(ctx, tx); err != nil {
		return err
	}
	if err := checkVersion(v, len(migs), false); err != nil || v == len(migs) {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	for i := v; i < len(migs); i++ {
		if _, err := tx.ExecContext(ctx, migs[i]); err != nil {
			return fmt.Errorf("migrate state database to schema version %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, len(migs)); err != nil {
		return err
	}
	return tx.Commit()
}

// checkVersion refuses a database this binary cannot use.
func checkVersion(have, want int, readOnly bool) error {
	if have > want {
		return canary.Errorf(canary.EINVALID,
			"state database has schema version %d, newer than this canary knows (%d): use a newer canary binary", have, want)
	}
	if have < want && readOnly {
		return canary.Errorf(canary.EINVALID,
			"state database has schema version %d, older than this canary's (%d), and is opened read-only: open it read-write once to migrate", have, want)
	}
	return nil
}
