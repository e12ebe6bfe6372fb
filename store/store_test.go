package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dir", "canary.db") // the directory is created
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Create(ctx, "shop/checkout", []byte("plan"), state("checkout", 1, canary.PhasePending),
		events("checkout", 1, 1, canary.EvCreated), WithOutbox(canary.OutboxItem{Key: "k1", Audience: "engineering", Channel: "slack"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, r.ID, state("checkout", 3, canary.PhaseProgressing),
		events("checkout", 2, 2, canary.EvStepStarted)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.EventSeq != 3 || got.State.Phase != canary.PhaseProgressing || string(got.Plan) != "plan" ||
		got.PlanSHA256 != r.PlanSHA256 || !got.CreatedAt.Equal(r.CreatedAt) {
		t.Errorf("after reopen: got %+v", got)
	}
	if evs, err := s.Events(ctx, r.ID, 0, 0); err != nil || len(evs) != 3 {
		t.Errorf("after reopen: got %d events, %v; want 3", len(evs), err)
	}
	if items, err := s.Outbox(ctx, r.ID); err != nil || len(items) != 1 || items[0].Key != "k1" {
		t.Errorf("after reopen: outbox %+v, %v", items, err)
	}
	// The next commit continues the log.
	if err := s.Commit(ctx, r.ID, state("checkout", 4, canary.PhaseProgressing),
		events("checkout", 4, 1, canary.EvEvaluated)); err != nil {
		t.Fatal(err)
	}
	if v := count(t, s, `SELECT version FROM schema_version`); v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
}

// TestOddPath opens a path with characters that mean something in a URI.
func TestOddPath(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "my state #1?", "a%20b&c.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := create(t, s, "shop/checkout")
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the given path: %v", err)
	}
	// The stored JSON is TEXT that SQLite's JSON functions read.
	var phase string
	if err := s.w.QueryRowContext(ctx, `SELECT json_extract(state, '$.phase') FROM rollouts`).Scan(&phase); err != nil ||
		phase != string(canary.PhaseProgressing) {
		t.Errorf("json_extract: got %q, %v", phase, err)
	}
}

func TestPragmas(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	for _, db := range []*sql.DB{s.w, s.r} {
		var mode string
		var sync, fk, busy int
		if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || sync != 2 || fk != 1 || busy != 5000 {
			t.Errorf("got journal_mode %s synchronous %d foreign_keys %d busy_timeout %d; want wal 2 (FULL) 1 5000",
				mode, sync, fk, busy)
		}
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := func() string {
		rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		return strings.Join(names, ",")
	}
	version := func() int {
		v, err := schemaVersion(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	m1 := `CREATE TABLE a (x); CREATE TABLE b (y)` // several statements in one migration
	m2 := `CREATE TABLE c (z); INSERT INTO c VALUES (1)`
	// bad creates a table, then fails: the whole migration must vanish.
	bad := `CREATE TABLE d (w); INSERT INTO nowhere VALUES (1)`

	if err := migrate(ctx, db, []string{m1}, false); err != nil {
		t.Fatal(err)
	}
	if v, got := version(), tables(); v != 1 || got != "a,b,schema_version" {
		t.Fatalf("after v1: version %d tables %s", v, got)
	}
	if err := migrate(ctx, db, []string{m1, m2}, false); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, []string{m1, m2}, false); err != nil { // idempotent
		t.Fatal(err)
	}
	if v, got := version(), tables(); v != 2 || got != "a,b,c,schema_version" {
		t.Fatalf("after v2: version %d tables %s", v, got)
	}
	// Migration 3 succeeds, 4 fails: both are rolled back together.
	if err := migrate(ctx, db, []string{m1, m2, `CREATE TABLE e (v)`, bad}, false); err == nil {
		t.Fatal("a failing migration succeeded")
	}
	if v, got := version(), tables(); v != 2 || got != "a,b,c,schema_version" {
		t.Fatalf("after a failed migration: version %d tables %s, want 2 and no change", v, got)
	}
	err = migrate(ctx, db, []string{m1}, false)
	wantCode(t, err, canary.EINVALID)
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("got %q, want it to say the database is newer", err)
	}
	wantCode(t, migrate(ctx, db, []string{m1, m2, m2}, true), canary.EINVALID) // read-only cannot migrate
}

func TestOpenNewerDatabase(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if _, err := s.w.ExecContext(ctx, `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, path)
	wantCode(t, err, canary.EINVALID)
	if !strings.Contains(err.Error(), "schema version 99, newer than this canary knows") {
		t.Errorf("got %q", err)
	}
}

func TestSubscribe(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	a := create(t, s, "shop/a")
	b := create(t, s, "shop/b")
	chA, cancelA := s.Subscribe(a.ID)
	all, cancelAll := s.Subscribe(0)
	defer cancelAll()
	pending := func(ch <-chan struct{}) bool {
		select {
		case _, ok := <-ch:
			return ok
		default:
			return false
		}
	}
	if err := s.Commit(ctx, b.ID, state("b", 2, canary.PhaseProgressing), events("b", 2, 1, canary.EvEvaluated)); err != nil {
		t.Fatal(err)
	}
	if pending(chA) || !pending(all) {
		t.Error("a commit of b: want only the all-rollouts subscriber woken")
	}
	for seq := int64(2); seq <= 3; seq++ { // two commits coalesce into one wake-up
		if err := s.Commit(ctx, a.ID, state("a", seq, canary.PhaseProgressing), events("a", seq, 1, canary.EvEvaluated)); err != nil {
			t.Fatal(err)
		}
	}
	if !pending(chA) || pending(chA) {
		t.Error("two commits of a: want exactly one wake-up")
	}
	// A refused commit wakes no one.
	s.Commit(ctx, a.ID, state("a", 3, canary.PhaseProgressing), events("a", 3, 1, canary.EvEvaluated))
	if pending(chA) {
		t.Error("a refused commit woke the subscriber")
	}
	cancelA()
	cancelA() // idempotent
	if _, ok := <-chA; ok {
		t.Error("cancel did not close the channel")
	}
	pending(all)
	s.Close()
	if _, ok := <-all; ok {
		t.Error("Close did not close the channel")
	}
	late, cancel := s.Subscribe(a.ID)
	defer cancel()
	if _, ok := <-late; ok {
		t.Error("subscribing after Close: want a closed channel")
	}
}
