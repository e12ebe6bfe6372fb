package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/canary-dev/canary"
)

func valPtr[T any](v T) *T { return &v }

func TestFlagChangesAndHistory(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	steps := []struct {
		u           canary.FlagUpdate
		actor, why  string
		wantChanged bool
		want        canary.FlagState
		wantVersion int64
	}{
		// The runbook's first call creates the flag.
		{canary.FlagUpdate{Enabled: valPtr(true), RolloutPercentage: valPtr(5), Environment: valPtr("production")},
			"token ops", "phase 1", true, canary.FlagState{Enabled: true, RolloutPercentage: 5, Environment: "production"}, 1},
		// A partial update keeps the other fields.
		{canary.FlagUpdate{RolloutPercentage: valPtr(10)}, "rollout shop/checkout", "step 2", true, canary.FlagState{Enabled: true, RolloutPercentage: 10, Environment: "production"}, 2},
		// Setting what is set is not a change: no version, no history.
		{canary.FlagUpdate{Enabled: valPtr(true), RolloutPercentage: valPtr(10)}, "rollout shop/checkout", "replayed", false, canary.FlagState{Enabled: true, RolloutPercentage: 10, Environment: "production"}, 2},
		{canary.FlagUpdate{Enabled: valPtr(false), RolloutPercentage: valPtr(0)}, "rollout shop/checkout", "rollback", true, canary.FlagState{Enabled: false, RolloutPercentage: 0, Environment: "production"}, 3},
	}
	for i, st := range steps {
		f, changed, err := s.UpdateFlag(ctx, "release_20250814", st.u, st.actor, st.why)
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if changed != st.wantChanged || f.State() != st.want || f.Version != st.wantVersion {
			t.Fatalf("update %d: got %+v changed=%v, want %+v version %d changed=%v", i, f, changed, st.want, st.wantVersion, st.wantChanged)
		}
	}
	f, err := s.GetFlag(ctx, "release_20250814")
	if err != nil {
		t.Fatal(err)
	}
	if f.State() != (canary.FlagState{Enabled: false, RolloutPercentage: 0, Environment: "production"}) || f.Version != 3 || f.UpdatedBy != "rollout shop/checkout" ||
		!f.UpdatedAt.After(f.CreatedAt) {
		t.Errorf("get: %+v", f)
	}
	h, err := s.FlagHistory(ctx, "release_20250814", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range h {
		got = append(got, describeChange(c))
	}
	want := []string{
		"v1 token ops (phase 1): new -> {true 5 production}",
		"v2 rollout shop/checkout (step 2): {true 5 production} -> {true 10 production}",
		"v3 rollout shop/checkout (rollback): {true 10 production} -> {false 0 production}",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !h[0].Time.Equal(f.CreatedAt) || !h[2].Time.Equal(f.UpdatedAt) || h[0].Flag != "release_20250814" {
		t.Errorf("history times %v..%v, flag %v..%v", h[0].Time, h[2].Time, f.CreatedAt, f.UpdatedAt)
	}
	last, err := s.FlagHistory(ctx, "release_20250814", 2)
	if err != nil || len(last) != 2 || last[0].Version != 2 || last[1].Version != 3 {
		t.Errorf("history limit 2: got %+v, %v; want versions 2, 3", last, err)
	}
}

func describeChange(c canary.FlagChange) string {
	before := "new"
	if c.Before != nil {
		before = fmt.Sprint(*c.Before)
	}
	return fmt.Sprintf("v%d %s (%s): %s -> %v", c.Version, c.Actor, c.Reason, before, c.After)
}

func TestFlagDefaultsAndList(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if fl, err := s.ListFlags(ctx); err != nil || len(fl) != 0 {
		t.Fatalf("empty list: %v, %v", fl, err)
	}
	// A partial first update: the rest defaults to disabled, production.
	f, changed, err := s.UpdateFlag(ctx, "b", canary.FlagUpdate{RolloutPercentage: valPtr(10)}, "token ops", "")
	if err != nil || !changed || f.State() != (canary.FlagState{Enabled: false, RolloutPercentage: 10, Environment: "production"}) {
		t.Fatalf("got %+v %v %v", f, changed, err)
	}
	if _, _, err := s.UpdateFlag(ctx, "a", canary.FlagUpdate{Environment: valPtr("staging")}, "token ops", ""); err != nil {
		t.Fatal(err)
	}
	fl, err := s.ListFlags(ctx)
	if err != nil || len(fl) != 2 || fl[0].Name != "a" || fl[1].Name != "b" || fl[0].Environment != "staging" {
		t.Errorf("list: got %+v, %v", fl, err)
	}
}

func TestFlagNotFound(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	_, err := s.GetFlag(ctx, "nope")
	wantCode(t, err, canary.ENOTFOUND)
	_, err = s.FlagHistory(ctx, "nope", 0)
	wantCode(t, err, canary.ENOTFOUND)
}

func TestFlagUpdateInvalid(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	tests := []struct {
		name, flag, actor, reason string
		u                         canary.FlagUpdate
		want                      string // in the message
	}{
		{"percentage above 100", "f", "a", "", canary.FlagUpdate{RolloutPercentage: valPtr(101)}, "rollout_percentage 101 is out of range"},
		{"percentage negative", "f", "a", "", canary.FlagUpdate{RolloutPercentage: valPtr(-1)}, "rollout_percentage -1 is out of range"},
		{"nothing to change", "f", "a", "", canary.FlagUpdate{}, "nothing to change"},
		{"empty environment", "f", "a", "", canary.FlagUpdate{Environment: valPtr("")}, `environment "" is not valid`},
		{"bad name", "a/b", "a", "", canary.FlagUpdate{Enabled: valPtr(true)}, `flag name "a/b" is not valid`},
		{"empty name", "", "a", "", canary.FlagUpdate{Enabled: valPtr(true)}, `flag name "" is not valid`},
		{"long name", strings.Repeat("x", canary.MaxFlagNameLen+1), "a", "", canary.FlagUpdate{Enabled: valPtr(true)}, "is not valid"},
		{"no actor", "f", " ", "", canary.FlagUpdate{Enabled: valPtr(true)}, "needs an actor"},
		{"long reason", "f", "a", strings.Repeat("r", canary.MaxReasonLen+1), canary.FlagUpdate{Enabled: valPtr(true)}, "reason is 1001 bytes long"},
		// Both problems are reported at once.
		{"two problems", "f", "a", "", canary.FlagUpdate{RolloutPercentage: valPtr(200), Environment: valPtr("a b")}, `out of range: write a whole number from 0 to 100; environment "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.UpdateFlag(ctx, tt.flag, tt.u, tt.actor, tt.reason)
			wantCode(t, err, canary.EINVALID)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
	if n := count(t, s, `SELECT count(*) FROM flags`) + count(t, s, `SELECT count(*) FROM flag_changes`); n != 0 {
		t.Errorf("%d rows written by invalid updates", n)
	}
}

// TestFlagsConcurrentUpdates checks that concurrent writers get one
// version each and the history has no gaps.
func TestFlagsConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	changes := 0
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				_, changed, err := s.UpdateFlag(ctx, "f", canary.FlagUpdate{RolloutPercentage: valPtr(w*10 + i)}, fmt.Sprintf("token w%d", w), "")
				if err != nil {
					t.Error(err)
					return
				}
				if changed {
					mu.Lock()
					changes++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	h, err := s.FlagHistory(ctx, "f", 0)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := s.GetFlag(ctx, "f")
	if len(h) != changes || f.Version != int64(changes) {
		t.Fatalf("%d changes, %d history entries, version %d", changes, len(h), f.Version)
	}
	for i, c := range h {
		if c.Version != int64(i+1) {
			t.Fatalf("history[%d] has version %d", i, c.Version)
		}
		if i > 0 && *c.Before != h[i-1].After {
			t.Fatalf("history[%d].before %+v, want the previous after %+v", i, *c.Before, h[i-1].After)
		}
	}
}

// TestFlagsMigrateFromV1 opens a database written before the flag tables
// existed: it is migrated, keeps its rollouts and stores flags.
func TestFlagsMigrateFromV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "canary.db")
	db, err := sql.Open("sqlite", dsn(Config{Path: path, BusyTimeout: DefaultBusyTimeout}, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migrations[:1], false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO rollouts (name, generation, plan, plan_sha256, phase, event_seq, state, created_at, updated_at)
		VALUES ('shop/checkout', 1, 'plan', 'x', 'Succeeded', 0, '{}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v := count(t, s, `SELECT version FROM schema_version`); v != len(migrations) {
		t.Errorf("schema version %d, want %d", v, len(migrations))
	}
	if _, err := s.Latest(ctx, "shop/checkout"); err != nil {
		t.Errorf("rollout lost in migration: %v", err)
	}
	if _, _, err := s.UpdateFlag(ctx, "f", canary.FlagUpdate{Enabled: valPtr(true), RolloutPercentage: valPtr(25)}, "token ops", "why"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := s.GetFlag(ctx, "f")
	if err != nil || f.State() != (canary.FlagState{Enabled: true, RolloutPercentage: 25, Environment: "production"}) || f.Version != 1 {
		t.Errorf("after reopen: %+v, %v", f, err)
	}
	if h, err := s.FlagHistory(ctx, "f", 0); err != nil || len(h) != 1 || h[0].Reason != "why" || h[0].Before != nil {
		t.Errorf("history after reopen: %+v, %v", h, err)
	}
}
