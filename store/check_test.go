package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Corrupt overwrites the root page of table in the closed database at
// path with garbage, as a torn write or a bad disk block would leave it.
func Corrupt(t testing.TB, path, table string) {
	t.Helper()
	s, err := OpenConfig(context.Background(), Config{Path: path, Check: CheckNone})
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	if err := s.w.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name = ?`, table).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := s.w.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, int(pageSize)), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}

// filled is a closed database with n rollouts of m events each.
func filled(t testing.TB, n, m int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "canary.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("shop/r%d", i)
		if _, err := s.Create(context.Background(), name, bytes.Repeat([]byte("plan "), 200),
			state(name, int64(m), "Progressing"), events(name, 1, m, "evaluated")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCorruptDatabaseIsRefusedAtOpen: a damaged page of what a restart
// reads (the rollouts' snapshots) fails the default check at open with an
// error naming the file and how to recover. It used to open (and the
// server report ready). A damaged event page passes the quick check,
// which leaves the event log out to keep resumes fast, and fails
// --check-db=full.
func TestCorruptDatabaseIsRefusedAtOpen(t *testing.T) {
	ctx := context.Background()
	path := filled(t, 100, 20)
	Corrupt(t, path, "rollouts")
	for _, level := range []Check{"", CheckQuick, CheckFull} {
		s, err := OpenConfig(ctx, Config{Path: path, Check: level})
		if err == nil {
			s.Close()
			t.Fatalf("check %q: a database with a garbage page opened", level)
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), ".recover") {
			t.Errorf("check %q: %v; want ErrCorrupt naming %s and how to recover", level, err, path)
		}
	}
	t.Logf("%v", func() error { _, err := Open(ctx, path); return err }())

	events := filled(t, 100, 20)
	Corrupt(t, events, "events")
	s, err := OpenConfig(ctx, Config{Path: events, Check: CheckQuick})
	if err != nil {
		t.Fatalf("quick check of a database with a damaged event page: %v; want it to open (events are left to the full check)", err)
	}
	s.Close()
	if _, err := OpenConfig(ctx, Config{Path: events, Check: CheckFull}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("full check of a damaged event page: %v; want ErrCorrupt", err)
	}
}

// TestGarbageFileIsRefusedAtOpen: a file that is not a database at all.
func TestGarbageFileIsRefusedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "canary.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("open of a garbage file: %v; want ErrCorrupt naming it", err)
	}
}

// BenchmarkOpenCheck measures Open with each check on a closed database of
// 1,000 rollouts of 300 events each (five minutes at a one-second
// interval): the cost a restart pays before resuming.
func BenchmarkOpenCheck(b *testing.B) {
	path := filled(b, 1000, 300)
	if fi, err := os.Stat(path); err == nil {
		b.Logf("database: %.1f MiB", float64(fi.Size())/(1<<20))
	}
	for _, level := range []Check{CheckNone, CheckQuick, CheckFull} {
		b.Run(string(level), func(b *testing.B) {
			for b.Loop() {
				s, err := OpenConfig(context.Background(), Config{Path: path, Check: level})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
