package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/canary-dev/canary"
	"golang.org/x/sys/unix"
)

// lockState takes an exclusive lock on the state database at path for as
// long as this process serves it, so that a second canary serve or canary
// run on the same database refuses to start instead of acting on the same
// rollouts (each action could then run twice). It creates the database
// file (mode 0600) when missing. The lock goes away with the process, even
// after kill -9. Call release only after the store on path is closed.
//
// Why flock on a separate descriptor of the database file itself:
//   - The lock must be keyed by the file (device and inode), not by a name
//     derived from the path: a symlink or a hard link to the database, or
//     the same volume mounted at another path in a container, names the
//     same file and must meet the same lock. A lock on path+".lock" (what
//     canary did before) was bypassed by any of them. flock locks the
//     inode, so every path to it meets it.
//   - SQLite locks the database with POSIX (fcntl) locks, which belong to
//     the process and are all dropped when ANY descriptor of the file is
//     closed in it. flock locks belong to the open file description and,
//     on the local file systems SQLite's WAL mode requires, are independent
//     of fcntl locks: this lock neither disturbs nor is disturbed by
//     SQLite's. SQLite never sees this descriptor, so it cannot close it;
//     it is closed only by release, after the store (and so every SQLite
//     lock) is gone, or by the process's exit.
//   - The alternative, a lock file named by dev:inode in a fixed directory
//     (/run/lock, /tmp), is missed by a second server in another mount
//     namespace (a container, systemd's PrivateTmp) that shares the
//     database's volume but not that directory, and leaves files others
//     can pre-create in a world-writable directory.
//
// The holder's pid for the refusal comes from /proc/locks, which lists
// flock locks by device and inode.
func lockState(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "lock the state database: %v", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := "another canary process"
		if pid := lockHolder(f); pid > 0 {
			holder = fmt.Sprintf("another canary process (pid %d)", pid)
		}
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, canary.Errorf(canary.ECONFLICT,
				"state database %s is in use by %s: stop it first, or give this one another --state", path, holder)
		}
		return nil, canary.Errorf(canary.EUNAVAILABLE, "lock the state database %s: %v", path, err)
	}
	return func() { _ = f.Close() }, nil
}

// lockHolder returns the pid of a process holding a flock on f's file, as
// /proc/locks shows it (0 when unknown: not Linux, or a process in another
// pid namespace).
func lockHolder(f *os.File) int {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	dev := uint64(st.Dev) //nolint:unconvert // Dev is uint32 on some platforms
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), st.Ino)
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer locks.Close()
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 9845 fe:00:10094814 0 EOF"; waiters
		// have "->" after the number and hold nothing.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != id {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}
