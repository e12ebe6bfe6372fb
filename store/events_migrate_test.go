package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/canary-dev/canary"
)

// TestEventsMigrateFromV2 opens a database whose event log is still the
// WITHOUT ROWID table of schema version 2: the events survive the rebuild
// in order, the log continues and its fencing still holds.
func TestEventsMigrateFromV2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "canary.db")
	db, err := sql.Open("sqlite", dsn(Config{Path: path, BusyTimeout: DefaultBusyTimeout}, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migrations[:2], false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO rollouts (name, generation, plan, plan_sha256, phase, event_seq, state, created_at, updated_at)
		VALUES ('shop/checkout', 1, 'plan', 'x', 'Progressing', 3, '{"name":"checkout","eventSeq":3}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	for seq := 3; seq >= 1; seq-- { // out of order: the rebuild must not depend on it
		if _, err := db.ExecContext(ctx, `INSERT INTO events (rollout_id, seq, time, type, body) VALUES (1, ?, ?, 'evaluated', ?)`,
			seq, seq, fmt.Sprintf(`{"seq":%d,"type":"evaluated"}`, seq)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := count(t, s, `SELECT version FROM schema_version`); v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
	evs, err := s.Events(ctx, 1, 0, 0)
	if err != nil || len(evs) != 3 {
		t.Fatalf("after the migration: %d events, %v; want 3", len(evs), err)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i, ev.Seq)
		}
	}
	err = s.Commit(ctx, 1, state("checkout", 4, canary.PhaseProgressing), events("checkout", 3, 1, canary.EvEvaluated))
	wantCode(t, err, canary.ECONFLICT)
	if err := s.Commit(ctx, 1, state("checkout", 4, canary.PhaseProgressing), events("checkout", 4, 1, canary.EvEvaluated)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE rollouts SET phase = 'Succeeded'`); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("%d events left after deleting their rollout, want 0 (cascade)", n)
	}
}
