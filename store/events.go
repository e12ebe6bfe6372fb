package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/canary-dev/canary"
)

// Page sizes for Events.
const (
	// DefaultEventsLimit is the page size when none is given.
	DefaultEventsLimit = 1000
	// MaxEventsLimit is the largest page size.
	MaxEventsLimit = 10000
)

// Events returns rollout id's events with Seq > afterSeq, in order, at most
// limit of them (limit ≤ 0 means DefaultEventsLimit; at most
// MaxEventsLimit). Pass the last returned Seq as afterSeq for the next page.
// An unknown rollout is code not_found.
func (s *Store) Events(ctx context.Context, id int64, afterSeq int64, limit int) ([]canary.Event, error) {
	if limit <= 0 {
		limit = DefaultEventsLimit
	}
	limit = min(limit, MaxEventsLimit)
	var out []canary.Event
	err := s.read(ctx, fmt.Sprintf("read events of rollout %d", id), func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx,
			`SELECT body FROM events WHERE rollout_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, afterSeq, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		var body sql.RawBytes
		var text bytes.Buffer
		for rows.Next() {
			if err := rows.Scan(&body); err != nil {
				return err
			}
			var ev canary.Event
			if err := decodeBody(body, &ev, &text); err != nil {
				return err
			}
			out = append(out, ev)
		}
		if err := rows.Err(); err != nil || len(out) > 0 {
			return err
		}
		// Nothing new: tell an empty page from a missing rollout.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM rollouts WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return notFound(id)
		}
		return nil
	})
	return out, err
}

// Subscribe returns a channel that receives a value after each successful
// Create, Commit or Delete of rollout id (id 0: of any rollout), and a
// cancel func that releases it. Notifications coalesce: the channel holds
// at most one, so a slow reader wakes once and reads every new event with
// Events. The channel is closed by cancel and by Close. Only writes made
// through this Store are seen.
func (s *Store) Subscribe(id int64) (<-chan struct{}, func()) {
	return s.hub.subscribe(id)
}

// hub fans commit notifications out to subscribers.
type hub struct {
	mu     sync.Mutex
	subs   map[int64]map[chan struct{}]struct{}
	closed bool
}

func newHub() *hub {
	return &hub{subs: make(map[int64]map[chan struct{}]struct{})}
}

func (h *hub) subscribe(id int64) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	if h.subs[id] == nil {
		h.subs[id] = make(map[chan struct{}]struct{})
	}
	h.subs[id][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[id][ch]; !ok {
			return // already cancelled, or closed by Close
		}
		delete(h.subs[id], ch)
		if len(h.subs[id]) == 0 {
			delete(h.subs, id)
		}
		close(ch)
	}
}

// notify wakes rollout id's subscribers and the subscribers of every
// rollout, without blocking.
func (h *hub) notify(id int64) {
	keys := []int64{id, 0}
	if id == 0 {
		keys = keys[:1]
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, key := range keys {
		for ch := range h.subs[key] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, set := range h.subs {
		for ch := range set {
			close(ch)
		}
	}
	h.subs = nil
}
