package main

import (
	"github.com/canary-dev/canary"
	"testing"
	"time"

	"github.com/canary-dev/canary/web/webtest"
)

// TestCtlDescribeNotifications: describe ends with the notifications'
// counts and the last failures, each with its audience, channel, event,
// attempts, retry and error.
func TestCtlDescribeNotifications(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	has(t, e.ok("describe", "web"), "\nNotifications:  none\n")

	at := webtest.T0.Add(time.Minute)
	item := func(seq, audience, channel string, status canary.OutboxStatus, attempts int, errText string, next time.Time) canary.OutboxItem {
		return canary.OutboxItem{Key: "rollout/1/event/" + seq + "/" + audience + "/" + channel, Audience: audience, Channel: channel,
			Payload: []byte(`{"event":{"seq":` + seq + `,"type":"stepStarted"}}`), Status: status, Attempts: attempts,
			LastError: errText, NotBefore: next, CreatedAt: at}
	}
	e.api.SetOutbox("default/web",
		item("2", "eng", "slack", canary.OutboxDelivered, 1, "", time.Time{}),
		item("2", "ops", "webhook", canary.OutboxDead, 10, "webhook answered 500 Internal Server Error (gave up after 10 attempts)", time.Time{}),
		item("3", "eng", "slack", canary.OutboxDelivered, 1, "", time.Time{}),
		item("3", "ops", "webhook", canary.OutboxPending, 2, "webhook answered 503 Service Unavailable", webtest.T0.Add(5*time.Minute+40*time.Second)),
		item("4", "eng", "slack", canary.OutboxPending, 0, "", time.Time{}))
	has(t, e.ok("describe", "web"),
		"\nNotifications:  2 sent, 2 failed (1 retrying, 1 given up), 1 queued, 0 sending\n",
		"  ✗ ops via webhook (stepStarted #3): 2 attempts, retry in 40s: webhook answered 503 Service Unavailable\n",
		"  ✗ ops via webhook (stepStarted #2): given up after 10 attempts: webhook answered 500 Internal Server Error (gave up after 10 attempts)\n")
}
