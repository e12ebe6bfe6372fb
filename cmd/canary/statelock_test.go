package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
}

// TestServeRefusesAStateInUse: a second canary serve on the same state
// database exits 2 saying who holds it, before listening.
func TestServeRefusesAStateInUse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state.db")
	release, err := lockState(db)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var stdout, stderr strings.Builder
	code := Main(t.Context(), []string{"serve", "--insecure", "--listen", "127.0.0.1:0", "--state", db}, &stdout, &stderr)
	if code != ExitInvalid || !strings.Contains(stderr.String(), "is in use by another canary process") {
		t.Fatalf("serve on a locked state: exit %d, stderr %q", code, stderr.String())
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
