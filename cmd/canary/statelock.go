package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"golang.org/x/sys/unix"
)

// lockState takes an exclusive lock (flock) on path+".lock" for as long as
// this process holds it, so that a second canary serve or canary run on the
// same state database refuses to start instead of acting on the same
// rollouts (each action could then run twice). The lock goes away with the
// process, even after kill -9. The file records the holder's pid and start
// time for the refusal's message.
func lockState(path string) (release func(), err error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "lock the state database: %v", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := "another canary process"
		if b, rerr := os.ReadFile(name); rerr == nil {
			if pid, since, ok := strings.Cut(strings.TrimSpace(string(b)), " "); ok {
				if _, perr := strconv.Atoi(pid); perr == nil {
					holder = fmt.Sprintf("another canary process (pid %s, since %s)", pid, since)
				}
			}
		}
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, canary.Errorf(canary.ECONFLICT,
				"state database %s is in use by %s: stop it first, or give this one another --state", path, holder)
		}
		return nil, canary.Errorf(canary.EUNAVAILABLE, "lock the state database %s: %v", path, err)
	}
	// Who holds it, for the next one's message (best effort).
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	}
	return func() { _ = f.Close() }, nil
}
