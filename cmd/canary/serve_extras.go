package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
	"github.com/canary-dev/canary/web"
	"github.com/prometheus/client_golang/prometheus"
)

// outboxFor turns committed events into notification outbox items, written
// in the same transaction as the events, keyed by the database's UUID so
// that no two servers send the same key.
func outboxFor(st *store.Store) func(p *canary.Plan, id int64, events []canary.Event) []canary.OutboxItem {
	uuid := st.UUID()
	return func(p *canary.Plan, id int64, events []canary.Event) []canary.OutboxItem {
		return notify.OutboxItemsIn(uuid, p, id, events)
	}
}

// startBackground starts serve's background workers: notification
// delivery from the outbox, with the senders' options (the owner's
// secret sources and outbound policy). Delivery outlives ctx: the
// returned drain, called at shutdown, delivers what is due for up to
// grace (a second SIGINT or SIGTERM stops waiting), then stops it.
func startBackground(ctx context.Context, st *store.Store, log *slog.Logger, reg prometheus.Registerer, senders notify.Options) (drain func(grace time.Duration), err error) {
	d, err := notify.NewDeliverer(notify.Config{
		Store: st,
		Plan: func(id int64) (*canary.Plan, error) {
			r, err := st.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			return plan.Parse(r.Name, r.Plan)
		},
		Senders:    senders.New,
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(dctx); err != nil && dctx.Err() == nil {
			log.Error("notification delivery stopped", "err", err)
		}
	}()
	return func(grace time.Duration) {
		sctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// Stop claiming, let the sends in flight finish (each bounded by
		// the send timeout) and record them, so one a receiver accepted is
		// not sent again by the next canary serve; a signal cuts them.
		defer func() {
			d.Stop()
			select {
			case <-done:
			case <-sctx.Done():
			}
			cancel()
			<-done
		}()
		if grace <= 0 {
			return
		}
		wctx, stopWait := context.WithTimeout(sctx, grace)
		defer stopWait()
		deadline := time.Now().Add(grace)
		left := d.Drain(wctx, func(it canary.OutboxItem) bool { return it.NotBefore.Before(deadline) })
		if len(left) > 0 {
			log.Warn("notifications left queued at shutdown; the next canary serve on this --state sends them",
				"count", len(left), "grace", grace)
		}
	}, nil
}

// flagRoutes mounts the flag service (the runbook's /feature-flags API
// and OFREP for applications) next to the API (web.Config.Mount), behind
// the same tokens and rate limit: reads and evaluations need a viewer,
// changes an operator. The web dashboard wraps both at /; its pages call
// the API with the browser's token.
func flagRoutes(fl *flags.Handler) map[string]http.Handler {
	return map[string]http.Handler{"/feature-flags": fl, "/feature-flags/": fl, "/ofrep/": fl}
}

// flagService builds the flag service over the state database.
func flagService(st flags.Store, tokens *web.Tokens, insecure bool, log *slog.Logger) (*flags.Handler, error) {
	auth := web.Authorizer(tokens, insecure)
	return flags.NewHandler(flags.Config{Store: st, Logger: log,
		Authorize: func(r *http.Request, write bool) (string, error) {
			need := web.RoleViewer
			if write {
				need = web.RoleOperator
			}
			actor, err := auth(r, need)
			if errors.Is(err, web.ErrForbidden) {
				return "", fmt.Errorf("%w: %v", flags.ErrForbidden, err)
			}
			if actor != "" {
				actor = "token " + actor
			}
			return actor, err
		}})
}
