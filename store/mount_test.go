package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

// tmpfs mounts a tmpfs of size (e.g. "1m") in a temporary directory and
// unmounts it after the test. It skips unless mounting is allowed (root
// with CAP_SYS_ADMIN).
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestFullFileSystem fills a real (tmpfs) file system: the commit that does
// not fit is code unavailable and the database stays consistent.
func TestFullFileSystem(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(tmpfs(t, "512k"), "canary.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := create(t, s, "shop/checkout")
	seq := int64(1)
	for ; seq < 1000; seq++ {
		evs := events("checkout", seq+1, 1, canary.EvEvaluated)
		evs[0].Message = strings.Repeat("x", 32<<10)
		err = s.Commit(ctx, r.ID, state("checkout", seq+1, canary.PhaseProgressing), evs)
		if err != nil {
			break
		}
	}
	wantCode(t, err, canary.EUNAVAILABLE)
	t.Logf("after %d commits: %v", seq, err)
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.EventSeq != seq || count(t, s, `SELECT max(seq) FROM events`) != int(seq) {
		t.Errorf("snapshot seq %d, want the last committed %d, as the log", got.State.EventSeq, seq)
	}
}

// TestReadOnlyFileSystem remounts the database's file system read-only: a
// store cannot be opened for writing there (code unavailable), and one
// opened read-only refuses commits with code unavailable.
func TestReadOnlyFileSystem(t *testing.T) {
	ctx := context.Background()
	dir := tmpfs(t, "4m")
	path := filepath.Join(dir, "canary.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := create(t, s, "shop/checkout")
	s.Close()
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	_, err = Open(ctx, path)
	wantCode(t, err, canary.EUNAVAILABLE)
	t.Logf("open: %v", err)

	ro, err := OpenConfig(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		// SQLite cannot read a WAL database without creating its -shm file.
		wantCode(t, err, canary.EUNAVAILABLE)
		t.Logf("read-only open: %v", err)
		return
	}
	defer ro.Close()
	err = ro.Commit(ctx, r.ID, state("checkout", 2, canary.PhasePaused), events("checkout", 2, 1, canary.EvPaused))
	wantCode(t, err, canary.EUNAVAILABLE)
}
