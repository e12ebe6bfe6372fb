package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// crashEnv names the database a re-executed test binary commits to until it
// is killed.
const crashEnv = "CANARY_STORE_CRASH_DB"

const crashName = "crash/loop"

// TestCrashRecovery kills a committing child process with SIGKILL at a
// random moment, several times over the same database, and checks after
// each crash that the database is intact, that the snapshot agrees with
// the log (EventSeq = last Seq, no gaps), that every commit's outbox item
// made it with its events, and that no acknowledged commit was lost.
func TestCrashRecovery(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := range 10 {
		acked := runAndKill(t, path, 5+rand.IntN(60))
		checkAfterCrash(t, path, round, acked)
	}
}

// runAndKill starts the child, lets it acknowledge at least n commits and
// kills it while it goes on committing. It returns the last acknowledged
// EventSeq.
func runAndKill(t *testing.T, path string, n int) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var acked int64
	for seen := 0; seen < n && sc.Scan(); {
		if seq, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			acked, _ = strconv.ParseInt(seq, 10, 64)
			seen++
		}
	}
	// Land the kill anywhere inside the next commits, not just after an
	// acknowledgement: a commit takes about a millisecond (fsync).
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // acknowledgements written before the kill landed
		if seq, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			acked, _ = strconv.ParseInt(seq, 10, 64)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	return acked
}

func checkAfterCrash(t *testing.T, path string, round int, acked int64) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()
	var integrity string
	if err := s.w.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("round %d: integrity_check: %q, %v", round, integrity, err)
	}
	r, err := s.Latest(ctx, crashName)
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	var n, maxSeq int64
	if err := s.w.QueryRowContext(ctx, `SELECT count(*), coalesce(max(seq), 0) FROM events WHERE rollout_id = ?`,
		r.ID).Scan(&n, &maxSeq); err != nil {
		t.Fatal(err)
	}
	items := count(t, s, `SELECT count(*) FROM outbox WHERE rollout_id = ?`, r.ID)
	t.Logf("round %d: snapshot seq %d, %d events, %d outbox items, last acknowledged %d", round, r.State.EventSeq, n, items, acked)
	if r.State.EventSeq != maxSeq || n != maxSeq {
		t.Errorf("round %d: snapshot seq %d, last event %d, %d events: want all equal", round, r.State.EventSeq, maxSeq, n)
	}
	if int64(items)*3 != n+2 { // Create wrote 1 event; each commit 3 events and 1 item
		t.Errorf("round %d: %d outbox items for %d events: a commit was torn", round, items, n)
	}
	if maxSeq < acked {
		t.Errorf("round %d: lost acknowledged commits: log ends at %d, child acknowledged %d", round, maxSeq, acked)
	}
	if r.State.Weight != int(maxSeq%100) {
		t.Errorf("round %d: snapshot weight %d, want %d (written with seq %d)", round, r.State.Weight, maxSeq%100, maxSeq)
	}
}

// crashChild commits 3 events, a snapshot and an outbox item at a time,
// with payloads of random size, and acknowledges each commit on stdout
// until it is killed.
func crashChild(path string) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r, err := s.Latest(ctx, crashName)
	if canary.ErrorCode(err) == canary.ENOTFOUND {
		r, err = s.Create(ctx, crashName, []byte("plan"), state("loop", 1, canary.PhaseProgressing),
			events("loop", 1, 1, canary.EvCreated), WithOutbox(canary.OutboxItem{Key: "created", Channel: "slack"}))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	seq := r.State.EventSeq
	// The parent kills the child within seconds; should the parent die
	// first, the closed pipe (SIGPIPE) or this deadline ends the child.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		evs := events("loop", seq+1, 3, canary.EvEvaluated)
		for i := range evs {
			evs[i].Message = strings.Repeat("m", rand.IntN(6000))
		}
		st := state("loop", seq+3, canary.PhaseProgressing)
		st.Weight = int((seq + 3) % 100)
		item := canary.OutboxItem{Key: fmt.Sprintf("ev-%d", seq+1), Channel: "slack", Payload: make([]byte, rand.IntN(3000))}
		if err := s.Commit(ctx, r.ID, st, evs, WithOutbox(item)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		seq += 3
		if _, err := fmt.Printf("committed %d\n", seq); err != nil {
			os.Exit(2)
		}
	}
	os.Exit(3)
}
