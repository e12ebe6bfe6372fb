package store

import "testing"

// TestCheckpointDueAfterWrites: the checkpointer waits checkpointEvery
// between checkpoints unless checkpointWrites writes were committed since
// the last one began, so a busy store's WAL stays short; fewer writes only
// wake it (for the next periodic checkpoint).
func TestCheckpointDueAfterWrites(t *testing.T) {
	c := &checkpointer{wake: make(chan struct{}, 1), due: make(chan struct{}, 1)}
	due := func() bool {
		select {
		case <-c.due:
			return true
		default:
			return false
		}
	}
	c.committed(checkpointWrites - 1)
	if due() {
		t.Fatalf("due after %d writes, want only after %d", checkpointWrites-1, checkpointWrites)
	}
	select {
	case <-c.wake:
	default:
		t.Error("a commit did not wake the checkpointer")
	}
	c.committed(1)
	if !due() {
		t.Fatalf("not due after %d writes", checkpointWrites)
	}
	c.writes.Store(0) // what run does as a checkpoint begins
	c.committed(10)
	if due() {
		t.Error("due again 10 writes after a checkpoint began")
	}
}
