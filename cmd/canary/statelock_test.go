package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

func TestLockState(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	release, err := lockState(db)
	if err != nil {
		t.Fatal(err)
	}
	// flock belongs to the open file, so a second open in this process
	// is refused as another process would be.
	_, err = lockState(db)
	if canary.ErrorCode(err) != canary.ECONFLICT || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) ||
		!strings.Contains(err.Error(), "another --state") {
		t.Fatalf("second lock: %v, want a conflict naming this pid and what to do", err)
	}
	release()
	again, err := lockState(db)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
	if fi, err := os.Stat(db); err != nil {
		t.Errorf("database not created by the lock: %v", err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("database created by the lock with mode %v, want 0600", fi.Mode())
	}
}

// TestLockStateFollowsTheFile: every other name of a locked database (a
// symlink, a hard link, a symlinked directory, a path with ..) meets the
// same lock, with the holder's pid. The lock used to be a file named
// path+".lock", so each of these started a second server on the same
// rollouts.
func TestLockStateFollowsTheFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state", "state.db")
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, nil, 0o600); err != nil { // a database to link to
		t.Fatal(err)
	}
	release, err := lockState(db)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	symlink, hardlink, dirlink := filepath.Join(other, "link.db"), filepath.Join(other, "hard.db"), filepath.Join(dir, "dirlink")
	for _, err := range []error{os.Symlink(db, symlink), os.Link(db, hardlink), os.Symlink(filepath.Dir(db), dirlink)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ name, path string }{
		{"same path", db},
		{"symlink", symlink},
		{"hard link", hardlink},
		{"symlinked directory", filepath.Join(dirlink, "state.db")},
		{"dot-dot", filepath.Join(other, "..", "state", "state.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			again, err := lockState(tt.path)
			if err == nil {
				again()
				t.Fatalf("lock of %s while %s is locked: taken, want refused", tt.path, db)
			}
			if canary.ErrorCode(err) != canary.ECONFLICT || !strings.Contains(err.Error(), "(pid "+strconv.Itoa(os.Getpid())+")") {
				t.Errorf("lock of %s: %v; want a conflict naming the holder's pid %d", tt.path, err, os.Getpid())
			}
		})
	}
}

// TestServeRefusesAStateInUse: a second canary serve on the same state
// database, by its own name or through a hard link, exits 2 saying who
// holds it, before listening.
func TestServeRefusesAStateInUse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	release, err := lockState(db)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	hard := filepath.Join(t.TempDir(), "hard.db")
	if err := os.Link(db, hard); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{db, hard} {
		// Bounded: a serve that is not refused would serve until ctx ends.
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		var stdout, stderr strings.Builder
		code := Main(ctx, []string{"serve", "--insecure", "--listen", "127.0.0.1:0", "--state", path}, &stdout, &stderr)
		cancel()
		if code != ExitInvalid || !strings.Contains(stderr.String(), "is in use by another canary process (pid "+strconv.Itoa(os.Getpid())) {
			t.Fatalf("serve on locked state %s: exit %d, stderr %q", path, code, stderr.String())
		}
	}
}

// TestRunRefusesAStateInUse: canary run --state on a database another
// process holds exits 2 before touching traffic.
func TestRunRefusesAStateInUse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	release, err := lockState(db)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var stdout, stderr strings.Builder
	code := Main(t.Context(), []string{"run", "--state", db, "../../examples/local.yaml"}, &stdout, &stderr)
	if code != ExitInvalid || !strings.Contains(stderr.String(), "is in use by another canary process") {
		t.Fatalf("run on a locked state: exit %d, stderr %q", code, stderr.String())
	}
}
