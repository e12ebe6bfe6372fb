// Package notify tells the plan's audiences about a rollout: it routes each
// event to the audiences whose filters want it, on their channels.
package notify

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/canary-dev/canary"
)

// Message is one event for one audience on one channel.
type Message struct {
	// Key deduplicates deliveries: rollout, event seq, audience, channel.
	Key      string
	Audience string
	Channel  string // slack, email, webhook or pagerduty
	Event    canary.Event
}

// Wants reports whether audience a wants event ev: its type is in a.On
// ("all" or empty means every type except the per-interval evaluations
// and action records) and its urgency is at least a.MinUrgency.
func Wants(a canary.Audience, ev canary.Event) bool {
	if a.MinUrgency != "" && ev.Urgency.Rank() < a.MinUrgency.Rank() {
		return false
	}
	if len(a.On) == 0 || slices.Contains(a.On, "all") {
		return !routine(ev.Type)
	}
	return slices.Contains(a.On, string(ev.Type))
}

// routine events are too frequent to send anyone by default.
func routine(t canary.EventType) bool {
	switch t {
	case canary.EvEvaluated, canary.EvActionIssued, canary.EvActionSucceeded, canary.EvPreCheckPassed:
		return true
	}
	return false
}

// Channels lists the channels an audience has configured.
func Channels(a canary.Audience) []string {
	var cs []string
	if a.Slack != nil {
		cs = append(cs, "slack")
	}
	if a.Email != nil {
		cs = append(cs, "email")
	}
	if a.Webhook != nil {
		cs = append(cs, "webhook")
	}
	if a.PagerDuty != nil {
		cs = append(cs, "pagerduty")
	}
	return cs
}

// Route returns the messages ev produces under plan.
func Route(plan *canary.Plan, ev canary.Event) []Message {
	var out []Message
	for _, a := range plan.Spec.Notify {
		if !Wants(a, ev) {
			continue
		}
		for _, c := range Channels(a) {
			key := fmt.Sprintf("%s/%d/%s/%s", ev.Rollout, ev.Seq, a.Audience, c)
			out = append(out, Message{Key: key, Audience: a.Audience, Channel: c, Event: ev})
		}
	}
	return out
}

// Console is a Notifier that writes what would be sent, one line per
// message, instead of sending it: what `canary demo` shows.
type Console struct {
	W io.Writer
	// Println, when set, is used instead of W (a live view's line printer).
	Println func(string)

	mu sync.Mutex
}

var _ canary.Notifier = (*Console)(nil)

// Notify writes the messages ev produces.
func (c *Console) Notify(_ context.Context, plan *canary.Plan, ev canary.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range Route(plan, ev) {
		line := fmt.Sprintf("    ✉ %s via %s: %s", m.Audience, m.Channel, ev.Message)
		if c.Println != nil {
			c.Println(line)
			continue
		}
		if _, err := fmt.Fprintln(c.W, line); err != nil {
			return err
		}
	}
	return nil
}
