package notify

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/canary-dev/canary"
)

// The channel names, as Channels returns them and outbox items carry them.
const (
	ChannelSlack     = "slack"
	ChannelEmail     = "email"
	ChannelWebhook   = "webhook"
	ChannelPagerDuty = "pagerduty"
)

// PagerDuty event actions (Message.Action).
const (
	ActionTrigger = "trigger"
	ActionResolve = "resolve"
)

// EventTest is the type of the event `canary notify test` sends.
const EventTest canary.EventType = "test"

// Message is one event for one audience on one channel: what an outbox
// item's payload holds and what a Sender sends.
type Message struct {
	// Key deduplicates deliveries: the same for every retry of this
	// message, unique across rollouts (see Key).
	Key string `json:"key"`
	// RolloutID is the store's rollout ID; 0 when routed without a store
	// (Route, notify test, canary operator).
	RolloutID int64 `json:"rolloutID,omitempty"`
	// UID identifies the rollout across every server: the Rollout object's
	// Kubernetes UID under canary operator, a random run ID under canary
	// run without --state, <database UUID>.<RolloutID> under canary serve
	// and canary run --state (StoreUID). A message with a UID
	// has no RolloutID.
	UID string `json:"uid,omitempty"`
	// Namespace is the plan's namespace ("" means default).
	Namespace string `json:"namespace,omitempty"`
	// Version is the canary version the plan rolls out.
	Version string `json:"version,omitempty"`
	// Audience is the plan's audience name.
	Audience string `json:"audience"`
	// Channel is slack, email, webhook or pagerduty.
	Channel string `json:"channel"`
	// Action is trigger or resolve on the pagerduty channel, empty on the
	// others.
	Action string `json:"action,omitempty"`
	// Event is what happened.
	Event canary.Event `json:"event"`
	// Evaluations are, for a stepCompleted event, the step's last
	// evaluation (every rule's canary and stable value), for the per-step
	// summary; the event's own Evaluations when it has them.
	Evaluations []canary.Evaluation `json:"evaluations,omitempty"`
	// Test marks a message from `canary notify test`.
	Test bool `json:"test,omitempty"`
}

// Name is the rollout's namespace/name ("default" when the plan named no
// namespace).
func (m Message) Name() string {
	ns := m.Namespace
	if ns == "" {
		ns = canary.DefaultNamespace
	}
	return ns + "/" + m.Event.Rollout
}

// Incident is the PagerDuty dedup_key shared by every trigger and the
// resolve of one rollout: canary/<namespace>/<name>/<UID> (the rollout
// ID when the message has no UID, "test" for notify test).
func (m Message) Incident() string {
	id := "test"
	switch {
	case m.UID != "":
		id = m.UID
	case m.RolloutID != 0:
		id = fmt.Sprint(m.RolloutID)
	}
	return "canary/" + m.Name() + "/" + id
}

// Key is the dedupe key of event seq of a rollout for an audience's
// channel: rollout/<id>/event/<seq>/<audience>/<channel>. Without a store
// ID (rolloutID 0) the rollout's name stands in for it, which is unique
// only within one run.
func Key(rolloutID int64, rollout string, seq int64, audience, channel string) string {
	if rolloutID == 0 {
		return fmt.Sprintf("%s/%d/%s/%s", rollout, seq, audience, channel)
	}
	return fmt.Sprintf("rollout/%d/event/%d/%s/%s", rolloutID, seq, audience, channel)
}

// KeyUID is the dedupe key of event seq of the rollout whose Kubernetes
// UID is uid, for an audience's channel:
// rollout/<uid>/event/<seq>/<audience>/<channel>, the form of Key with the
// object's UID for the store's ID (what canary operator sends).
func KeyUID(uid string, seq int64, audience, channel string) string {
	return fmt.Sprintf("rollout/%s/event/%d/%s/%s", uid, seq, audience, channel)
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
		cs = append(cs, ChannelSlack)
	}
	if a.Email != nil {
		cs = append(cs, ChannelEmail)
	}
	if a.Webhook != nil {
		cs = append(cs, ChannelWebhook)
	}
	if a.PagerDuty != nil {
		cs = append(cs, ChannelPagerDuty)
	}
	return cs
}

// ends reports whether ev is the last event of a rollout's run: promoted,
// rolled back or failed.
func ends(ev canary.Event) bool {
	switch ev.Type {
	case canary.EvPromoted, canary.EvRolledBack, canary.EvFailed, canary.EvPreChecksFailed:
		return true
	}
	return false
}

// PagerDutyAction says what event ev does to audience a's PagerDuty
// incident for the rollout, "" for nothing:
//   - an event that ends the rollout (promoted, rolledBack, failed,
//     preChecksFailed) resolves it, whatever the audience's filters, so a
//     trigger is never left open;
//   - rollbackStarted triggers it when the audience wants rollbackStarted
//     or rolledBack at the event's urgency: an audience paged "on
//     rolledBack" is paged when the rollback starts, while it matters, and
//     the incident resolves when the rollback is done;
//   - any other event the audience wants triggers it.
func PagerDutyAction(a canary.Audience, ev canary.Event) string {
	switch {
	case ends(ev):
		return ActionResolve
	case ev.Type == canary.EvRollbackStarted:
		done := ev
		done.Type = canary.EvRolledBack
		if Wants(a, ev) || Wants(a, done) {
			return ActionTrigger
		}
		return ""
	case Wants(a, ev):
		return ActionTrigger
	}
	return ""
}

// Route returns the messages ev produces under plan, keyed by the rollout's
// name (see Key).
func Route(plan *canary.Plan, ev canary.Event) []Message {
	return route(plan, 0, ev)
}

// route returns the messages ev produces for rollout rolloutID.
func route(plan *canary.Plan, rolloutID int64, ev canary.Event) []Message {
	var out []Message
	for _, a := range plan.Spec.Notify {
		for _, c := range Channels(a) {
			action := ""
			if c == ChannelPagerDuty {
				if action = PagerDutyAction(a, ev); action == "" {
					continue
				}
			} else if !Wants(a, ev) {
				continue
			}
			out = append(out, Message{
				Key:       Key(rolloutID, ev.Rollout, ev.Seq, a.Audience, c),
				RolloutID: rolloutID, Namespace: plan.Metadata.Namespace, Version: plan.Spec.Version,
				Audience: a.Audience, Channel: c, Action: action, Event: ev, Evaluations: ev.Evaluations,
			})
		}
	}
	return out
}

// Console is a Notifier that writes what would be sent, one line per
// message, instead of sending it: what `canary demo` shows. A PagerDuty
// resolve is shown only after a trigger of the same rollout and audience.
type Console struct {
	// W receives one line per message.
	W io.Writer
	// Println, when set, is used instead of W (a live view's line printer).
	Println func(string)

	mu   sync.Mutex
	open map[string]bool // PagerDuty incidents triggered and not resolved
}

var _ canary.Notifier = (*Console)(nil)

// Notify writes the messages ev produces.
func (c *Console) Notify(_ context.Context, plan *canary.Plan, ev canary.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range Route(plan, ev) {
		line := fmt.Sprintf("    ✉ %s via %s: %s", m.Audience, m.Channel, ev.Message)
		if m.Channel == ChannelPagerDuty {
			incident := m.Incident() + "/" + m.Audience
			if m.Action == ActionResolve {
				if !c.open[incident] {
					continue
				}
				delete(c.open, incident)
				line = fmt.Sprintf("    ✉ %s via %s: resolved: %s", m.Audience, m.Channel, ev.Message)
			} else {
				if c.open == nil {
					c.open = map[string]bool{}
				}
				c.open[incident] = true
			}
		}
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
