package api

import (
	"context"
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/canary-dev/canary"
)

// Notifications bounds.
const (
	// DefaultNotificationLimit is how many notifications Notifications
	// returns when NotificationOptions.Limit is 0.
	DefaultNotificationLimit = 100
	// MaxNotificationLimit is the most it returns at once.
	MaxNotificationLimit = 1000
	// maxErrorText bounds a notification's LastError as shown.
	maxErrorText = 500
)

// NotificationFilter keeps notifications of one kind. Besides the store's
// statuses (pending, claimed, delivered, dead) it has FilterFailed: the
// notifications whose last attempt failed, retried (pending) or given up
// (dead).
type NotificationFilter string

// The filters of NotificationOptions.Status.
const (
	FilterAll       NotificationFilter = ""
	FilterPending   NotificationFilter = NotificationFilter(canary.OutboxPending)
	FilterClaimed   NotificationFilter = NotificationFilter(canary.OutboxClaimed)
	FilterDelivered NotificationFilter = NotificationFilter(canary.OutboxDelivered)
	FilterDead      NotificationFilter = NotificationFilter(canary.OutboxDead)
	FilterFailed    NotificationFilter = "failed"
)

// Valid reports whether f is one of the filters.
func (f NotificationFilter) Valid() bool {
	switch f {
	case FilterAll, FilterPending, FilterClaimed, FilterDelivered, FilterDead, FilterFailed:
		return true
	}
	return false
}

// NotificationOptions select what Notifications returns.
type NotificationOptions struct {
	// Status keeps one kind of notification (FilterAll: every one).
	Status NotificationFilter
	// Limit caps the items returned, newest first: 0 means
	// DefaultNotificationLimit; above MaxNotificationLimit is
	// MaxNotificationLimit.
	Limit int
}

// Notification is one notification of a rollout to one audience on one
// channel, as the API shows it (a canary.OutboxItem without its payload).
type Notification struct {
	// Key identifies it, the same on every retry:
	// rollout/<database UUID>.<id>/event/<seq>/<audience>/<channel>.
	Key      string `json:"key"`
	Audience string `json:"audience"`
	Channel  string `json:"channel"`
	// Event is the type of the event it tells about and EventSeq that
	// event's Seq (empty and 0 when the payload does not say).
	Event    canary.EventType `json:"event,omitempty"`
	EventSeq int64            `json:"eventSeq,omitempty"`
	// Status is the store's: pending (queued, or waiting for a retry after
	// a failure: then LastError is set), claimed (being sent), delivered,
	// dead (given up after its last attempt).
	Status canary.OutboxStatus `json:"status"`
	// Failed is true when the last attempt failed: a pending item that will
	// be retried at NextAttempt, or a dead one.
	Failed bool `json:"failed,omitempty"`
	// Attempts counts the delivery attempts so far.
	Attempts int `json:"attempts"`
	// LastError is the last failed attempt's error as the deliverer
	// recorded it (receivers' answers are scrubbed of secrets and URLs
	// redacted before they are stored), cut to 500 bytes.
	LastError string `json:"lastError,omitempty"`
	// CreatedAt is when it was queued; FinishedAt when it was delivered or
	// given up; NextAttempt, for a pending item, when it is sent (again).
	CreatedAt   time.Time `json:"createdAt"`
	FinishedAt  time.Time `json:"finishedAt,omitzero"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
}

// NotificationCounts count a rollout's notifications by status.
type NotificationCounts struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"`
	Claimed   int `json:"claimed"`
	Delivered int `json:"delivered"`
	Dead      int `json:"dead"`
	// Retrying counts the pending ones that failed before (part of
	// Pending).
	Retrying int `json:"retrying"`
}

// NotificationPage is what Notifications returns.
type NotificationPage struct {
	// Counts cover every notification of the rollout, whatever the filter.
	Counts NotificationCounts `json:"counts"`
	// Items are the newest notifications that pass the filter, newest
	// first, at most the limit.
	Items []Notification `json:"items"`
	// More is how many older ones passed the filter but were left out.
	More int `json:"more"`
}

// NotificationReader reads a rollout's notifications; part of API.
type NotificationReader interface {
	// Notifications returns the notifications of the latest generation of
	// rollout name ("namespace/name"), newest first, with their delivery
	// status; an unknown rollout is not_found.
	Notifications(ctx context.Context, name string, opt NotificationOptions) (NotificationPage, error)
}

// PageNotifications counts items (in the order they were queued) and
// returns the newest that pass opt's filter, converted. It is
// manager's Notifications without a store, for other implementations of
// API.
func PageNotifications(items []canary.OutboxItem, opt NotificationOptions) NotificationPage {
	limit := opt.Limit
	if limit <= 0 {
		limit = DefaultNotificationLimit
	}
	limit = min(limit, MaxNotificationLimit)
	page := NotificationPage{Items: []Notification{}}
	for _, it := range slices.Backward(items) {
		n := notification(it)
		page.Counts.add(n)
		if !opt.Status.keeps(n) {
			continue
		}
		if len(page.Items) < limit {
			n.Event, n.EventSeq = eventOf(it.Payload) // only for the items shown
			page.Items = append(page.Items, n)
		} else {
			page.More++
		}
	}
	return page
}

func (c *NotificationCounts) add(n Notification) {
	c.Total++
	switch n.Status {
	case canary.OutboxPending:
		c.Pending++
		if n.Failed {
			c.Retrying++
		}
	case canary.OutboxClaimed:
		c.Claimed++
	case canary.OutboxDelivered:
		c.Delivered++
	case canary.OutboxDead:
		c.Dead++
	}
}

func (f NotificationFilter) keeps(n Notification) bool {
	switch f {
	case FilterAll:
		return true
	case FilterFailed:
		return n.Failed
	}
	return string(n.Status) == string(f)
}

// notification converts an outbox item but for its event (eventOf).
func notification(it canary.OutboxItem) Notification {
	n := Notification{Key: it.Key, Audience: it.Audience, Channel: it.Channel, Status: it.Status,
		Attempts: it.Attempts, LastError: it.LastError, CreatedAt: it.CreatedAt, FinishedAt: it.FinishedAt}
	if len(n.LastError) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(n.LastError[cut]) {
			cut--
		}
		n.LastError = n.LastError[:cut] + "…"
	}
	switch it.Status {
	case canary.OutboxPending:
		n.Failed = it.LastError != ""
		n.NextAttempt = it.NotBefore
		if n.NextAttempt.IsZero() {
			n.NextAttempt = it.CreatedAt
		}
	case canary.OutboxDead:
		n.Failed = true
	}
	return n
}

// eventOf reads the type and Seq of the event a payload tells about.
// Payloads of notify.OutboxItems are a notify.Message, whose "event" is
// the canary.Event; any other payload has none.
func eventOf(payload []byte) (canary.EventType, int64) {
	var p struct {
		Event struct {
			Seq  int64            `json:"seq"`
			Type canary.EventType `json:"type"`
		} `json:"event"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return "", 0
	}
	return p.Event.Type, p.Event.Seq
}

// NotificationOf converts an outbox item as the API shows it, with the
// event its payload tells about.
func NotificationOf(it canary.OutboxItem) Notification {
	n := notification(it)
	n.Event, n.EventSeq = eventOf(it.Payload)
	return n
}
