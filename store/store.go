package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/canary-dev/canary"
)

// Defaults for Config.
const (
	// DefaultBusyTimeout is Config.BusyTimeout's default.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultReaders is Config.Readers' default.
	DefaultReaders = 4
	// DefaultClaimLease is Config.ClaimLease's default.
	DefaultClaimLease = time.Minute
)

// Config configures OpenConfig.
type Config struct {
	// Path of the database file. Its directory is created if missing.
	// Required.
	Path string
	// ReadOnly opens the file read-only (SQLite mode=ro): reads work and
	// every write fails with code unavailable. Migrations are not applied,
	// so the file must already be at this binary's schema version.
	ReadOnly bool
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing with code unavailable. Default: 5s.
	BusyTimeout time.Duration
	// Readers is the number of read connections (Get, List, Events, …),
	// which run beside the single write connection. Default: 4.
	Readers int
	// ClaimLease is how long an outbox item claimed by ClaimDue is hidden
	// from other claims; a deliverer that neither marks it delivered nor
	// failed within the lease (it crashed) loses it. Default: 1m.
	ClaimLease time.Duration
	// Clock stamps rows' created and updated times. Default:
	// canary.SystemClock.
	Clock canary.Clock
	// OnCommit, when set, is told about every Commit just before it
	// returns, on the caller's goroutine (metrics, benchmarks). It must be
	// quick and must not call the Store.
	OnCommit func(CommitInfo)
	// FailCommit, when set, is asked inside the transaction of every
	// Commit, after its writes: an error fails that Commit as a disk fault
	// during the write would (the transaction rolls back, nothing of it is
	// stored, other commits sharing it are applied without it) and Commit
	// returns it (a *canary.Error as is). For tests of what a writer does
	// after a failed save; nil in production.
	FailCommit func(id int64, events []canary.Event) error
	// Check is how much of the file is checked for corruption before it
	// is used (see Check); a failed check is an error wrapping
	// ErrCorrupt that says how to recover. Default: CheckQuick.
	Check Check
}

// CommitInfo describes one Commit for Config.OnCommit.
type CommitInfo struct {
	// Rollout is the rollout's ID; Events the number of events committed.
	Rollout int64
	Events  int
	// Latency is the time from the call to Commit to its return.
	Latency time.Duration
	// Err is Commit's error (nil: the commit is durable).
	Err error
}

// Store is canary's durable state in one SQLite file. Its methods are safe
// for concurrent use; writes are serialised on one connection.
type Store struct {
	cfg  Config
	w    *sql.DB // one connection, BEGIN IMMEDIATE
	r    *sql.DB // read pool, query_only
	b    *batcher
	hot  hotStmts
	ckpt *checkpointer // nil when read-only
	hub  *hub
	uuid string // the database's (identity.go)
}

// Open opens (creating if needed) the database at path with the default
// Config and migrates it to the current schema.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenConfig(ctx, Config{Path: path})
}

// OpenConfig opens the database described by cfg and migrates it to the
// current schema. A database written by a newer canary (a higher schema
// version than this binary knows) is refused with code invalid.
func OpenConfig(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, canary.Errorf(canary.EINVALID, "state database path is empty")
	}
	cfg = cfg.withDefaults()
	op := "open " + cfg.Path
	w, err := openWriter(ctx, cfg, op)
	if err != nil {
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(cfg, false))
	if err != nil {
		w.Close()
		return nil, classify(op, err)
	}
	r.SetMaxOpenConns(cfg.Readers)
	r.SetMaxIdleConns(cfg.Readers)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	s := &Store{cfg: cfg, w: w, r: r, hot: prepareHot(ctx, w), hub: newHub()}
	if err := s.readUUID(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, classify(op, err)
	}
	var committed func(writes int)
	if !cfg.ReadOnly {
		c, err := sql.Open("sqlite", dsn(cfg, true))
		if err != nil {
			r.Close()
			w.Close()
			return nil, classify(op, err)
		}
		c.SetMaxOpenConns(1)
		s.ckpt = newCheckpointer(c, w)
		committed = s.ckpt.committed
	}
	s.b = newBatcher(w, committed)
	return s, nil
}

// withDefaults fills cfg's documented defaults.
func (cfg Config) withDefaults() Config {
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	if cfg.Readers <= 0 {
		cfg.Readers = DefaultReaders
	}
	if cfg.ClaimLease <= 0 {
		cfg.ClaimLease = DefaultClaimLease
	}
	if cfg.Clock == nil {
		cfg.Clock = canary.SystemClock{}
	}
	return cfg
}

// openWriter opens the writing connection (creating the file 0600 unless
// read-only), checks the database for corruption and migrates it.
func openWriter(ctx context.Context, cfg Config, op string) (*sql.DB, error) {
	if !cfg.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
			return nil, classify(op, err)
		}
		createPrivate(cfg.Path)
	}
	w, err := sql.Open("sqlite", dsn(cfg, true))
	if err != nil {
		return nil, classify(op, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := check(ctx, w, cfg.Path, cmp.Or(cfg.Check, CheckQuick)); err != nil {
		w.Close()
		return nil, err
	}
	if err := migrate(ctx, w, migrations, cfg.ReadOnly); err != nil {
		w.Close()
		if why, ok := diskFault(err); ok && (why == "corrupt" || why == "not a database") {
			return nil, corrupt(cfg.Path, "open", err.Error())
		}
		return nil, classify(op, err)
	}
	return w, nil
}

// createPrivate creates the database file with mode 0600 when it does not
// exist (SQLite would create it 0644 less the umask): it holds every plan,
// event and notification payload. SQLite gives the -wal and -shm files the
// database file's mode. An existing file keeps its mode and is not even
// opened here: closing a descriptor of it would drop the POSIX locks
// another Store of this process holds on it. Errors (it exists, it is a
// directory, a file it may not write) are left to SQLite's open, which
// reports them as it always has.
func createPrivate(path string) {
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		_ = f.Close()
	}
}

// dsn is the driver's connection string: a file: URI with the per-connection
// pragmas. The writer sets the (persistent) WAL journal mode and begins
// transactions IMMEDIATE, so a write transaction takes the lock up front
// instead of failing to upgrade a read lock halfway.
func dsn(cfg Config, writer bool) string {
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		abs = cfg.Path
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if writer {
		q.Add("_pragma", "cache_size(-65536)") // 64 MiB: the pages of every active rollout
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", autoCheckpoint))
	}
	switch {
	case cfg.ReadOnly:
		q.Set("mode", "ro")
	case writer:
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	default:
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()
}

// Close closes the database and wakes every subscriber with a closed
// channel.
func (s *Store) Close() error {
	s.b.close()
	s.hub.close()
	var ckpt error
	if s.ckpt != nil {
		ckpt = s.ckpt.close()
	}
	return errors.Join(s.hot.close(), ckpt, s.r.Close(), s.w.Close())
}

// write runs fn in one write transaction and commits it.
func (s *Store) write(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.diagnose(classify(op, err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return s.diagnose(classify(op, err))
	}
	return s.diagnose(classify(op, tx.Commit()))
}

// writeBatched runs fn like write, in a transaction it may share with
// other writers (see batcher). fn must be safe to run again: a batch that
// rolls back for another writer's failure runs it anew. fn returns errors
// found before it wrote anything through clean.
func (s *Store) writeBatched(ctx context.Context, op operation, fn func(*wtx) error) error {
	if err, ok := s.b.do(ctx, op, fn); ok {
		return s.diagnose(err)
	}
	// Closed: fails as a closed database does.
	return s.write(ctx, op.String(), func(tx *sql.Tx) error { return fn(&wtx{Tx: tx}) })
}

// read runs fn in one read transaction, so it sees one snapshot.
func (s *Store) read(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.diagnose(classify(op, err))
	}
	defer tx.Rollback()
	return s.diagnose(classify(op, fn(tx)))
}

// nanos stores a time as Unix nanoseconds; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
