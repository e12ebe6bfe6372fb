package notify

import (
	"context"
	"time"

	"github.com/canary-dev/canary"
)

// drainPoll is how often Drain looks at the outbox between sends: an
// item given up without a send (a plan without that audience) signals
// nothing, and a retry falls due without one.
const drainPoll = 200 * time.Millisecond

// Drain waits, while Run delivers, until no unfinished item (pending or
// claimed) that keep accepts is left, or until ctx ends (the host's grace
// at shutdown: a second interrupt, a deadline). keep nil accepts every
// item. It returns the items still unfinished then, and does not stop
// Run: cancel Run's context after it. canary run drains its rollout's
// items at exit, canary serve every rollout's due ones at shutdown.
func (d *Deliverer) Drain(ctx context.Context, keep func(canary.OutboxItem) bool) []canary.OutboxItem {
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		left := d.unfinished(context.WithoutCancel(ctx), keep)
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return left
		case <-d.progress:
		case <-tick.C:
		}
	}
}

// unfinished lists the outbox's unfinished items that keep accepts; none
// when the outbox cannot be read (there is nothing to wait for then).
func (d *Deliverer) unfinished(ctx context.Context, keep func(canary.OutboxItem) bool) []canary.OutboxItem {
	items, err := d.cfg.Store.Unfinished(ctx)
	if err != nil {
		return nil
	}
	var out []canary.OutboxItem
	for _, it := range items {
		if keep == nil || keep(it) {
			out = append(out, it)
		}
	}
	return out
}

// progressed signals Drain that an item was handled.
func (d *Deliverer) progressed() {
	select {
	case d.progress <- struct{}{}:
	default:
	}
}
