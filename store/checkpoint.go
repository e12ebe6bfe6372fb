package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// WAL checkpoints. SQLite's default copies the WAL back into the database
// file (and syncs it) inside the commit that crosses 1000 frames, which
// stalls every writer queued behind that commit. Instead, the write
// connection checkpoints on its own only as a backstop (autoCheckpoint
// frames), and a checkpointer goroutine with its own connection copies
// frames in the background (PASSIVE: it never blocks the writer), at most
// once per checkpointEvery, so a page rewritten many times in between
// (a rollout's snapshot, every interval) is copied once: with 1,000
// rollouts evaluated every second, 1 s between checkpoints copied every
// page written (~19.5 KB written per commit, WAL and database file), 5 s
// copies a fifth of them (~13 KB). A checkpoint comes sooner once
// checkpointWrites writes were committed since the last one, so the WAL
// stays short under many more writes per second (10,000 rollouts).
//
// A WAL starts over from its beginning only when it was copied entirely
// while no transaction was writing, which a busy writer never allows. Once
// the WAL is restartFrames long, the checkpointer runs PASSIVE checkpoints
// back to back until one is quick (little is left to copy), then asks the
// batcher for a RESTART checkpoint between two of its transactions: the
// writer waits only while that little is copied and synced (a RESTART from
// another connection would also wait, in SQLite's busy handler, for the
// batch under way).
const (
	autoCheckpoint   = 65536 // frames (256 MiB at 4 KiB pages)
	restartFrames    = 32768
	checkpointEvery  = 5 * time.Second
	checkpointWrites = 5000
	quickCheckpoint  = 50 * time.Millisecond
	catchUpRounds    = 4
)

type checkpointer struct {
	db      *sql.DB // its own connection, for PASSIVE checkpoints
	w       *sql.DB // the write connection, for RESTART checkpoints
	restart atomic.Bool
	writes  atomic.Int64  // committed since the last checkpoint began
	due     chan struct{} // capacity 1: checkpointWrites reached
	wake    chan struct{} // capacity 1
	stop    chan struct{}
	exited  chan struct{}
	once    sync.Once
}

func newCheckpointer(db, w *sql.DB) *checkpointer {
	c := &checkpointer{db: db, w: w, wake: make(chan struct{}, 1), due: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	go c.run()
	return c
}

// committed is called by the batcher between transactions, after each one
// that wrote: the WAL grew by writes.
func (c *checkpointer) committed(writes int) {
	if c.restart.CompareAndSwap(true, false) {
		_, _ = c.w.ExecContext(context.Background(), `PRAGMA wal_checkpoint(RESTART)`)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	if c.writes.Add(int64(writes)) >= checkpointWrites {
		select {
		case c.due <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) run() {
	defer close(c.exited)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		c.writes.Store(0)
		c.checkpoint()
		select { // at most one checkpoint per checkpointEvery or checkpointWrites
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		case <-c.due:
		}
	}
}

// checkpoint copies what it can; errors are left to the next one (and to
// the writer's own backstop checkpoint).
func (c *checkpointer) checkpoint() {
	log, took, err := c.passive()
	if err != nil || log < restartFrames {
		return
	}
	for i := 0; i < catchUpRounds && took > quickCheckpoint; i++ {
		if _, took, err = c.passive(); err != nil {
			return
		}
	}
	c.restart.Store(true)
}

// passive runs a PASSIVE checkpoint and returns the WAL's length in frames
// and how long it took.
func (c *checkpointer) passive() (log int, took time.Duration, err error) {
	start := time.Now()
	var busy, done int
	err = c.db.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done)
	return log, time.Since(start), err
}

// close stops the checkpointer; it may be called more than once.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.exited
	return c.db.Close()
}
