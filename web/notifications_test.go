package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/canarytest"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
	"github.com/canary-dev/canary/store/storetest"
	"github.com/canary-dev/canary/web"
)

func TestWhoami(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, token string
		want        web.Whoami
	}{
		{"viewer", viewToken, web.Whoami{Name: "ci", Role: web.RoleViewer}},
		{"operator", opToken, web.Whoami{Name: "alice", Role: web.RoleOperator}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/api/v1/whoami", tt.token, "")
			want(t, r, http.StatusOK, "")
			var got web.Whoami
			if err := json.Unmarshal(r.body, &got); err != nil || got != tt.want {
				t.Errorf("whoami %s (%v), want %+v", r.body, err, tt.want)
			}
			if strings.Contains(string(r.body), tt.token) {
				t.Errorf("whoami shows the secret: %s", r.body)
			}
		})
	}
	want(t, e.do("GET", "/api/v1/whoami", "", ""), http.StatusUnauthorized, "unauthenticated")
	want(t, e.do("GET", "/api/v1/whoami", "not-a-token-of-this-server", ""), http.StatusUnauthorized, "unauthenticated")
	want(t, e.do("POST", "/api/v1/whoami", opToken, ""), http.StatusMethodNotAllowed, canary.EINVALID)
	if strings.Contains(e.log.String(), viewToken) || !strings.Contains(e.log.String(), `"route":"GET /api/v1/whoami"`) {
		t.Errorf("access log: want the route and never the token:\n%s", e.log.String())
	}

	insecure := newEnv(t, func(c *web.Config) { c.Tokens = nil; c.Insecure = true })
	r := insecure.do("GET", "/api/v1/whoami", "", "")
	var got web.Whoami
	if err := json.Unmarshal(r.body, &got); err != nil || got != (web.Whoami{Name: "anonymous", Role: web.RoleOperator, Insecure: true}) {
		t.Errorf("whoami without tokens: %d %s", r.status, r.body)
	}
}

// notifPlan has two audiences with a webhook each, wanting every event.
const notifPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 10, hold: 1m}, {weight: 100}]
  rules: [{metric: errorRate, above: 5%, action: rollback-immediate}]
  notify:
    - {audience: eng, webhook: {url: "http://127.0.0.1:9003/eng"}}
    - {audience: ops, webhook: {url: "http://127.0.0.1:9003/ops"}}
`

// storeEnv is the API on a real manager and store holding rollout
// default/web with 2×events notifications: eng's delivered, ops' failed
// and retried, the last ops one given up.
func storeEnv(t testing.TB, events int) *env {
	t.Helper()
	ctx := t.Context()
	clock := canarytest.NewClock(webtestT0)
	st, err := store.OpenConfig(ctx, store.Config{Path: filepath.Join(t.TempDir(), "s.db"), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	storetest.SeedOutbox(t, st, clock, storetest.Outbox{Name: "default/web", Plan: notifPlan, Events: events, Deliver: "eng",
		Failure: "post to webhook http://127.0.0.1:9003/…: answered 500 Internal Server Error", Retry: 4 * time.Second})
	m, err := manager.New(manager.Config{Store: st, Providers: func(context.Context, *canary.Plan) (manager.Providers, error) {
		return manager.Providers{}, errors.New("no runner in this test")
	}})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, func(c *web.Config) { c.API = m })
}

// webtestT0 is a fixed time for golden files.
var webtestT0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

func TestNotificationsRoute(t *testing.T) {
	e := storeEnv(t, 300) // 600 notifications
	const path = "/api/v1/rollouts/default/web/notifications"
	page := func(query, token string) api.NotificationPage {
		t.Helper()
		r := e.do("GET", path+query, token, "")
		want(t, r, http.StatusOK, "")
		var p api.NotificationPage
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return p
	}

	// A viewer reads; the output is bounded whatever the rollout has.
	p := page("", viewToken)
	wantCounts := api.NotificationCounts{Total: 600, Pending: 299, Delivered: 300, Dead: 1, Retrying: 299}
	if p.Counts != wantCounts || len(p.Items) != 100 || p.More != 500 {
		t.Errorf("default page: counts %+v, %d items, %d more; want %+v, 100, 500", p.Counts, len(p.Items), p.More, wantCounts)
	}
	if p = page("?limit=1000", opToken); len(p.Items) != 600 || p.More != 0 {
		t.Errorf("?limit=1000: %d items, %d more; want all 600", len(p.Items), p.More)
	}
	p = page("?status=failed&limit=1000", viewToken)
	if len(p.Items) != 300 {
		t.Errorf("?status=failed: %d items, want ops' 300", len(p.Items))
	}
	for _, n := range p.Items {
		if n.Audience != "ops" || !n.Failed || !strings.Contains(n.LastError, "500 Internal Server Error") {
			t.Fatalf("?status=failed gave %+v", n)
		}
	}
	if p = page("?status=delivered&limit=1", viewToken); len(p.Items) != 1 || p.Items[0].Status != canary.OutboxDelivered || p.More != 299 {
		t.Errorf("?status=delivered&limit=1: %+v", p)
	}

	r := e.do("GET", path+"?status=failed&limit=2", viewToken, "")
	want(t, r, http.StatusOK, "")
	golden(t, "notifications_failed.json", r.body)

	tests := []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"no token", path, "", http.StatusUnauthorized, "unauthenticated"},
		{"unknown rollout", "/api/v1/rollouts/default/nope/notifications", viewToken, http.StatusNotFound, canary.ENOTFOUND},
		{"limit too large", path + "?limit=1001", viewToken, http.StatusBadRequest, canary.EINVALID},
		{"limit zero", path + "?limit=0", viewToken, http.StatusBadRequest, canary.EINVALID},
		{"unknown status", path + "?status=lost", viewToken, http.StatusBadRequest, canary.EINVALID},
		{"bad name", "/api/v1/rollouts/default/We.b/notifications", viewToken, http.StatusBadRequest, canary.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want(t, e.do("GET", tt.path, tt.token, ""), tt.status, tt.code)
		})
	}
}

// BenchmarkNotificationsRoute reads the newest 100 of 2,000 notifications
// (a long rollout notifying two audiences), through HTTP, the manager and
// the store, as the dashboard does after a batch of events.
func BenchmarkNotificationsRoute(b *testing.B) {
	e := storeEnv(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		if r := e.do("GET", "/api/v1/rollouts/default/web/notifications", viewToken, ""); r.status != http.StatusOK {
			b.Fatalf("status %d", r.status)
		}
	}
}
