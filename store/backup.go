package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/canary-dev/canary"
)

// Backup writes a consistent copy of the state database at src to dst
// while other processes (a running canary serve) keep reading and writing
// it: SQLite's VACUUM INTO, run in one read transaction on a read-only
// connection, copies the database as of that transaction's snapshot (WAL
// readers do not block the writer, nor it them). It takes no lock of
// canary's own (not the state lock a server holds), so it runs beside a
// live server.
//
// The copy is written to a temporary file next to dst, checked (it opens
// at this binary's schema version and passes SQLite's quick_check),
// synced, and renamed over dst, so dst is either the old file or a whole
// backup. To restore, stop the server and put the backup at its --state
// path (removing any STATE-wal and STATE-shm beside it).
func Backup(ctx context.Context, src, dst string) (err error) {
	op := "back up " + src
	if _, err := os.Stat(src); err != nil {
		return classify(op, err)
	}
	s, err := OpenConfig(ctx, Config{Path: src, ReadOnly: true, Readers: 1})
	if err != nil {
		return err
	}
	defer s.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return classify(op, err)
	}
	name := tmp.Name()
	tmp.Close()
	os.Remove(name) // VACUUM INTO refuses an existing non-empty file; an empty one is fine, but be plain
	defer func() {
		if err != nil {
			os.Remove(name)
		}
	}()
	if _, err := s.r.ExecContext(ctx, `VACUUM INTO ?`, name); err != nil {
		return classify(op, err)
	}
	if err := checkBackup(ctx, name); err != nil {
		return err
	}
	if err := syncFile(name); err != nil {
		return classify(op, err)
	}
	if err := os.Rename(name, dst); err != nil {
		return classify(op, err)
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return classify(op, err)
		}
	}
	return nil
}

// checkBackup opens the backup at path as a state database and runs quick_check.
func checkBackup(ctx context.Context, path string) error {
	b, err := OpenConfig(ctx, Config{Path: path, ReadOnly: true, Readers: 1})
	if err != nil {
		return err
	}
	defer b.Close()
	var res string
	if err := b.r.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return classify("check the backup", err)
	}
	if res != "ok" {
		return canary.Errorf(canary.EINTERNAL, "check the backup %s: quick_check says %s", path, res)
	}
	return nil
}

func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
