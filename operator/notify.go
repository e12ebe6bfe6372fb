package operator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/notify"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionNotified is False while a notification is failing; its message
// names the audience, the channel and the error (never a secret).
const ConditionNotified = "NotificationsDelivered"

// MaxPendingNotifications bounds status.notifications: beyond it the
// oldest are dropped with a Warning Event (NotificationsDropped).
const MaxPendingNotifications = 100

// Notification is a notification not yet delivered, in the status: it is
// added in the same status write as the event that causes it and sent
// once that write has succeeded, so a leader that dies in between leaves
// it to the next one. It is removed when delivered or given up.
type Notification struct {
	// Message is what is sent; Message.Key is the dedupe key,
	// rollout/<uid>/event/<seq>/<audience>/<channel>, the same on every
	// attempt and on every replica: delivery is at least once.
	Message notify.Message `json:"message"`
	// Attempts counts the failed attempts so far.
	Attempts int `json:"attempts,omitempty"`
	// NextAttempt is when it is tried again (unset: at once).
	NextAttempt *metav1.Time `json:"nextAttempt,omitempty"`
	// LastError is why the last attempt failed (never a secret).
	LastError string `json:"lastError,omitempty"`
}

// enqueue adds the notifications events cause under the rollout's plan to
// the status, in event order, once per key.
func (r *Reconciler) enqueue(ro *rollout, events []canary.Event) {
	if ro.plan == nil || len(ro.plan.Spec.Notify) == 0 {
		return
	}
	s := &ro.status
	uid := string(ro.obj.GetUID())
	for _, m := range notify.Messages(ro.plan, 0, events) {
		m.UID = uid
		m.Key = notify.KeyUID(uid, m.Event.Seq, m.Audience, m.Channel)
		if slices.ContainsFunc(s.Notifications, func(n Notification) bool { return n.Message.Key == m.Key }) {
			continue
		}
		s.Notifications = append(s.Notifications, Notification{Message: m})
	}
	if n := len(s.Notifications) - MaxPendingNotifications; n > 0 {
		ro.dropped += n
		s.Notifications = append([]Notification(nil), s.Notifications[n:]...)
	}
}

// eligible lists the indexes of the notifications that may be sent now or
// at their NextAttempt: a rollout's PagerDuty messages to one audience go
// one at a time, in event order, so a resolve follows its trigger.
func eligible(ns []Notification) []int {
	var out []int
	lane := map[string]bool{}
	for i, n := range ns {
		if n.Message.Channel == notify.ChannelPagerDuty {
			if lane[n.Message.Audience] {
				continue
			}
			lane[n.Message.Audience] = true
		}
		out = append(out, i)
	}
	return out
}

// nextDue is when the first eligible notification is due, zero if none.
func nextDue(ns []Notification, now time.Time) time.Time {
	var at time.Time
	for _, i := range eligible(ns) {
		t := now
		if na := ns[i].NextAttempt; na != nil && na.After(now) {
			t = na.Time
		}
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	return at
}

// outcome is what one attempt did.
type outcome struct {
	i    int
	err  error
	skip bool // a resolve with no incident open: nothing to send
}

// deliver sends the due notifications of the status (written before:
// ro.obj holds the resourceVersion of that write) and records the
// outcomes in the status with a fenced write. It returns when the next
// one is due, zero if none is pending. If ctx ends during the sends
// nothing is recorded: the next reconcile, here or on the next leader,
// sends them again under the same keys.
func (r *Reconciler) deliver(ctx context.Context, ro *rollout) (time.Time, error) {
	s := &ro.status
	now := r.cfg.Clock.Now()
	if ro.plan == nil || len(s.Notifications) == 0 {
		return time.Time{}, nil
	}
	var due []outcome
	for _, i := range eligible(s.Notifications) {
		n := s.Notifications[i]
		if n.NextAttempt != nil && now.Before(n.NextAttempt.Time) {
			continue
		}
		o := outcome{i: i}
		if m := n.Message; m.Channel == notify.ChannelPagerDuty && m.Action == notify.ActionResolve && !slices.Contains(s.PagerDutyOpen, m.Audience) {
			o.skip = true
		}
		due = append(due, o)
	}
	if len(due) == 0 {
		return nextDue(s.Notifications, now), nil
	}
	var wg sync.WaitGroup
	for j := range due {
		if due[j].skip {
			continue
		}
		wg.Go(func() { due[j].err = r.send(ctx, ro, s.Notifications[due[j].i].Message) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return time.Time{}, ctx.Err()
	}
	events := r.record(ro, due, now)
	r.notifiedCondition(ro)
	if err := r.writeStatus(ctx, ro); err != nil {
		return time.Time{}, err
	}
	for _, e := range events {
		r.event(ro.obj, e[0], e[1], e[2])
	}
	return nextDue(s.Notifications, r.cfg.Clock.Now()), nil
}

// send sends m on its audience's channel, bounded by NotifyTimeout.
func (r *Reconciler) send(ctx context.Context, ro *rollout, m notify.Message) error {
	i := slices.IndexFunc(ro.plan.Spec.Notify, func(a canary.Audience) bool { return a.Audience == m.Audience })
	if i < 0 {
		return notify.Permanent(fmt.Errorf("the plan has no audience %q any more", m.Audience))
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.NotifyTimeout)
	defer cancel()
	sec := SecretResolver{Reader: r.cfg.Secrets, Namespace: ro.obj.GetNamespace(), Timeout: r.cfg.CallTimeout, Redactor: r.cfg.Redactor}
	resolve := func(ref canary.SecretRef) (string, error) { return sec.Resolve(sctx, ref) } // within this send
	o := notify.Options{HTTPClient: r.cfg.NotifyHTTPClient, Secrets: resolve, Clock: r.cfg.Clock, Dial: r.cfg.Egress.DialContext}
	snd, err := o.New(ro.plan.Spec.Notify[i], m.Channel)
	if err != nil {
		return err
	}
	err = snd.Send(sctx, m)
	if err != nil && errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("%w (timeout %s)", err, canary.FormatDuration(r.cfg.NotifyTimeout))
	}
	return err
}

// record applies the outcomes to the status and returns the Kubernetes
// Events to emit once it is written (type, reason, message).
func (r *Reconciler) record(ro *rollout, due []outcome, now time.Time) [][3]string {
	s := &ro.status
	var events [][3]string
	done := map[int]bool{}
	for _, o := range due {
		n := &s.Notifications[o.i]
		m := n.Message
		what := fmt.Sprintf("%s via %s: %s (event %d)", m.Audience, m.Channel, m.Event.Type, m.Event.Seq)
		if m.Action != "" {
			what = fmt.Sprintf("%s via %s: %s %s (event %d)", m.Audience, m.Channel, m.Action, m.Event.Type, m.Event.Seq)
		}
		switch {
		case o.skip:
			done[o.i] = true
		case o.err == nil:
			done[o.i] = true
			r.pagerDutyFinished(s, m)
			events = append(events, [3]string{corev1.EventTypeNormal, "NotificationSent", what})
		default:
			n.Attempts++
			n.LastError = o.err.Error()
			if notify.IsPermanent(o.err) || n.Attempts >= r.cfg.NotifyMaxAttempts {
				done[o.i] = true
				r.pagerDutyFinished(s, m)
				events = append(events, [3]string{corev1.EventTypeWarning, "NotificationGivenUp",
					fmt.Sprintf("%s given up after %d attempt(s): %s", what, n.Attempts, n.LastError)})
				continue
			}
			at := now.Add(r.backoff(n.Attempts, notify.RetryAfter(o.err)))
			n.NextAttempt = &metav1.Time{Time: at}
			events = append(events, [3]string{corev1.EventTypeWarning, "NotificationFailed",
				fmt.Sprintf("%s attempt %d of %d failed, retrying at %s: %s", what, n.Attempts, r.cfg.NotifyMaxAttempts,
					at.UTC().Format(time.RFC3339), n.LastError)})
		}
	}
	keep := s.Notifications[:0:0]
	for i, n := range s.Notifications {
		if !done[i] {
			keep = append(keep, n)
		}
	}
	s.Notifications = keep
	return events
}

// pagerDutyFinished notes an incident triggered or resolved: a finished
// (delivered or given up) trigger leaves it open, a resolve closes it.
func (r *Reconciler) pagerDutyFinished(s *Status, m notify.Message) {
	if m.Channel != notify.ChannelPagerDuty {
		return
	}
	s.PagerDutyOpen = slices.DeleteFunc(s.PagerDutyOpen, func(a string) bool { return a == m.Audience })
	if m.Action != notify.ActionResolve {
		s.PagerDutyOpen = append(s.PagerDutyOpen, m.Audience)
	}
}

// notifiedCondition is False while a pending notification has failed.
func (r *Reconciler) notifiedCondition(ro *rollout) {
	s := &ro.status
	for _, n := range s.Notifications {
		if n.LastError != "" {
			msg := fmt.Sprintf("%s via %s: %s (attempt %d; retried)", n.Message.Audience, n.Message.Channel, n.LastError, n.Attempts)
			setCondition(s, ConditionNotified, metav1.ConditionFalse, "DeliveryFailing", msg, ro.obj.GetGeneration(), r.cfg.Clock.Now())
			return
		}
	}
	setCondition(s, ConditionNotified, metav1.ConditionTrue, "Delivered", "every notification due has been delivered or given up", ro.obj.GetGeneration(), r.cfg.Clock.Now())
}

// backoff is the wait after the n-th failed attempt (notify.Backoff with
// NotifyBackoffBase and NotifyBackoffMax).
func (r *Reconciler) backoff(n int, floor time.Duration) time.Duration {
	return notify.Backoff(r.cfg.NotifyBackoffBase, r.cfg.NotifyBackoffMax, n, floor)
}
