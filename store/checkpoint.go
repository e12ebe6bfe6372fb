package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// WAL checkpoints. SQLite's default copies the WAL back into the database
// file (and syncs it) inside the commit that crosses 1000 frames, which
// stalls every writer queued behind that commit. Instead, the write
// connection checkpoints on its own only as a backstop (autoCheckpoint
// frames), and a checkpointer goroutine with its own connection copies
// frames in the background as commits come in (PASSIVE: it never blocks
// the writer). Should the WAL still grow past restartFrames (the writer
// never paused long enough for a checkpoint to finish, so SQLite could not
// start the WAL over), it runs a RESTART checkpoint, which waits for the
// writer between two transactions.
const (
	autoCheckpoint  = 16384 // frames (64 MiB at 4 KiB pages)
	restartFrames   = 8192
	checkpointEvery = 200 * time.Millisecond
)

type checkpointer struct {
	db     *sql.DB
	wake   chan struct{} // capacity 1
	stop   chan struct{}
	exited chan struct{}
	once   sync.Once
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	go c.run()
	return c
}

// committed tells the checkpointer the WAL grew.
func (c *checkpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default:
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
		c.checkpoint()
		select { // at most one checkpoint per checkpointEvery
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// checkpoint copies what it can; errors are left to the next one (and to
// the writer's own backstop checkpoint).
func (c *checkpointer) checkpoint() {
	ctx := context.Background()
	var busy, log, done int
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
		return
	}
	if log >= restartFrames {
		_, _ = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(RESTART)`)
	}
}

// close stops the checkpointer; it may be called more than once.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.exited
	return c.db.Close()
}
