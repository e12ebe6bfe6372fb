package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

// TestReadOnlyDatabase opens a database read-only (as a read-only file
// system does): reads work and every write is code unavailable.
func TestReadOnlyDatabase(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	r := create(t, s, "shop/checkout")
	if err := s.Enqueue(ctx, canary.OutboxItem{Key: "k", Channel: "slack"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	ro, err := OpenConfig(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, err := ro.Get(ctx, r.ID); err != nil || got.State.EventSeq != 1 {
		t.Fatalf("read-only get: got seq %d, %v", got.State.EventSeq, err)
	}
	err = ro.Commit(ctx, r.ID, state("checkout", 2, canary.PhasePaused), events("checkout", 2, 1, canary.EvPaused))
	wantCode(t, err, canary.EUNAVAILABLE)
	if !strings.Contains(err.Error(), "read-only") {
		t.Errorf("got %q, want it to say read-only", err)
	}
	_, err = ro.Create(ctx, "shop/cart", nil, state("cart", 0, canary.PhasePending), nil)
	wantCode(t, err, canary.EUNAVAILABLE)
	_, err = ro.ClaimDue(ctx, base, 10)
	wantCode(t, err, canary.EUNAVAILABLE)
	ro.Close()

	rw, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if got, err := rw.Get(ctx, r.ID); err != nil || got.State.EventSeq != 1 || got.State.Phase != canary.PhaseProgressing {
		t.Errorf("after the refused writes: got %+v, %v; want seq 1, Progressing", got.State, err)
	}
}

// TestReadOnlyFiles makes the file and its directory read-only. Root
// ignores file modes, so it runs only as another user.
func TestReadOnlyFiles(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions; TestReadOnlyDatabase covers read-only opens")
	}
	ctx := context.Background()
	s, path := openTest(t)
	r := create(t, s, "shop/checkout")
	s.Close()
	dir := filepath.Dir(path)
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })

	s, err := Open(ctx, path)
	if err != nil {
		wantCode(t, err, canary.EUNAVAILABLE) // no -shm can be created beside it
		t.Logf("open refused: %v", err)
		return
	}
	defer s.Close()
	err = s.Commit(ctx, r.ID, state("checkout", 2, canary.PhasePaused), events("checkout", 2, 1, canary.EvPaused))
	wantCode(t, err, canary.EUNAVAILABLE)
	t.Logf("commit refused: %v", err)
}

// TestDiskFull caps the database's size (PRAGMA max_page_count on the write
// connection), so a commit that needs a new page fails with SQLITE_FULL as
// on a full disk: code unavailable, nothing written, and the store works
// again once there is room.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := create(t, s, "shop/checkout")
	pages := count(t, s, `PRAGMA page_count`)
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	evs := events("checkout", 2, 1, canary.EvEvaluated)
	evs[0].Message = incompressible(64 << 10) // bodies are compressed
	err := s.Commit(ctx, r.ID, state("checkout", 2, canary.PhasePaused), evs)
	wantCode(t, err, canary.EUNAVAILABLE)
	if !strings.Contains(err.Error(), "disk full") {
		t.Errorf("got %q, want it to say disk full", err)
	}
	if got, err := s.Get(ctx, r.ID); err != nil || got.State.EventSeq != 1 {
		t.Fatalf("after a full disk: got seq %d, %v; want 1", got.State.EventSeq, err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, r.ID, state("checkout", 2, canary.PhasePaused), evs); err != nil {
		t.Fatalf("with room again: %v", err)
	}
}

func TestOpenUnavailable(t *testing.T) {
	// A directory where the file should be cannot be opened as a database.
	dir := t.TempDir()
	_, err := Open(context.Background(), dir)
	wantCode(t, err, canary.EUNAVAILABLE)
	// A file that is not a database.
	path := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), path)
	wantCode(t, err, canary.EUNAVAILABLE)
}

// incompressible returns n characters that DEFLATE cannot shrink much
// (hex digits from a fixed seed).
func incompressible(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[r.IntN(16)]
	}
	return string(b)
}
