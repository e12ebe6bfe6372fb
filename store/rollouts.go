package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/canary-dev/canary"
)

// Rollout is one stored rollout: one version of one named service.
type Rollout struct {
	// ID identifies the rollout in the store; never reused.
	ID int64 `json:"id"`
	// Name is namespace/name.
	Name string `json:"name"`
	// Generation counts the rollouts of Name: 1, 2, …
	Generation int64 `json:"generation"`
	// Plan is the plan as given to Create (YAML or JSON bytes).
	Plan []byte `json:"plan"`
	// PlanSHA256 is the hex SHA-256 of Plan: equal hashes, same plan.
	PlanSHA256 string `json:"planSHA256"`
	// State is the snapshot saved by the last Create or Commit.
	State canary.State `json:"state"`
	// CreatedAt and UpdatedAt are when the rollout was created and last
	// committed (the Store's Config.Now).
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// CommitOption refines Create and Commit.
type CommitOption func(*commitOptions)

type commitOptions struct {
	expectSeq *int64
	outbox    []canary.OutboxItem
	plan      []byte
}

// ExpectSeq makes the write fail with code conflict, changing nothing,
// unless the stored snapshot's EventSeq is seq: optimistic concurrency for
// a writer that read the rollout at seq (for Create, the expectation is 0).
func ExpectSeq(seq int64) CommitOption {
	return func(o *commitOptions) { o.expectSeq = &seq }
}

// WithOutbox writes notifications in the same transaction as the events
// that cause them. An item whose Key is already stored is ignored. The
// items' RolloutID is set to the rollout's.
func WithOutbox(items ...canary.OutboxItem) CommitOption {
	return func(o *commitOptions) { o.outbox = append(o.outbox, items...) }
}

// WithPlan replaces the rollout's stored plan in the same transaction as
// the state and events (a changed spec applied to a running rollout: the
// re-keyed state, the event that records the change and the plan it is
// for are one write).
func WithPlan(plan []byte) CommitOption {
	return func(o *commitOptions) { o.plan = plan }
}

func options(opts []CommitOption) commitOptions {
	var o commitOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Create stores a new rollout of name (namespace/name) with its plan, its
// initial state and events. The events must be numbered 1, 2, … and
// st.EventSeq must be the last one's Seq (0 without events). The rollout
// gets the next generation of name (never reused, even after Delete);
// creating one while the latest generation is not terminal fails with code
// conflict.
func (s *Store) Create(ctx context.Context, name string, plan []byte, st canary.State, events []canary.Event, opts ...CommitOption) (Rollout, error) {
	if err := validName(name); err != nil {
		return Rollout{}, err
	}
	o := options(opts)
	enc, err := encodeShared(&st, events)
	if err != nil {
		return Rollout{}, err
	}
	defer enc.release()
	sum := sha256.Sum256(plan)
	now := s.cfg.Clock.Now().UTC()
	r := Rollout{
		Name: name, Plan: append([]byte{}, plan...), PlanSHA256: hex.EncodeToString(sum[:]),
		State: st, CreatedAt: now, UpdatedAt: now,
	}
	if err := checkSeq("new rollout "+name, 0, o, st.EventSeq, events); err != nil {
		return Rollout{}, err
	}
	err = s.writeBatched(ctx, operation{what: "create rollout " + name}, func(w *wtx) error {
		var gen int64
		var phase string
		err := w.QueryRowContext(ctx,
			`SELECT generation, phase FROM rollouts WHERE name = ? ORDER BY generation DESC LIMIT 1`,
			name).Scan(&gen, &phase)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case !canary.Phase(phase).Terminal():
			return clean(canary.Errorf(canary.ECONFLICT,
				"rollout %s generation %d is %s: abort it or let it finish before starting another", name, gen, phase))
		}
		if err := w.QueryRowContext(ctx, `INSERT INTO generations (name, generation) VALUES (?, 1)
			ON CONFLICT (name) DO UPDATE SET generation = generation + 1 RETURNING generation`,
			name).Scan(&r.Generation); err != nil {
			return err
		}
		res, err := w.ExecContext(ctx, `INSERT INTO rollouts
			(name, generation, plan, plan_sha256, phase, event_seq, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			name, r.Generation, r.Plan, r.PlanSHA256, string(st.Phase), st.EventSeq, enc.state, nanos(now), nanos(now))
		if err != nil {
			return err
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		if err := s.insertEvents(ctx, w, r.ID, events, enc.events); err != nil {
			return err
		}
		return insertOutbox(ctx, w.Tx, r.ID, o.outbox, now)
	})
	if err != nil {
		return Rollout{}, err
	}
	s.hub.notify(r.ID)
	return r, nil
}

// Commit appends events to rollout id's log, replaces its snapshot with st
// and enqueues the WithOutbox items, all in one transaction. The events
// must continue the log exactly (the first one's Seq is the last stored
// Seq+1, then consecutive) and st.EventSeq must be the last one's Seq;
// otherwise Commit fails with code conflict and changes nothing. That
// fences a stale writer. Subscribers of id are woken after the commit.
//
// Commits made at the same time share a transaction and its fsync (see
// batcher); each is checked and fails on its own, and Commit returns once
// its transaction is durable.
func (s *Store) Commit(ctx context.Context, id int64, st canary.State, events []canary.Event, opts ...CommitOption) (err error) {
	if s.cfg.OnCommit != nil {
		defer func(start time.Time) {
			s.cfg.OnCommit(CommitInfo{Rollout: id, Events: len(events), Latency: time.Since(start), Err: err})
		}(time.Now())
	}
	o := options(opts)
	enc, err := encodeShared(&st, events)
	if err != nil {
		return err
	}
	defer enc.release()
	c := commit{id: id, o: o, phase: st.Phase, seq: st.EventSeq, events: events, enc: enc, now: s.cfg.Clock.Now().UTC()}
	err = s.writeBatched(ctx, operation{what: "commit rollout", id: id}, func(w *wtx) error {
		return s.commitTx(ctx, w, &c)
	})
	if err != nil {
		return err
	}
	s.hub.notify(id)
	return nil
}

// commit is what Commit writes.
type commit struct {
	id     int64
	o      commitOptions
	phase  canary.Phase // the snapshot's
	seq    int64        // the snapshot's EventSeq
	events []canary.Event
	enc    encoded
	now    time.Time
}

// commitTx is Commit's write. The snapshot is replaced only where the
// stored log ends where the events begin (the fence is the UPDATE's
// WHERE), then the events are appended and the outbox items enqueued.
func (s *Store) commitTx(ctx context.Context, w *wtx, c *commit) error {
	last := c.seq - int64(len(c.events))
	if !continues(last, c.o, c.events) {
		return s.refuse(ctx, w, c)
	}
	ok, err := s.updateState(ctx, w, c, last)
	if err != nil {
		return err
	}
	if !ok {
		return s.refuse(ctx, w, c)
	}
	if err := s.insertEvents(ctx, w, c.id, c.events, c.enc.events); err != nil {
		return err
	}
	if err := insertOutbox(ctx, w.Tx, c.id, c.o.outbox, c.now); err != nil {
		return err
	}
	if c.o.plan != nil {
		if err := updatePlanTx(ctx, w.Tx, c.id, c.o.plan, c.now); err != nil {
			return err
		}
	}
	if f := s.cfg.FailCommit; f != nil {
		return f(c.id, c.events)
	}
	return nil
}

// updateState replaces the snapshot if the log ends at last, and reports
// whether it did. Most commits keep the phase: the first UPDATE, which
// leaves the phase column (and its index) alone, matches them.
func (s *Store) updateState(ctx context.Context, w *wtx, c *commit, last int64) (bool, error) {
	same, err := w.stmt(ctx, s.hot.samePhase, samePhaseSQL)
	if err != nil {
		return false, err
	}
	if ok, err := affected(same.ExecContext(ctx, c.seq, c.enc.state, nanos(c.now), c.id, last, string(c.phase))); ok || err != nil {
		return ok, err
	}
	upd, err := w.stmt(ctx, s.hot.updateState, updateStateSQL)
	if err != nil {
		return false, err
	}
	return affected(upd.ExecContext(ctx, string(c.phase), c.seq, c.enc.state, nanos(c.now), c.id, last))
}

// affected reports whether an UPDATE changed a row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// continues reports whether events (and ExpectSeq) continue a log whose
// last event is last.
func continues(last int64, o commitOptions, events []canary.Event) bool {
	if o.expectSeq != nil && *o.expectSeq != last {
		return false
	}
	for i, ev := range events {
		if ev.Seq != last+1+int64(i) {
			return false
		}
	}
	return true
}

// refuse returns why a commit does not continue its rollout's log, having
// written nothing: not found, or checkSeq's conflict.
func (s *Store) refuse(ctx context.Context, w *wtx, c *commit) error {
	sel, err := w.stmt(ctx, s.hot.selectSeq, selectSeqSQL)
	if err != nil {
		return err
	}
	var last int64
	err = sel.QueryRowContext(ctx, c.id).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return clean(notFound(c.id))
	}
	if err != nil {
		return err
	}
	what := fmt.Sprintf("rollout %d", c.id)
	if err := checkSeq(what, last, c.o, c.seq, c.events); err != nil {
		return clean(err)
	}
	// Unreachable: the log ends where the commit begins, yet the fenced
	// UPDATE matched nothing.
	return clean(canary.Errorf(canary.ECONFLICT, "%s changed during the commit", what))
}

// checkSeq refuses a write that does not continue a log whose last event
// is last, or whose snapshot's EventSeq (eventSeq) is not its last event's.
func checkSeq(what string, last int64, o commitOptions, eventSeq int64, events []canary.Event) error {
	if o.expectSeq != nil && *o.expectSeq != last {
		return canary.Errorf(canary.ECONFLICT,
			"%s is at event %d, not the expected %d: it changed since it was read", what, last, *o.expectSeq)
	}
	for i, ev := range events {
		if want := last + 1 + int64(i); ev.Seq != want {
			return canary.Errorf(canary.ECONFLICT,
				"%s is at event %d: event seq %d where %d was expected (a stale or concurrent writer)", what, last, ev.Seq, want)
		}
	}
	if want := last + int64(len(events)); eventSeq != want {
		return canary.Errorf(canary.ECONFLICT,
			"%s: state eventSeq %d disagrees with its log (%d)", what, eventSeq, want)
	}
	return nil
}

// encoded is a snapshot and its events' bodies in their stored forms
// (see codec.go): a []byte (a BLOB) when compressed, else the JSON text
// as a string (TEXT, which SQLite's JSON functions read). Both share the
// bytes of pooled buffers (saving a copy of each, and the buffers):
// nothing may hold them after release, which comes once the write is
// done (the driver copies them when it binds them).
type encoded struct {
	state  any
	events []any
	buf    *bytes.Buffer
	z      *[]byte
}

var (
	encodeBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	bodyBufs   = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
)

// encode marshals the snapshot and each event before a transaction
// starts, as json.Marshal does (by appendStateJSON and appendEventJSON,
// which fall back to encoding/json), and compresses them: the snapshot when it
// is at least stateCompressMin bytes of JSON, every event body.
func encode(st *canary.State, events []canary.Event) (encoded, error) {
	e := encoded{buf: encodeBufs.Get().(*bytes.Buffer), z: bodyBufs.Get().(*[]byte)}
	enc := json.NewEncoder(e.buf)
	ends := make([]int, 0, 8)
	if b, ok := appendStateJSON(e.buf.AvailableBuffer(), st); ok {
		e.buf.Write(append(b, '\n')) // as Encode ends it
	} else if err := enc.Encode(st); err != nil {
		e.release()
		return encoded{}, fmt.Errorf("encode state: %w", err)
	}
	ends = append(ends, e.buf.Len())
	for i := range events {
		if b, ok := appendEventJSON(e.buf.AvailableBuffer(), &events[i]); ok {
			e.buf.Write(append(b, '\n'))
		} else if err := enc.Encode(&events[i]); err != nil {
			e.release()
			return encoded{}, fmt.Errorf("encode event %d: %w", events[i].Seq, err)
		}
		ends = append(ends, e.buf.Len())
	}
	b := e.buf.Bytes()
	text := func(i int) []byte { // without Encode's newline
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		return b[start : ends[i]-1]
	}
	// Compress into z first and slice it afterwards: z may move while it
	// grows. zends[0] is the snapshot's end (0: stored as text).
	z := (*e.z)[:0]
	zends := make([]int, len(ends))
	if st := text(0); len(st) >= stateCompressMin {
		z = compressState(z, st)
	}
	zends[0] = len(z)
	for i := 1; i < len(ends); i++ {
		z = compressBody(z, text(i))
		zends[i] = len(z)
	}
	*e.z = z
	stored := func(i int) any {
		start := 0
		if i > 0 {
			start = zends[i-1]
		}
		body := z[start:zends[i]:zends[i]]
		if body[0] == '{' {
			return unsafe.String(&body[0], len(body)) // TEXT, as before
		}
		return body
	}
	if zends[0] == 0 {
		st := text(0)
		e.state = unsafe.String(&st[0], len(st))
	} else {
		e.state = stored(0)
	}
	e.events = make([]any, len(events))
	for i := range events {
		e.events[i] = stored(i + 1)
	}
	return e, nil
}

// release returns the buffers to their pools (unless they grew large).
func (e encoded) release() {
	e.releaseBuf()
	if cap(*e.z) <= 64<<10 {
		*e.z = (*e.z)[:0]
		bodyBufs.Put(e.z)
	}
}

// releaseBuf returns buf to its pool (unless it grew large).
func (e encoded) releaseBuf() {
	if e.buf.Cap() <= 64<<10 {
		e.buf.Reset()
		encodeBufs.Put(e.buf)
	}
}

// insertEvents appends events (already encoded as bodies).
func (s *Store) insertEvents(ctx context.Context, w *wtx, id int64, events []canary.Event, bodies []any) error {
	if len(events) == 0 {
		return nil
	}
	ins, err := w.stmt(ctx, s.hot.insertEvent, insertEventSQL)
	if err != nil {
		return err
	}
	for i, ev := range events {
		if _, err := ins.ExecContext(ctx, id, ev.Seq, nanos(ev.Time), string(ev.Type), bodies[i]); err != nil {
			return err
		}
	}
	return nil
}

// validName accepts namespace/name with both parts non-empty.
func validName(name string) error {
	ns, n, ok := strings.Cut(name, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return canary.Errorf(canary.EINVALID, "rollout name %q is not namespace/name", name)
	}
	return nil
}

// rolloutCols are the columns scanRollout reads, in order.
const rolloutCols = `id, name, generation, plan, plan_sha256, state, created_at, updated_at`

// scanRollout reads one row of rolloutCols.
func scanRollout(row interface{ Scan(...any) error }) (Rollout, error) {
	var r Rollout
	var state []byte
	var created, updated int64
	if err := row.Scan(&r.ID, &r.Name, &r.Generation, &r.Plan, &r.PlanSHA256, &state, &created, &updated); err != nil {
		return Rollout{}, err
	}
	buf := encodeBufs.Get().(*bytes.Buffer)
	text, err := bodyJSON(state, buf)
	defer encoded{buf: buf}.releaseBuf()
	if err == nil {
		err = json.Unmarshal(text, &r.State)
	}
	if err != nil {
		return Rollout{}, fmt.Errorf("decode state of rollout %d: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
	return r, nil
}

// Get returns rollout id, or code not_found.
func (s *Store) Get(ctx context.Context, id int64) (Rollout, error) {
	var r Rollout
	err := s.read(ctx, fmt.Sprintf("get rollout %d", id), func(tx *sql.Tx) error {
		var err error
		r, err = scanRollout(tx.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(id)
		}
		return err
	})
	return r, err
}

// Latest returns the highest generation of name, or code not_found (whose
// message says so when retention removed it: PruneBatch).
func (s *Store) Latest(ctx context.Context, name string) (Rollout, error) {
	var r Rollout
	err := s.read(ctx, "get rollout "+name, func(tx *sql.Tx) error {
		var err error
		r, err = scanRollout(tx.QueryRowContext(ctx, `SELECT `+rolloutCols+
			` FROM rollouts WHERE name = ? ORDER BY generation DESC LIMIT 1`, name))
		if errors.Is(err, sql.ErrNoRows) {
			if err := prunedError(ctx, tx, name); err != nil {
				return err
			}
			return canary.Errorf(canary.ENOTFOUND, "rollout %s not found", name)
		}
		return err
	})
	return r, err
}
