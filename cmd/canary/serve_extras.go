package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/store"
)

// outboxFor turns committed events into notification outbox items (none
// until notification delivery is wired).
func outboxFor(*canary.Plan, int64, []canary.Event) []store.OutboxItem { return nil }

// startBackground starts serve's background workers (notification
// delivery).
func startBackground(context.Context, *store.Store, *slog.Logger) {}

// mountExtras adds the flag service and other handlers next to the API.
func mountExtras(api http.Handler, _ *store.Store) http.Handler { return api }
