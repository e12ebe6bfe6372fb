package manager

import (
	"context"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/store"
)

var _ api.NotificationReader = (*Manager)(nil)

// Notifications implements api.NotificationReader from the store's outbox.
func (m *Manager) Notifications(ctx context.Context, name string, opt api.NotificationOptions) (api.NotificationPage, error) {
	if !opt.Status.Valid() {
		return api.NotificationPage{}, canary.Errorf(canary.EINVALID,
			"notification status %q is not one of pending, claimed, delivered, dead, failed", opt.Status)
	}
	sr, err := m.lookup(ctx, name)
	if err != nil {
		return api.NotificationPage{}, err
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = api.DefaultNotificationLimit
	}
	q := store.OutboxQuery{Status: canary.OutboxStatus(opt.Status), Limit: min(limit, api.MaxNotificationLimit)}
	if opt.Status == api.FilterFailed {
		q.Status, q.Failed = "", true
	}
	// Counted in SQL; only the page's items are read, with their payloads.
	c, items, err := m.cfg.Store.OutboxPage(ctx, sr.ID, q)
	if err != nil {
		return api.NotificationPage{}, err
	}
	page := api.NotificationPage{Items: make([]api.Notification, 0, len(items)), More: c.Matching(q) - len(items),
		Counts: api.NotificationCounts{Total: c.Total, Pending: c.Pending, Claimed: c.Claimed,
			Delivered: c.Delivered, Dead: c.Dead, Retrying: c.Retrying}}
	for _, it := range items {
		page.Items = append(page.Items, api.NotificationOf(it))
	}
	return page, nil
}
