package store

import "context"

// CheckWrite writes to the database and commits, to find out whether it
// can take a write now: nil when it can; code unavailable, saying why
// (disk full, read-only, I/O error), when it cannot. It rewrites the
// schema_version row in place (same value), so it changes nothing and
// adds one page to the WAL; it runs in a batch with other writes.
func (s *Store) CheckWrite(ctx context.Context) error {
	return s.writeBatched(ctx, operation{what: "write check"}, func(w *wtx) error {
		_, err := w.ExecContext(ctx, `UPDATE schema_version SET version = version`)
		return err
	})
}
