package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/prometheus/client_golang/prometheus"
)

// Deliverer defaults.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxAttempts  = 10
	DefaultBackoffBase  = 2 * time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultPollInterval = 5 * time.Second
	DefaultConcurrency  = 16
)

// maxRetryAfter caps how long a receiver's Retry-After can postpone a
// message.
const maxRetryAfter = time.Hour

// deferPrefix starts the error text of an attempt that was put back
// because an earlier message must go first; such attempts do not count
// toward MaxAttempts.
const deferPrefix = "waiting for "

// Outbox is what a Deliverer needs of the store that holds the
// notifications: package store's *Store implements it over SQLite.
type Outbox interface {
	// Subscribe signals (coalesced) after every commit that may have
	// queued items; the rollout ID 0 means any. Call cancel when done.
	Subscribe(rolloutID int64) (ch <-chan struct{}, cancel func())
	// ClaimDue leases up to limit items due at now, one attempt each.
	ClaimDue(ctx context.Context, now time.Time, limit int) ([]canary.OutboxItem, error)
	// MarkDelivered records a delivery; MarkFailed a failed attempt, to be
	// retried at retryAt unless final.
	MarkDelivered(ctx context.Context, key string) error
	MarkFailed(ctx context.Context, key, errText string, retryAt time.Time, final bool) error
	// Attempts lists an item's attempts, oldest first.
	Attempts(ctx context.Context, key string) ([]canary.OutboxAttempt, error)
	// Outbox lists a rollout's items in the order they were queued.
	Outbox(ctx context.Context, rolloutID int64) ([]canary.OutboxItem, error)
	// Unfinished lists the items of every rollout not yet delivered or
	// given up (pending or claimed), in the order they were queued.
	Unfinished(ctx context.Context) ([]canary.OutboxItem, error)
}

// Config configures a Deliverer.
type Config struct {
	// Store holds the outbox (a *store.Store in canary serve and canary
	// run). Required.
	Store Outbox
	// Plan returns the plan of a rollout, for its audiences' channel
	// settings. Plans are cached by rollout ID (a rollout's plan never
	// changes). An error with code not_found gives the message up;
	// other errors are retried. Required.
	Plan func(rolloutID int64) (*canary.Plan, error)
	// Senders builds the sender of an audience's channel. Default:
	// Options{}.New (no link, env/file secrets, the default HTTP client).
	Senders Factory
	// Clock tells the time the outbox is claimed and retries are
	// scheduled at. Default: canary.SystemClock.
	Clock canary.Clock
	// Timeout bounds one send. It must be well below the store's
	// ClaimLease (default 1m), or a slow send could be claimed twice.
	// Default: 10s.
	Timeout time.Duration
	// MaxAttempts is how many attempts a message gets before it is given
	// up (status dead, visible in Outbox.Attempts). Default: 10.
	MaxAttempts int
	// BackoffBase is the wait after the first failure; it doubles with
	// each failure up to BackoffMax, and each wait is drawn between half
	// and all of it (jitter), so receivers coming back are not hit by
	// every deliverer at once. A receiver's Retry-After (HTTP 429) is a
	// minimum. Default: 2s.
	BackoffBase time.Duration
	// BackoffMax caps the wait between attempts. Default: 5m (with the
	// other defaults, 10 attempts span about 13 minutes).
	BackoffMax time.Duration
	// PollInterval is how often the outbox is checked without a wake-up
	// (items enqueued by another process, retries scheduled by another
	// deliverer). Commits through the same Store wake the Deliverer at
	// once. Default: 5s.
	PollInterval time.Duration
	// Concurrency is how many sends may be in flight; a slow receiver
	// holds one of them for at most Timeout. Default: 16.
	Concurrency int
	// Logger logs failures (never secrets). Default: discard.
	Logger *slog.Logger
	// Registerer gets canary_notifications_total{channel,outcome} and
	// canary_notification_send_seconds{channel} (optional).
	Registerer prometheus.Registerer
}

// Deliverer sends the outbox's due notifications: see the package doc.
type Deliverer struct {
	cfg Config
	met *metrics

	mu      sync.Mutex
	plans   map[int64]*canary.Plan
	soonest time.Time // the earliest retry this Deliverer scheduled
	// Store faults in a row (a failed claim or result) and the time
	// before which no claim is tried: see storeFailed.
	storeFails int
	pausedTill time.Time
	// progress gets a value (coalesced) after every item handled, for
	// Drain.
	progress chan struct{}
	// stop is closed by Stop.
	stop     chan struct{}
	stopOnce sync.Once
}

// NewDeliverer validates cfg and fills its defaults.
func NewDeliverer(cfg Config) (*Deliverer, error) {
	if cfg.Store == nil || cfg.Plan == nil {
		return nil, errors.New("notify: Deliverer needs a Store and a Plan func")
	}
	if cfg.Senders == nil {
		cfg.Senders = Options{}.New
	}
	if cfg.Clock == nil {
		cfg.Clock = canary.SystemClock{}
	}
	cfg.Timeout = positive(cfg.Timeout, DefaultTimeout)
	cfg.BackoffBase = positive(cfg.BackoffBase, DefaultBackoffBase)
	cfg.BackoffMax = max(positive(cfg.BackoffMax, DefaultBackoffMax), cfg.BackoffBase)
	cfg.PollInterval = positive(cfg.PollInterval, DefaultPollInterval)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Deliverer{cfg: cfg, met: newMetrics(), plans: map[int64]*canary.Plan{}, progress: make(chan struct{}, 1), stop: make(chan struct{})}
	if cfg.Registerer != nil {
		if err := d.met.register(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("notify: register metrics: %w", err)
		}
	}
	return d, nil
}

func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Run delivers until Stop or until ctx ends, and returns nil once the
// sends in flight have returned. After Stop it claims nothing more and
// lets the sends in flight finish (each bounded by Timeout) and records
// their outcomes, so a message a receiver accepted is never sent again.
// Sends interrupted by ctx are not recorded: their claims run out and the
// next Deliverer sends them again (at least once: the receiver may have
// got them, under the same key). It returns an error
// only if the Store is closed under it. Store failures (a claim or a
// result that could not be saved: a full disk, a locked file) are logged
// and back off like failed sends: no claim is tried until the backoff of
// the faults in a row has passed, so a store that cannot record attempts
// never turns into a stream of sends.
func (d *Deliverer) Run(ctx context.Context) error {
	wake, unsubscribe := d.cfg.Store.Subscribe(0)
	defer unsubscribe()
	tick := time.NewTicker(d.cfg.PollInterval)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var armed time.Time
	finished := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	inflight := 0
	stop, stopping := d.stop, false
	for {
		if stopping && inflight == 0 {
			return nil
		}
		if free := d.cfg.Concurrency - inflight; free > 0 && ctx.Err() == nil && !stopping && d.claimable() {
			items, err := d.cfg.Store.ClaimDue(ctx, d.cfg.Clock.Now(), free)
			switch {
			case err != nil && ctx.Err() == nil:
				wait := d.storeFailed()
				d.cfg.Logger.Warn("claim notifications; will retry", "err", err, "retryIn", wait)
			case err == nil:
				d.storeOK()
			}
			for _, lane := range lanes(items) {
				inflight += len(lane)
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.sendLane(ctx, lane, finished)
				}()
			}
		}
		d.armRetry(retry, &armed)
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			stop, stopping = nil, true
		case _, ok := <-wake:
			if !ok {
				return errors.New("notify: the store was closed")
			}
		case <-tick.C:
		case <-retry.C:
			armed = time.Time{}
		case <-finished:
			inflight--
		}
		for drained := false; !drained; {
			select {
			case <-finished:
				inflight--
			default:
				drained = true
			}
		}
	}
}

// sendLane delivers a lane's items one after the other, and puts a value
// in finished for each. After Stop the lane's later items are not begun:
// they stay claimed (canary run releases them; elsewhere the claim's
// lease runs out).
func (d *Deliverer) sendLane(ctx context.Context, lane []canary.OutboxItem, finished chan<- struct{}) {
	for i, it := range lane {
		if i == 0 || !d.stopped() {
			d.deliver(ctx, it)
			d.progressed()
		}
		finished <- struct{}{}
	}
}

// Stop makes Run claim nothing more and return once the sends in flight
// have finished and their outcomes are recorded (see Run). It does not
// wait; safe to call more than once, before or during Run.
func (d *Deliverer) Stop() { d.stopOnce.Do(func() { close(d.stop) }) }

// stopped reports whether Stop was called.
func (d *Deliverer) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// lanes splits claimed items into groups sent one after the other: a
// rollout's PagerDuty messages to one audience share a lane, in event
// order, so a resolve follows its trigger; every other item has a lane of
// its own.
func lanes(items []canary.OutboxItem) [][]canary.OutboxItem {
	var out [][]canary.OutboxItem
	at := map[string]int{}
	for _, it := range items {
		if it.Channel != ChannelPagerDuty {
			out = append(out, []canary.OutboxItem{it})
			continue
		}
		k := fmt.Sprintf("%d/%s", it.RolloutID, it.Audience)
		if i, ok := at[k]; ok {
			out[i] = append(out[i], it)
			continue
		}
		at[k] = len(out)
		out = append(out, []canary.OutboxItem{it})
	}
	for _, i := range at {
		slices.SortStableFunc(out[i], func(a, b canary.OutboxItem) int { return cmp.Compare(eventSeq(a), eventSeq(b)) })
	}
	return out
}

// eventSeq is the Seq of the event behind it, 0 if unreadable.
func eventSeq(it canary.OutboxItem) int64 {
	m, err := decodeItem(it)
	if err != nil {
		return 0
	}
	return m.Event.Seq
}

// armRetry sets t to fire when the earliest retry this Deliverer
// scheduled falls due; *armed is when t fires (zero: not armed).
func (d *Deliverer) armRetry(t *time.Timer, armed *time.Time) {
	d.mu.Lock()
	at := d.soonest
	d.soonest = time.Time{}
	d.mu.Unlock()
	if at.IsZero() || (!armed.IsZero() && !at.Before(*armed)) {
		return
	}
	*armed = at
	t.Reset(max(at.Sub(d.cfg.Clock.Now()), 0))
}

// claimable reports whether no store fault holds claims back; while one
// does, it schedules the Run loop's wake-up for its end.
func (d *Deliverer) claimable() bool {
	d.mu.Lock()
	until := d.pausedTill
	d.mu.Unlock()
	if until.IsZero() || !d.cfg.Clock.Now().Before(until) {
		return true
	}
	d.scheduled(until)
	return false
}

// storeFailed counts a store fault and holds claims back for the backoff
// of the faults in a row (as failed sends of one message back off), which
// it returns.
func (d *Deliverer) storeFailed() time.Duration {
	d.mu.Lock()
	d.storeFails++
	wait := d.backoff(d.storeFails, 0)
	d.pausedTill = d.cfg.Clock.Now().Add(wait)
	d.mu.Unlock()
	return wait
}

// storeOK ends a run of store faults.
func (d *Deliverer) storeOK() {
	d.mu.Lock()
	d.storeFails, d.pausedTill = 0, time.Time{}
	d.mu.Unlock()
}

// scheduled notes a retry at t.
func (d *Deliverer) scheduled(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.soonest.IsZero() || t.Before(d.soonest) {
		d.soonest = t
	}
}

// deliver sends one claimed item and records the outcome.
func (d *Deliverer) deliver(ctx context.Context, it canary.OutboxItem) {
	if d.exhausted(ctx, it) {
		return
	}
	m, err := decodeItem(it)
	var s Sender
	if err == nil {
		s, err = d.sender(cmp.Or(m.RolloutID, it.RolloutID), m)
	}
	if err == nil && m.Channel == ChannelPagerDuty {
		wait, skip, oerr := d.pagerDutyTurn(ctx, it, m)
		switch {
		case oerr != nil:
			err = oerr
		case wait.Key != "":
			d.deferItem(ctx, it, wait)
			return
		case skip:
			s = nil // a resolve with nothing triggered before it: nothing to send
		}
	}
	if err == nil && s != nil {
		sctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		start := time.Now()
		err = s.Send(sctx, m)
		d.met.sent(m.Channel, time.Since(start))
		if err != nil && errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w (timeout %s)", err, canary.FormatDuration(d.cfg.Timeout))
		}
		cancel()
	}
	if ctx.Err() != nil {
		return // stopping: the claim runs out and the message is sent again
	}
	d.record(ctx, it, err)
}

// sender builds the Sender for m's audience and channel under the plan of
// rollout id.
func (d *Deliverer) sender(id int64, m Message) (Sender, error) {
	if id == 0 {
		return nil, Permanent(errors.New("the notification names no rollout, so its channel settings are unknown"))
	}
	p, err := d.plan(id)
	if err != nil {
		return nil, err
	}
	for _, a := range p.Spec.Notify {
		if a.Audience == m.Audience {
			return d.cfg.Senders(a, m.Channel)
		}
	}
	return nil, Permanent(fmt.Errorf("the plan of rollout %d has no audience %q", id, m.Audience))
}

// plan returns rollout id's plan, cached.
func (d *Deliverer) plan(id int64) (*canary.Plan, error) {
	d.mu.Lock()
	p := d.plans[id]
	d.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := d.cfg.Plan(id)
	if err != nil {
		err = fmt.Errorf("plan of rollout %d: %w", id, err)
		if canary.ErrorCode(err) == canary.ENOTFOUND {
			err = Permanent(err)
		}
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.plans) >= 1024 { // a long-lived daemon: forget old rollouts
		clear(d.plans)
	}
	d.plans[id] = p
	return p, nil
}

// pagerDutyTurn keeps a rollout's PagerDuty messages to one audience in
// order: wait is an earlier one not yet finished (delivered or given up),
// zero if none. skip is set for a resolve with no trigger since the last
// resolve: there is no incident to resolve.
func (d *Deliverer) pagerDutyTurn(ctx context.Context, it canary.OutboxItem, m Message) (wait canary.OutboxItem, skip bool, err error) {
	items, err := d.cfg.Store.Outbox(ctx, it.RolloutID)
	if err != nil {
		return wait, false, err
	}
	open := false
	for _, o := range items {
		if o.Key == it.Key {
			break
		}
		if o.Channel != ChannelPagerDuty || o.Audience != it.Audience {
			continue
		}
		if o.Status == canary.OutboxPending || o.Status == canary.OutboxClaimed {
			return o, false, nil
		}
		if om, err := decodeItem(o); err == nil {
			open = om.Action != ActionResolve
		}
	}
	return wait, m.Action == ActionResolve && !open, nil
}

// deferItem puts it back until the earlier message wait is finished: a
// second after wait's next attempt is due, or a second from now while wait
// is being sent. The attempt is recorded but does not count toward
// MaxAttempts.
func (d *Deliverer) deferItem(ctx context.Context, it, wait canary.OutboxItem) {
	at := d.cfg.Clock.Now()
	if wait.Status == canary.OutboxPending && wait.NotBefore.After(at) {
		at = wait.NotBefore
	}
	at = at.Add(min(d.cfg.BackoffBase, time.Second))
	if err := d.cfg.Store.MarkFailed(ctx, it.Key, deferPrefix+wait.Key+" to be delivered first", at, false); err != nil {
		d.cfg.Logger.Warn("defer notification", "key", it.Key, "err", err, "retryIn", d.storeFailed())
		return
	}
	d.met.outcome(it.Channel, "deferred")
	d.scheduled(at)
}

// record marks it delivered, or failed with a retry after a backoff, or
// given up after MaxAttempts or a permanent error.
func (d *Deliverer) record(ctx context.Context, it canary.OutboxItem, sendErr error) {
	log := d.cfg.Logger.With("key", it.Key, "audience", it.Audience, "channel", it.Channel)
	if sendErr == nil {
		if err := d.cfg.Store.MarkDelivered(ctx, it.Key); err != nil {
			// The claim's lease keeps it from being sent again before
			// the lease ends; claims wait for the store to recover.
			log.Warn("mark notification delivered", "err", err, "retryIn", d.storeFailed())
		}
		d.met.outcome(it.Channel, "delivered")
		return
	}
	n := d.attempts(ctx, it)
	final := IsPermanent(sendErr) || n >= d.cfg.MaxAttempts
	text := sendErr.Error()
	switch {
	case IsPermanent(sendErr):
		text += " (not retried: retrying cannot fix this)"
	case final:
		text += fmt.Sprintf(" (gave up after %d attempts)", n)
	}
	at := d.cfg.Clock.Now().Add(d.backoff(n, retryAfter(sendErr)))
	if err := d.cfg.Store.MarkFailed(ctx, it.Key, text, at, final); err != nil {
		log.Warn("mark notification failed", "err", err, "retryIn", d.storeFailed())
		return
	}
	if final {
		d.met.outcome(it.Channel, "dead")
		log.Error("notification given up", "attempts", n, "err", text)
		return
	}
	d.met.outcome(it.Channel, "failed")
	log.Warn("notification failed; will retry", "attempt", n, "retryAt", at, "err", text)
	d.scheduled(at)
}

// exhausted gives it up without sending when its claims, this one
// included, already exceed MaxAttempts. A claim counts as an attempt when
// it is saved, before the send, so claims lost to a crash or a kill mid-send
// (their leases ran out with no result) count too: however often the
// process dies, a message is sent at most MaxAttempts times.
func (d *Deliverer) exhausted(ctx context.Context, it canary.OutboxItem) bool {
	if it.Attempts <= d.cfg.MaxAttempts {
		return false // cheap: no attempt read for the usual case
	}
	n := d.attempts(ctx, it)
	if n <= d.cfg.MaxAttempts {
		return false
	}
	text := fmt.Sprintf("gave up after %d attempts, without sending attempt %d (earlier ones ended without a result: the process stopped mid-send)",
		n-1, n)
	if err := d.cfg.Store.MarkFailed(ctx, it.Key, text, d.cfg.Clock.Now(), true); err != nil {
		d.cfg.Logger.Warn("mark notification failed", "key", it.Key, "err", err, "retryIn", d.storeFailed())
		return true
	}
	d.met.outcome(it.Channel, "dead")
	d.cfg.Logger.Error("notification given up", "key", it.Key, "attempts", n-1, "err", text)
	return true
}

// attempts counts it's attempts so far, this one included, leaving out
// deferrals.
func (d *Deliverer) attempts(ctx context.Context, it canary.OutboxItem) int {
	as, err := d.cfg.Store.Attempts(ctx, it.Key)
	if err != nil {
		return it.Attempts
	}
	n := 0
	for _, a := range as {
		if !strings.HasPrefix(a.Error, deferPrefix) {
			n++
		}
	}
	return n
}

// backoff is the wait after the n-th failed attempt (Backoff with the
// configured base and maximum).
func (d *Deliverer) backoff(n int, floor time.Duration) time.Duration {
	return Backoff(d.cfg.BackoffBase, d.cfg.BackoffMax, n, floor)
}

// Backoff is the wait after the n-th failed attempt of a notification:
// base doubled n-1 times, capped at maxWait, drawn between half and all of
// it, and at least floor (a receiver's Retry-After, capped at an hour).
// canary serve's Deliverer and the operator both wait by it.
func Backoff(base, maxWait time.Duration, n int, floor time.Duration) time.Duration {
	b := maxWait
	if n-1 < 32 {
		b = min(base<<max(n-1, 0), maxWait)
		if b <= 0 { // overflow
			b = maxWait
		}
	}
	b = b/2 + rand.N(b/2+1)
	return max(b, min(floor, maxRetryAfter))
}
