package manager_test

import (
	"context"
	"errors"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/canarytest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
	"github.com/canary-dev/canary/store/storetest"
)

// notifPlan has two audiences, each with a webhook, wanting every event.
const notifPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: notes, namespace: team}
spec:
  version: v1
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: 1m}, {weight: 100}]
  rules: [{metric: errorRate, above: 5%, action: rollback-immediate}]
  notify:
    - {audience: eng, webhook: {url: "http://127.0.0.1:3/eng"}}
    - {audience: ops, webhook: {url: "http://127.0.0.1:3/ops"}}
`

// seedNotified stores rollout team/notes with n events, each queuing a
// notification per audience; eng's are delivered, ops' fail once with a
// 500 and a long body (retried in a minute) and ops' last is given up
// with a 410. It returns the items' keys by audience, oldest first.
func seedNotified(t *testing.T, st *store.Store, clock *canarytest.Clock, n int) map[string][]string {
	return storetest.SeedOutbox(t, st, clock, storetest.Outbox{Name: "team/notes", Plan: notifPlan, Events: n, Deliver: "eng",
		Failure: "webhook http://127.0.0.1:3/… answered 500 Internal Server Error: " + strings.Repeat("é", 400),
		GiveUp:  "webhook http://127.0.0.1:3/… answered 410 Gone (not retried: retrying cannot fix this)",
		Retry:   time.Minute})
}

func TestNotificationsFromTheOutbox(t *testing.T) {
	clock := canarytest.NewClock(time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC))
	st, err := store.OpenConfig(t.Context(), store.Config{Path: filepath.Join(t.TempDir(), "s.db"), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys := seedNotified(t, st, clock, 150) // 300 notifications
	now := clock.Now()
	m, err := manager.New(manager.Config{Store: st, Providers: func(context.Context, *canary.Plan) (manager.Providers, error) {
		return manager.Providers{}, errors.New("no runner in this test")
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	page, err := m.Notifications(ctx, "team/notes", api.NotificationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := api.NotificationCounts{Total: 300, Pending: 149, Delivered: 150, Dead: 1, Retrying: 149}
	if page.Counts != wantCounts {
		t.Errorf("counts %+v, want %+v", page.Counts, wantCounts)
	}
	// Bounded: the default limit, newest first, the rest counted.
	if len(page.Items) != api.DefaultNotificationLimit || page.More != 300-api.DefaultNotificationLimit {
		t.Fatalf("%d items and %d more, want %d and %d", len(page.Items), page.More, api.DefaultNotificationLimit, 300-api.DefaultNotificationLimit)
	}
	newest := page.Items[0]
	if newest.Key != keys["ops"][149] || newest.Status != canary.OutboxDead || !newest.Failed || newest.Attempts != 1 ||
		newest.Event != canary.EvStepStarted || newest.EventSeq != 151 || newest.Channel != "webhook" ||
		!strings.Contains(newest.LastError, "410 Gone") || !newest.FinishedAt.Equal(now) || !newest.NextAttempt.IsZero() {
		t.Errorf("newest %+v, want ops' last one given up after 1 attempt with its 410", newest)
	}

	failed, err := m.Notifications(ctx, "team/notes", api.NotificationOptions{Status: api.FilterFailed, Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed.Items) != 150 || failed.More != 0 || failed.Counts != wantCounts {
		t.Fatalf("failed: %d items, %d more, counts %+v; want 150, 0, the same counts", len(failed.Items), failed.More, failed.Counts)
	}
	retry := failed.Items[1]
	if retry.Status != canary.OutboxPending || !retry.Failed || !retry.NextAttempt.Equal(now.Add(time.Minute)) || !retry.FinishedAt.IsZero() {
		t.Errorf("retried item %+v: want pending, failed, next attempt in a minute", retry)
	}
	if len(retry.LastError) > 504 || !strings.HasSuffix(retry.LastError, "é…") {
		t.Errorf("long error cut to %d bytes, ending %q: want at most 500 bytes and whole characters", len(retry.LastError), retry.LastError[len(retry.LastError)-8:])
	}

	delivered, err := m.Notifications(ctx, "team/notes", api.NotificationOptions{Status: api.FilterDelivered, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(delivered.Items) != 2 || delivered.More != 148 {
		t.Fatalf("delivered: %d items, %d more; want 2 and 148", len(delivered.Items), delivered.More)
	}
	if d := delivered.Items[1]; d.Key != keys["eng"][148] || d.Audience != "eng" || d.Failed || d.LastError != "" || d.FinishedAt.IsZero() {
		t.Errorf("second newest delivered %+v", d)
	}

	if _, err := m.Notifications(ctx, "team/nope", api.NotificationOptions{}); canary.ErrorCode(err) != canary.ENOTFOUND {
		t.Errorf("unknown rollout: %v, want not_found", err)
	}
	if _, err := m.Notifications(ctx, "team/notes", api.NotificationOptions{Status: "lost"}); canary.ErrorCode(err) != canary.EINVALID {
		t.Errorf("unknown status: %v, want invalid", err)
	}
}
