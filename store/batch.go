package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch caps the writes applied in one transaction, so one batch's
// latency stays bounded however long the queue.
const maxBatch = 1024

// minCommitGap spaces transactions while writes come from many writers at
// once (the last transaction held more than one). A transaction's commit
// (WAL header, fsync, unlocking, the B-tree pages its writes share) costs
// about the same CPU and disk for one write as for a hundred, so letting
// writes gather for up to this long saves both, for at most this much
// latency. A lone writer, or a write after a quiet spell, starts at once.
// At 1,000 rollouts evaluated every second, 2 ms gave ~4 writes per
// transaction on a shared machine and ~1-2 on a quiet one (where each
// transaction is quick, so few writes arrive during it); 10 ms gives ~12
// and cut the CPU per evaluation by about a fifth (BENCHMARKS.md,
// "Rollouts at scale"). An evaluation interval is seconds, so 10 ms more
// before a commit is durable changes no decision.
const minCommitGap = 10 * time.Millisecond

// batcher applies Create and Commit writes in groups: writes that arrive
// while one transaction is being applied and synced are queued and go
// together into the next one, so many rollouts share one commit and one
// fsync (group commit). Each write still runs its own checks (fencing)
// and gets its own error; its caller returns only after the transaction
// holding it is durable. A write that fails after writing something rolls
// the transaction back, and the others are applied again without it.
type batcher struct {
	db        *sql.DB
	committed func(writes int) // called between transactions after one that wrote (optional)

	mu     sync.Mutex
	queue  []*job
	closed bool
	wake   chan struct{} // capacity 1: "the queue may have work"
	exited chan struct{} // closed when run returns

	txs, writes atomic.Int64 // committed transactions and the writes they held
}

// job is one queued write.
type job struct {
	ctx  context.Context
	op   operation
	fn   func(*wtx) error
	err  error
	done chan struct{}
}

// operation names a write in its errors: "commit rollout 12". The name is
// formatted only when there is an error.
type operation struct {
	what string
	id   int64 // appended when not 0
}

func (o operation) String() string {
	if o.id == 0 {
		return o.what
	}
	return fmt.Sprintf("%s %d", o.what, o.id)
}

// classify is the package's classify with the operation's name.
func (o operation) classify(err error) error {
	if err == nil {
		return nil
	}
	return classify(o.String(), err)
}

// wtx is the transaction a batch's writes run in. Statements prepared
// once on the write connection are bound to it once per batch, not once
// per write.
type wtx struct {
	*sql.Tx
	bound map[string]*sql.Stmt
}

// stmt returns query, prepared (st when not nil), for use in this
// transaction; it is closed with the transaction.
func (w *wtx) stmt(ctx context.Context, st *sql.Stmt, query string) (*sql.Stmt, error) {
	if b := w.bound[query]; b != nil {
		return b, nil
	}
	var b *sql.Stmt
	if st != nil {
		b = w.StmtContext(ctx, st)
	} else {
		var err error
		if b, err = w.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
	}
	if w.bound == nil {
		w.bound = make(map[string]*sql.Stmt)
	}
	w.bound[query] = b
	return b, nil
}

// cleanError marks an error returned by a write function before it wrote
// anything (a fencing conflict, a missing rollout): the rest of its batch
// goes on without a rollback.
type cleanError struct{ err error }

func (e cleanError) Error() string { return e.err.Error() }
func (e cleanError) Unwrap() error { return e.err }

// clean marks err as returned before any write.
func clean(err error) error { return cleanError{err} }

func newBatcher(db *sql.DB, committed func(writes int)) *batcher {
	b := &batcher{db: db, committed: committed, wake: make(chan struct{}, 1), exited: make(chan struct{})}
	go b.run()
	return b
}

// do runs fn in a batch and returns its error (classified with op) once
// the batch is durable. It reports ok=false, running nothing, after close.
func (b *batcher) do(ctx context.Context, op operation, fn func(*wtx) error) (err error, ok bool) {
	j := &job{ctx: ctx, op: op, fn: fn, done: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, false
	}
	b.queue = append(b.queue, j)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	select {
	case <-j.done:
		return j.err, true
	case <-ctx.Done():
		if b.withdraw(j) {
			return op.classify(ctx.Err()), true
		}
		<-j.done // already in a transaction: wait for its outcome
		return j.err, true
	}
}

// withdraw removes j from the queue if no batch has taken it yet.
func (b *batcher) withdraw(j *job) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, q := range b.queue {
		if q == j {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return true
		}
	}
	return false
}

// close applies what is queued and stops the batcher.
func (b *batcher) close() {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.mu.Unlock()
	if !already {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	<-b.exited
}

func (b *batcher) run() {
	defer close(b.exited)
	var last time.Time // when the last transaction began
	var shared bool    // whether it held more than one write
	for {
		if wait := minCommitGap - time.Since(last); shared && wait > 0 {
			time.Sleep(wait)
		}
		jobs, closed := b.take()
		if len(jobs) > 0 {
			last, shared = time.Now(), len(jobs) > 1
			b.apply(jobs)
			continue
		}
		if closed {
			return
		}
		<-b.wake
	}
}

// take removes up to maxBatch jobs from the queue.
func (b *batcher) take() ([]*job, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), maxBatch)
	jobs := make([]*job, n)
	copy(jobs, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	return jobs, b.closed
}

// apply commits jobs in one transaction, leaving out (and rolling back)
// any job that failed after writing, then releases every caller.
func (b *batcher) apply(jobs []*job) {
	all := jobs
	var wrote int
	for {
		var failed int
		if failed, wrote = b.try(jobs); failed < 0 {
			break
		}
		jobs = append(jobs[:failed:failed], jobs[failed+1:]...)
	}
	for _, j := range all {
		close(j.done)
	}
	if wrote > 0 && b.committed != nil {
		b.committed(wrote)
	}
}

// try runs jobs in one transaction and commits it. When a job fails after
// it may have written, try rolls back and returns that job's index (its
// error is set; the others must be tried again); otherwise -1, with every
// job's error set, and the number of writes the transaction committed.
func (b *batcher) try(jobs []*job) (failed int, wrote int) {
	tx, err := b.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, j := range jobs {
			j.err = j.op.classify(err)
		}
		return -1, 0
	}
	w := &wtx{Tx: tx}
	committed := make([]*job, 0, len(jobs))
	for i, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			j.err = j.op.classify(err)
			continue
		}
		err := j.fn(w)
		if err == nil {
			committed = append(committed, j)
			continue
		}
		var ce cleanError
		if errors.As(err, &ce) {
			j.err = j.op.classify(ce.err)
			continue
		}
		j.err = j.op.classify(err)
		_ = tx.Rollback() // SQLite may have rolled it back already
		return i, 0
	}
	err = tx.Commit()
	for _, j := range committed {
		j.err = j.op.classify(err)
	}
	if err != nil || len(committed) == 0 {
		return -1, 0
	}
	b.txs.Add(1)
	b.writes.Add(int64(len(committed)))
	return -1, len(committed)
}

// WriteStats counts the Store's batched writes (Create, Commit) since it
// was opened.
type WriteStats struct {
	// Transactions is the number of committed transactions that wrote,
	// each one WAL append and one fsync; Writes the Creates and Commits
	// they held (more than one per transaction is group commit at work).
	Transactions, Writes int64
}

// WriteStats returns the counts of batched writes so far.
func (s *Store) WriteStats() WriteStats {
	return WriteStats{Transactions: s.b.txs.Load(), Writes: s.b.writes.Load()}
}
