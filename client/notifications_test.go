package client_test

import (
	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/api"

	"net/http"
	"testing"
	"time"

	"github.com/canary-dev/canary/client"
)

func TestNotificationsAndWhoami(t *testing.T) {
	fake, url := serve(t, nil)
	c := newClient(t, url, viewToken)
	ctx := t.Context()
	if _, err := newClient(t, url, opToken).Apply(ctx, []byte(testPlan), false); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)
	fake.SetOutbox("shop/web",
		canary.OutboxItem{Key: "rollout/1/event/2/eng/webhook", Audience: "eng", Channel: "webhook", Status: canary.OutboxDelivered,
			Attempts: 1, CreatedAt: at, FinishedAt: at.Add(time.Second)},
		canary.OutboxItem{Key: "rollout/1/event/2/ops/slack", Audience: "ops", Channel: "slack", Status: canary.OutboxDead,
			Attempts: 10, LastError: "slack answered 500", CreatedAt: at, FinishedAt: at.Add(time.Hour)},
		canary.OutboxItem{Key: "rollout/1/event/3/eng/webhook", Audience: "eng", Channel: "webhook", Status: canary.OutboxPending,
			CreatedAt: at.Add(time.Minute)})

	p, err := c.Notifications(ctx, "shop/web", api.NotificationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Counts != (api.NotificationCounts{Total: 3, Pending: 1, Delivered: 1, Dead: 1}) || len(p.Items) != 3 ||
		p.Items[0].Key != "rollout/1/event/3/eng/webhook" || !p.Items[0].NextAttempt.Equal(at.Add(time.Minute)) {
		t.Errorf("all: %+v", p)
	}
	// The filter and the limit reach the server.
	p, err = c.Notifications(ctx, "shop/web", api.NotificationOptions{Status: api.FilterFailed, Limit: 1})
	if err != nil || len(p.Items) != 1 || p.Items[0].LastError != "slack answered 500" || p.More != 0 {
		t.Errorf("failed: %+v %v", p, err)
	}
	p, err = c.Notifications(ctx, "shop/web", api.NotificationOptions{Limit: 2})
	if err != nil || len(p.Items) != 2 || p.More != 1 {
		t.Errorf("limit 2: %d items, %d more, %v", len(p.Items), p.More, err)
	}
	if _, err := c.Notifications(ctx, "shop/nope", api.NotificationOptions{}); err == nil {
		t.Error("notifications of an unknown rollout: no error")
	} else if code, ce := codeOf(err); code != "not_found" || ce == nil || ce.Status != http.StatusNotFound {
		t.Errorf("unknown rollout: %v (code %s)", err, code)
	}

	for _, tt := range []struct{ token, name, role string }{{viewToken, "ci", "viewer"}, {opToken, "alice", "operator"}} {
		id, err := newClient(t, url, tt.token).Whoami(ctx)
		if err != nil || id != (client.Identity{Name: tt.name, Role: tt.role}) {
			t.Errorf("whoami: %+v %v, want %s %s", id, err, tt.name, tt.role)
		}
	}
	_, err = newClient(t, url, "wrong-secret-0123456789").Whoami(ctx)
	if code, ce := codeOf(err); code != "unauthenticated" || ce == nil || ce.Status != http.StatusUnauthorized {
		t.Errorf("whoami with a wrong token: %v", err)
	}
}
