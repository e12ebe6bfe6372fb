package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
)

// Defaults of canary run's notification flags.
const (
	// defaultNotifyGrace is --notify-timeout: how long canary run waits at
	// exit for notifications still being delivered.
	defaultNotifyGrace = 10 * time.Second
	// defaultNotifySend is --notify-send-timeout: how long one send may
	// take.
	defaultNotifySend = notify.DefaultTimeout
)

// claimLease is the outbox claim lease of canary run's store for a send
// timeout: a send cut off by a crash is offered again after it. It must
// stay well above the send timeout (see notify.Config.Timeout).
func claimLease(send time.Duration) time.Duration { return 3 * send }

// runDelivery delivers a foreground rollout's notifications the way canary
// serve does: the events' outbox items are stored, then a notify.Deliverer
// beside the runner sends them with retries, dedupe keys and PagerDuty
// ordering, and records every attempt.
//
// With --state the items are committed in the same transaction as the
// events (runState.Save), so an interrupted or killed run leaves unsent
// ones in the state file and the next canary run on it (--resume)
// sends them once: same keys, rollout/<database UUID>.<id>/event/<seq>/<audience>/<channel>.
//
// Without --state they go to an outbox in a temporary SQLite file removed
// at exit (runDelivery.Save enqueues them): the same Deliverer code, at least
// once within the process, nothing kept after it. The keys are made of a
// random run ID (rollout/run-<hex>/event/…, the form canary operator uses
// with its UIDs) because a temporary store's rollout ID is 1 on every
// run, and receivers dedupe on the key.
type runDelivery struct {
	plan   *canary.Plan
	st     *store.Store
	id     int64  // the rollout's ID in st
	uid    string // without --state: the run ID the keys are made of
	tmpDir string // without --state: the temporary outbox's directory
	state  string // with --state: the state file, for hints
	out    *output

	d           *notify.Deliverer
	cancel      context.CancelFunc
	done        chan struct{}
	sendTimeout time.Duration

	mu          sync.Mutex
	tries       map[string]int  // sends per key in this process
	interrupted map[string]bool // sends cut off by the shutdown
	closed      bool
}

// runDeliveryConfig is what startRunDelivery needs.
type runDeliveryConfig struct {
	plan *canary.Plan
	// state is the --state rollout; nil without --state.
	state *runState
	// statePath is --state, for hints.
	statePath string
	out       *output
	// sendTimeout bounds one send.
	sendTimeout time.Duration
}

// startRunDelivery opens the outbox and starts delivering from it. Without
// --state and without audiences there is nothing to deliver: nil.
func startRunDelivery(ctx context.Context, cfg runDeliveryConfig) (*runDelivery, error) {
	n := &runDelivery{plan: cfg.plan, out: cfg.out, state: cfg.statePath,
		tries: map[string]int{}, interrupted: map[string]bool{}}
	if cfg.state != nil {
		n.st, n.id = cfg.state.st, cfg.state.id
	} else {
		if len(cfg.plan.Spec.Notify) == 0 {
			return nil, nil
		}
		if err := n.openTemp(ctx, cfg.sendTimeout); err != nil {
			return nil, err
		}
	}
	d, err := notify.NewDeliverer(notify.Config{
		Store:   n.st,
		Plan:    n.planOf,
		Senders: n.senders(notify.Options{}.New),
		Timeout: cfg.sendTimeout,
	})
	if err != nil {
		n.closeTemp()
		return nil, err
	}
	// Delivery outlives the rollout's context: Ctrl-C pauses the rollout,
	// and the grace period at exit still sends its notifications.
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.d, n.cancel, n.done = d, cancel, make(chan struct{})
	n.sendTimeout = cmp.Or(cfg.sendTimeout, defaultNotifySend)
	go func() {
		defer close(n.done)
		_ = d.Run(dctx) // fails only when the store is closed under it
	}()
	return n, nil
}

// openTemp creates the temporary outbox of a run without --state.
func (n *runDelivery) openTemp(ctx context.Context, send time.Duration) error {
	dir, err := os.MkdirTemp("", "canary-run-outbox-")
	if err != nil {
		return canary.Errorf(canary.EUNAVAILABLE, "notifications: create a temporary outbox: %v (or use --state FILE, or --no-notify)", err)
	}
	n.tmpDir = dir
	st, err := store.OpenConfig(ctx, store.Config{Path: filepath.Join(dir, "outbox.db"), ClaimLease: claimLease(send)})
	if err != nil {
		n.closeTemp()
		return fmt.Errorf("notifications: open the temporary outbox: %w (or use --state FILE, or --no-notify)", err)
	}
	n.st = st
	canon, err := json.Marshal(n.plan)
	if err != nil {
		n.closeTemp()
		return err
	}
	r, err := st.Create(ctx, n.plan.Metadata.Namespace+"/"+n.plan.Metadata.Name, canon, canary.State{}, nil)
	if err != nil {
		n.closeTemp()
		return fmt.Errorf("notifications: %w", err)
	}
	n.id = r.ID
	var b [8]byte
	_, _ = rand.Read(b[:])
	n.uid = "run-" + hex.EncodeToString(b[:])
	return nil
}

func (n *runDelivery) closeTemp() {
	if n.tmpDir == "" {
		return
	}
	if n.st != nil {
		n.st.Close()
	}
	_ = os.RemoveAll(n.tmpDir)
	n.tmpDir = ""
}

// planOf is the Deliverer's plan lookup: this run's plan, or for items
// an earlier run left in the same --state file, that rollout's stored plan.
func (n *runDelivery) planOf(id int64) (*canary.Plan, error) {
	if id == n.id {
		return n.plan, nil
	}
	r, err := n.st.Get(context.Background(), id)
	if err != nil {
		return nil, err
	}
	return plan.Parse(r.Name, r.Plan)
}

// Save queues the notifications of events in the temporary outbox of a
// run without --state (it is the runner's Store there). It never fails:
// a notification that cannot be queued is shown and the rollout goes on.
func (n *runDelivery) Save(ctx context.Context, _ canary.State, events []canary.Event) error {
	items := n.items(events)
	if len(items) == 0 {
		return nil
	}
	if err := n.st.Enqueue(ctx, items...); err != nil {
		n.out.line(fmt.Sprintf("    ✉ ✗ %d notifications not queued: %v", len(items), err))
	}
	return nil
}

// items are the outbox items of events under the run ID.
func (n *runDelivery) items(events []canary.Event) []canary.OutboxItem {
	var out []canary.OutboxItem
	for _, m := range notify.Messages(n.plan, 0, events) {
		m.UID = n.uid
		m.Key = notify.KeyUID(n.uid, m.Event.Seq, m.Audience, m.Channel)
		payload, err := json.Marshal(m)
		if err != nil {
			continue // a Message always encodes
		}
		out = append(out, canary.OutboxItem{Key: m.Key, RolloutID: n.id, Audience: m.Audience, Channel: m.Channel, Payload: payload})
	}
	return out
}

// senders wraps base so that every send is shown on the terminal.
func (n *runDelivery) senders(base notify.Factory) notify.Factory {
	return func(a canary.Audience, channel string) (notify.Sender, error) {
		s, err := base(a, channel)
		if err != nil {
			return nil, err
		}
		return &shownSender{Sender: s, n: n}, nil
	}
}

// shownSender shows the outcome of each send: ✓, or ✗ with the reason.
type shownSender struct {
	notify.Sender
	n *runDelivery
}

// Send sends m and shows the outcome. A send cut off by the shutdown is
// not shown: it is released for the next run (runDelivery.finish).
func (s *shownSender) Send(ctx context.Context, m notify.Message) error {
	err := s.Sender.Send(ctx, m)
	n := s.n
	n.mu.Lock()
	n.tries[m.Key]++
	tries := n.tries[m.Key]
	cut := err != nil && errors.Is(ctx.Err(), context.Canceled)
	if cut {
		n.interrupted[m.Key] = true
	}
	n.mu.Unlock()
	if !cut {
		n.out.line(n.sendLine(m, err, tries))
	}
	return err
}

// sendLine is the terminal line of one send.
func (n *runDelivery) sendLine(m notify.Message, err error, tries int) string {
	who := m.Audience + " via " + m.Channel
	if (n.uid == "" && m.RolloutID != n.id) || (n.uid != "" && m.UID != n.uid) {
		who += fmt.Sprintf(" (earlier rollout %s #%d)", m.Name(), m.RolloutID)
	}
	what := m.Event.Message
	if m.Action == notify.ActionResolve {
		what = "resolved: " + what
	}
	line := fmt.Sprintf("    ✉ %s: %s", who, what)
	switch {
	case err == nil:
		return line + "  ✓ sent"
	case notify.IsPermanent(err):
		return fmt.Sprintf("%s  ✗ %v (not retried)", line, err)
	case tries >= notify.DefaultMaxAttempts:
		return fmt.Sprintf("%s  ✗ %v (given up after %d attempts)", line, err, tries)
	}
	return fmt.Sprintf("%s  ✗ %v (will retry)", line, err)
}

// finish waits up to grace for this rollout's notifications still being
// delivered (a second Ctrl-C stops waiting), stops the delivery (the
// sends in flight finish and are recorded: see stop), releases the sends
// cut off for the next run and tells w what was not delivered. It never changes the rollout's outcome.
func (n *runDelivery) finish(w io.Writer, grace time.Duration) {
	if n == nil || n.closed {
		return
	}
	ctx := context.Background()
	if left := n.unfinished(ctx); len(left) > 0 && grace > 0 {
		fmt.Fprintf(w, "canary: delivering %d notifications (up to %s; Ctrl-C to stop waiting)\n",
			len(left), canary.FormatDuration(grace))
		n.wait(ctx, grace)
	}
	n.stop(w)
	n.release(ctx)
	n.report(ctx, w)
	n.close()
}

// wait returns when every item of the rollout is delivered or given up,
// after grace, or at an interrupt (notify's Drain).
func (n *runDelivery) wait(ctx context.Context, grace time.Duration) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	n.d.Drain(ctx, func(it canary.OutboxItem) bool { return it.RolloutID == n.id })
}

// unfinished lists the rollout's items not yet delivered or given up.
func (n *runDelivery) unfinished(ctx context.Context) []canary.OutboxItem {
	items, err := n.st.Outbox(ctx, n.id)
	if err != nil {
		return nil
	}
	var out []canary.OutboxItem
	for _, it := range items {
		if it.Status == canary.OutboxPending || it.Status == canary.OutboxClaimed {
			out = append(out, it)
		}
	}
	return out
}

// stop ends the delivery: nothing more is sent, and the sends in flight
// finish (each bounded by --notify-send-timeout) and have their outcomes
// recorded, so a notification a receiver accepted is not sent again by
// the next run on this --state (SMTP has no idempotency key). An interrupt
// meanwhile cuts them: release offers them to the next run then.
func (n *runDelivery) stop(w io.Writer) {
	if n.cancel == nil {
		return
	}
	n.d.Stop()
	if w != nil {
		if sending := n.sending(); sending > 0 {
			fmt.Fprintf(w, "canary: waiting for %d notifications being sent (each up to %s; Ctrl-C to cut them)\n",
				sending, canary.FormatDuration(n.sendTimeout))
		}
	}
	sig, unsignal := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer unsignal()
	select {
	case <-n.done:
	case <-sig.Done():
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

// sending counts the rollout's items being sent now (claimed).
func (n *runDelivery) sending() int {
	c := 0
	for _, it := range n.unfinished(context.Background()) {
		if it.Status == canary.OutboxClaimed {
			c++
		}
	}
	return c
}

// release makes the sends the shutdown cut off, and the rollout's items
// still claimed, due at once for the next run with this --state, instead
// of after the claim's lease. The receiver may have got them: delivery is
// at least once, and the key is the same.
func (n *runDelivery) release(ctx context.Context) {
	if n.tmpDir != "" {
		return // the temporary outbox goes away
	}
	keys := map[string]bool{}
	n.mu.Lock()
	for k := range n.interrupted {
		keys[k] = true
	}
	n.mu.Unlock()
	for _, it := range n.unfinished(ctx) {
		if it.Status == canary.OutboxClaimed {
			keys[it.Key] = true
		}
	}
	now := time.Now()
	for k := range keys {
		_ = n.st.MarkFailed(ctx, k, "canary run exited before the receiver answered; the next canary run with this --state sends it again", now, false)
	}
}

// report tells w how the rollout's notifications ended.
func (n *runDelivery) report(ctx context.Context, w io.Writer) {
	items, err := n.st.Outbox(ctx, n.id)
	if err != nil {
		fmt.Fprintf(w, "canary: notifications: cannot read the outbox: %v\n", err)
		return
	}
	var sent int
	var pending, dead []canary.OutboxItem
	for _, it := range items {
		switch it.Status {
		case canary.OutboxDelivered:
			sent++
		case canary.OutboxDead:
			dead = append(dead, it)
		default:
			pending = append(pending, it)
		}
	}
	if len(items) == 0 {
		return
	}
	if len(pending)+len(dead) == 0 {
		fmt.Fprintf(w, "canary: notifications: %d delivered\n", sent)
		return
	}
	fmt.Fprintf(w, "canary: notifications: %d delivered, %d not delivered:\n", sent, len(pending)+len(dead))
	for _, it := range append(dead, pending...) {
		fmt.Fprintf(w, "  %s\n", undeliveredLine(it))
	}
	switch {
	case len(pending) == 0:
	case n.tmpDir != "":
		fmt.Fprintln(w, "canary: the pending ones are dropped: without --state nothing keeps them (run with --state FILE to send them later)")
	default:
		fmt.Fprintf(w, "canary: the pending ones stay queued in %s: the next `canary run --state %s` (or --resume) sends them\n", n.state, n.state)
	}
}

// undeliveredLine describes an item not delivered: audience, channel,
// event, key and why.
func undeliveredLine(it canary.OutboxItem) string {
	var m notify.Message
	event := "?"
	if json.Unmarshal(it.Payload, &m) == nil {
		event = string(m.Event.Type)
	}
	why := "pending"
	if it.Status == canary.OutboxDead {
		why = "given up"
	}
	if it.LastError != "" {
		why += ": " + strings.TrimSpace(it.LastError)
	} else {
		why += ": not attempted yet"
	}
	return fmt.Sprintf("%s via %s, %s (%s): %s", it.Audience, it.Channel, event, it.Key, why)
}

// close stops the delivery and removes a temporary outbox; safe to call
// again, and on nil.
func (n *runDelivery) close() {
	if n == nil || n.closed {
		return
	}
	n.stop(nil)
	n.closeTemp()
	n.closed = true
}

// resumeFinished is --resume of a rollout that had already finished: a run
// stopped (killed, or its machine lost) after the last decision was saved
// leaves nothing to run, but may leave notifications undelivered. It
// delivers the rollout's pending ones with the plan they were queued
// under, waiting up to --notify-timeout (those an earlier run was sending
// are due again once its claim's lease, 3 × --notify-send-timeout, runs
// out), prints the outcome the rollout had and returns it: the exit code is
// the rollout's (0 promoted, 1 rolled back, 3 failed pre-checks). Traffic
// is not touched.
func resumeFinished(ctx context.Context, f runFlags, p *canary.Plan, saved *runState, out *output, w io.Writer) error {
	st := saved.state
	stored, err := saved.storedPlan()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "canary: %s %s in %s already finished: %s at %s\n", saved.stored.Name, st.Version, f.state,
		st.Phase, saved.stored.UpdatedAt.Local().Format(time.DateTime))
	pending, claimed, err := saved.pending(ctx)
	if err != nil {
		return err
	}
	switch {
	case pending == 0:
		fmt.Fprintln(w, "canary: nothing to resume: no notification of it is pending")
	case f.noNotify:
		fmt.Fprintf(w, "canary: %d of its notifications are pending; not sent (--no-notify): run --resume without it to send them\n", pending)
	default:
		fmt.Fprintf(w, "canary: nothing to run; delivering its %d pending notifications", pending)
		if claimed > 0 {
			fmt.Fprintf(w, " (%d were being sent when the earlier run stopped: due again after its claim's lease, %s)",
				claimed, canary.FormatDuration(claimLease(f.notifySend)))
		}
		fmt.Fprintln(w)
		nt, err := startRunDelivery(ctx, runDeliveryConfig{plan: stored, state: saved, statePath: f.state, out: out, sendTimeout: f.notifySend})
		if err != nil {
			return err
		}
		nt.finish(w, f.notifyGrace)
	}
	if p.Spec.Version != st.Version {
		fmt.Fprintf(w, "canary: the plan now says version %s: to roll it out, run it without --resume\n", p.Spec.Version)
	}
	err = outcome(stored, st, nil)
	if err == nil {
		fmt.Fprintf(w, "canary: %s %s promoted\n", st.Name, st.Version)
	}
	return err
}
