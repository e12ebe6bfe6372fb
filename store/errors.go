package store

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/canary-dev/canary"
)

// unavailableCodes are the SQLite primary result codes that mean the disk or
// another process is at fault, not the request: retrying later may work.
var unavailableCodes = map[int]string{
	sqlite3.SQLITE_FULL:     "disk full",
	sqlite3.SQLITE_READONLY: "read-only",
	sqlite3.SQLITE_IOERR:    "I/O error",
	sqlite3.SQLITE_CANTOPEN: "cannot open",
	sqlite3.SQLITE_BUSY:     "locked by another process",
	sqlite3.SQLITE_CORRUPT:  "corrupt",
	sqlite3.SQLITE_NOTADB:   "not a database",
	sqlite3.SQLITE_PERM:     "permission denied",
	sqlite3.SQLITE_NOLFS:    "file too large",
	sqlite3.SQLITE_PROTOCOL: "lock protocol error",
}

// unavailableErrnos are operating-system errors with the same meaning, seen
// before SQLite is involved (creating the database's directory).
var unavailableErrnos = []syscall.Errno{
	syscall.EROFS, syscall.ENOSPC, syscall.EIO, syscall.EDQUOT, syscall.EACCES, syscall.EPERM,
}

// classify turns err from operation op into the error callers see: a
// *canary.Error is returned as is; a disk or lock failure becomes a
// *canary.Error with code unavailable; anything else is wrapped with op.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *canary.Error
	if errors.As(err, &ce) {
		return ce
	}
	if why, ok := diskFault(err); ok {
		return canary.Errorf(canary.EUNAVAILABLE, "state database unavailable (%s): %s: %v", why, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// diskFault reports whether err is the disk's or another process's fault,
// and a short reason.
func diskFault(err error) (string, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		why, ok := unavailableCodes[se.Code()&0xff]
		return why, ok
	}
	for _, errno := range unavailableErrnos {
		if errors.Is(err, errno) {
			return errno.Error(), true
		}
	}
	return "", false
}

func notFound(id int64) error {
	return canary.Errorf(canary.ENOTFOUND, "rollout %d not found", id)
}
