package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
	"github.com/prometheus/client_golang/prometheus"
)

// outboxFor turns committed events into notification outbox items, written
// in the same transaction as the events.
func outboxFor(p *canary.Plan, id int64, events []canary.Event) []store.OutboxItem {
	return notify.OutboxItems(p, id, events)
}

// startBackground starts serve's background workers: notification
// delivery from the outbox.
func startBackground(ctx context.Context, st *store.Store, log *slog.Logger, reg prometheus.Registerer, baseURL string) error {
	d, err := notify.NewDeliverer(notify.Config{
		Store: st,
		Plan: func(id int64) (*canary.Plan, error) {
			r, err := st.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			return plan.Parse(r.Name, r.Plan)
		},
		Senders:    notify.Options{BaseURL: baseURL}.New,
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		return err
	}
	go func() {
		if err := d.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("notification delivery stopped", "err", err)
		}
	}()
	return nil
}

// mountExtras adds the flag service and other handlers next to the API.
func mountExtras(api http.Handler, _ *store.Store) http.Handler { return api }
