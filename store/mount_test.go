package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
)

// TestFullFileSystem fills a real (tmpfs) file system: the commit that does
// not fit is code unavailable and the database stays consistent.
func TestFullFileSystem(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(canarytest.Tmpfs(t, "512k"), "canary.db")
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
	dir := canarytest.Tmpfs(t, "4m")
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

// TestReadOnlyRemountSaysReadOnly makes an ext4 file system read-only
// under an open store, as the kernel does after an I/O error
// (errors=remount-ro, triggered through ext4's trigger_fs_error; a plain
// remount,ro is refused while the database is open for writing). SQLite
// reports the refused writes as I/O errors; the store asks the file system
// and says read-only, for commits, creates and write checks.
func TestReadOnlyRemountSaysReadOnly(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "findmnt"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	ctx := context.Background()
	img := filepath.Join(canarytest.Tmpfs(t, "40m"), "fs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4: %v: %s", err, out)
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "loop,errors=remount-ro", img, dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount an ext4 image: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	dev, err := exec.Command("findmnt", "-no", "SOURCE", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	trigger := filepath.Join("/sys/fs/ext4", filepath.Base(strings.TrimSpace(string(dev))), "trigger_fs_error")

	s, err := Open(ctx, filepath.Join(dir, "canary.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := create(t, s, "shop/checkout")
	if err := s.CheckWrite(ctx); err != nil {
		t.Fatalf("write check before: %v", err)
	}
	if err := os.WriteFile(trigger, []byte("canary store test: read-only\n"), 0o200); err != nil {
		t.Skipf("cannot trigger an ext4 error: %v", err)
	}
	err = s.Commit(ctx, r.ID, state("checkout", 2, canary.PhasePaused), events("checkout", 2, 1, canary.EvPaused))
	wantReadOnly(t, "commit", err)
	_, err = s.Create(ctx, "shop/cart", nil, state("cart", 0, canary.PhasePending), nil)
	wantReadOnly(t, "create", err)
	wantReadOnly(t, "write check", s.CheckWrite(ctx))
	if got, err := s.Get(ctx, r.ID); err != nil || got.State.EventSeq != 1 {
		t.Errorf("read on the read-only file system: seq %d, %v; want the last commit (1)", got.State.EventSeq, err)
	}
}

// wantReadOnly checks err is code unavailable and says read-only.
func wantReadOnly(t *testing.T, what string, err error) {
	t.Helper()
	if canary.ErrorCode(err) != canary.EUNAVAILABLE || !strings.Contains(err.Error(), "(read-only: ") {
		t.Errorf("%s on a read-only file system: %v; want code unavailable saying read-only", what, err)
		return
	}
	t.Logf("%s: %v", what, err)
}
