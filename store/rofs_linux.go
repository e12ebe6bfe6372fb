package store

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readOnlyFS reports whether the file system holding dir refuses writes
// as read-only: mounted read-only (statfs ST_RDONLY), or refusing to
// create a file with EROFS, as ext4 does once it has made itself
// read-only after an error (emergency_ro, which statfs does not show).
func readOnlyFS(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Flags&unix.ST_RDONLY != 0 {
		return true
	}
	f, err := os.CreateTemp(dir, ".canary-write-check-*")
	if err != nil {
		return errors.Is(err, syscall.EROFS)
	}
	name := f.Name()
	f.Close()
	return errors.Is(os.Remove(name), syscall.EROFS)
}
