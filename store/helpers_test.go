package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
)

// base is the stepped clock's start.
var base = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// openTest opens a store in a fresh directory and closes it after the test.
func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "canary.db")
	s, err := OpenConfig(context.Background(), Config{Path: path, Clock: canarytest.NewTicker(base, time.Second)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// events returns n events numbered from first, as the engine would emit.
func events(name string, first int64, n int, typ canary.EventType) []canary.Event {
	evs := make([]canary.Event, n)
	for i := range evs {
		seq := first + int64(i)
		evs[i] = canary.Event{
			Seq: seq, Time: base.Add(time.Duration(seq) * time.Second), Rollout: name, Type: typ,
			Phase: canary.PhaseProgressing, Step: 1, Weight: 10, Message: fmt.Sprintf("event %d", seq),
		}
	}
	return evs
}

// state is a snapshot whose log ends at seq.
func state(name string, seq int64, phase canary.Phase) canary.State {
	return canary.State{
		Name: name, Version: "v2", Phase: phase, Step: 1, Weight: 10, EventSeq: seq,
		Rules:     []canary.RuleState{{Name: "latencyP95 > 600ms", Verdict: canary.VerdictPass, Value: 0.412, Samples: 480}},
		UpdatedAt: base.Add(time.Duration(seq) * time.Second),
	}
}

// create stores a new Progressing rollout with one created event.
func create(t *testing.T, s *Store, name string) Rollout {
	t.Helper()
	r, err := s.Create(context.Background(), name, []byte("plan of "+name),
		state(name, 1, canary.PhaseProgressing), events(name, 1, 1, canary.EvCreated))
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return r
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := canary.ErrorCode(err); got != code {
		t.Fatalf("error %v: got code %q, want %q", err, got, code)
	}
}

// count runs a count query on the write connection.
func count(t *testing.T, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.w.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
