package store

import (
	"path/filepath"
	"strings"

	"github.com/canary-dev/canary"
)

// ioErrorPrefix starts the message classify gives a SQLITE_IOERR.
const ioErrorPrefix = "state database unavailable (I/O error)"

// diagnose refines an I/O error: SQLite reports a write refused by a file
// system mounted read-only (or remounted read-only by the kernel after an
// error) as SQLITE_IOERR, so after one the file system is asked, and a
// read-only one is named with what to do.
func (s *Store) diagnose(err error) error {
	if canary.ErrorCode(err) != canary.EUNAVAILABLE || !strings.HasPrefix(err.Error(), ioErrorPrefix) {
		return err
	}
	dir := filepath.Dir(s.cfg.Path)
	if !readOnlyFS(dir) {
		return err
	}
	return canary.Errorf(canary.EUNAVAILABLE,
		"state database unavailable (read-only: the file system of %s refuses writes as read-only, which SQLite reports as an I/O error; remount it read-write, after e2fsck if the kernel made it read-only after an error)%s",
		dir, strings.TrimPrefix(err.Error(), ioErrorPrefix))
}
