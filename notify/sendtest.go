package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
)

// TestOutcome is the result of a test message on one channel.
type TestOutcome struct {
	// Audience is the plan's audience name.
	Audience string
	// Channel is slack, email, webhook or pagerduty.
	Channel string
	// Err is nil when the receiver accepted the message.
	Err error
}

// SendTest sends a test message on every configured channel of plan's
// audiences (only audience's, when not ""), all at once, each bounded by
// timeout (≤ 0: DefaultTimeout), and returns the outcomes in plan order.
// On PagerDuty the test triggers an info-severity incident and resolves it
// at once. An audience the plan lacks is code invalid.
func SendTest(ctx context.Context, plan *canary.Plan, audience string, senders Factory, timeout time.Duration, now time.Time) ([]TestOutcome, error) {
	if senders == nil {
		senders = Options{}.New
	}
	timeout = positive(timeout, DefaultTimeout)
	var out []TestOutcome
	var auds []canary.Audience
	var names []string
	for _, a := range plan.Spec.Notify {
		names = append(names, a.Audience)
		if audience == "" || a.Audience == audience {
			auds = append(auds, a)
			for _, c := range Channels(a) {
				out = append(out, TestOutcome{Audience: a.Audience, Channel: c})
			}
		}
	}
	switch {
	case len(names) == 0:
		return nil, canary.Errorf(canary.EINVALID, "the plan has no audiences to notify (spec.notify is empty)")
	case len(auds) == 0:
		return nil, canary.Errorf(canary.EINVALID, "the plan has no audience %q (its audiences: %s)", audience, strings.Join(names, ", "))
	}
	var wg sync.WaitGroup
	i := 0
	for _, a := range auds {
		for _, c := range Channels(a) {
			res := &out[i]
			i++
			wg.Go(func() {
				sctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				res.Err = sendTest(sctx, plan, a, c, senders, now)
			})
		}
	}
	wg.Wait()
	return out, nil
}

// sendTest sends one channel's test message: for PagerDuty a trigger,
// then its resolve.
func sendTest(ctx context.Context, plan *canary.Plan, a canary.Audience, channel string, senders Factory, now time.Time) error {
	s, err := senders(a, channel)
	if err != nil {
		return err
	}
	m := TestMessage(plan, a.Audience, channel, now)
	if channel != ChannelPagerDuty {
		return s.Send(ctx, m)
	}
	m.Action = ActionTrigger
	if err := s.Send(ctx, m); err != nil {
		return err
	}
	m.Action = ActionResolve
	if err := s.Send(ctx, m); err != nil {
		return fmt.Errorf("the test incident was opened but not resolved (resolve it in PagerDuty): %w", err)
	}
	return nil
}

// TestMessage is the message `canary notify test` sends to audience on
// channel.
func TestMessage(plan *canary.Plan, audience, channel string, now time.Time) Message {
	how := map[string]string{ChannelSlack: "on Slack", ChannelEmail: "by email", ChannelWebhook: "by webhook",
		ChannelPagerDuty: "on PagerDuty"}[channel]
	ev := canary.Event{Time: now.UTC(), Rollout: plan.Metadata.Name, Type: EventTest, Urgency: canary.UrgencyLow,
		Message: fmt.Sprintf("🧪 Test notification from canary: the %s audience of %s gets this rollout's notifications %s.",
			audience, plan.Metadata.Name, how)}
	ns := plan.Metadata.Namespace
	if ns == "" {
		ns = canary.DefaultNamespace
	}
	return Message{
		Key:       fmt.Sprintf("test/%s/%s/%d/%s/%s", ns, plan.Metadata.Name, now.Unix(), audience, channel),
		Namespace: plan.Metadata.Namespace, Version: plan.Spec.Version,
		Audience: audience, Channel: channel, Event: ev, Test: true,
	}
}
