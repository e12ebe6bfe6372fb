package store

import (
	"context"
	"path/filepath"

	"github.com/canary-dev/canary"
)

// CheckWrite writes to the database and commits, to find out whether it
// can take a write now: nil when it can; code unavailable, saying why
// (disk full, read-only, I/O error), when it cannot. It rewrites the
// schema_version row in place (same value), so it changes nothing and
// adds one page to the WAL; it runs in a batch with other writes. Then it
// asks the file system, which can refuse new writes while SQLite's
// rewrite of pages it already has succeeds (an ext4 that made itself
// read-only after an error).
func (s *Store) CheckWrite(ctx context.Context) error {
	err := s.writeBatched(ctx, operation{what: "write check"}, func(w *wtx) error {
		_, err := w.ExecContext(ctx, `UPDATE schema_version SET version = version`)
		return err
	})
	if err != nil || s.cfg.ReadOnly {
		return err
	}
	if dir := filepath.Dir(s.cfg.Path); readOnlyFS(dir) {
		return canary.Errorf(canary.EUNAVAILABLE,
			"state database unavailable (read-only: the file system of %s refuses writes; remount it read-write, after e2fsck if the kernel made it read-only after an error): write check", dir)
	}
	return nil
}
