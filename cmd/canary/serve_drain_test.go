package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
)

const drainPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: drain, namespace: shop}
spec:
  version: v2
  traffic: {proxy: {listen: "127.0.0.1:1", stable: "http://127.0.0.1:2", canary: "http://127.0.0.1:3"}}
  steps: [{weight: 100}]
  rules: [{metric: errorRate, above: 1%%, action: rollback-gradual}]
  notify:
    - {audience: eng, webhook: {url: "%s/hook"}, on: [all]}
`

// TestServeDrainsAtShutdown: canary serve delivers the notifications due
// at shutdown before it exits (notify's Drain, as canary run at exit),
// for at most --notify-timeout. The receiver fails the first attempt;
// the shutdown starts right after it, so the message is only delivered if
// serve waits for its retry (1-2s later). A receiver that always fails
// does not hold the shutdown past --notify-timeout: the item stays pending
// in the state database for the next serve. A send still in flight when
// --notify-timeout runs out is not cut: it finishes and is recorded.
func TestServeDrainsAtShutdown(t *testing.T) {
	for _, tt := range []struct {
		name       string
		alwaysFail bool
		slow       time.Duration // the first attempt is answered (200) this late
		grace      string
		want       canary.OutboxStatus
		hits       int // at least
	}{
		{name: "retry delivered", grace: "20s", want: canary.OutboxDelivered, hits: 2},
		{name: "bounded by --notify-timeout", alwaysFail: true, grace: "3s", want: canary.OutboxPending, hits: 2},
		// A send in flight when the grace runs out finishes and is
		// recorded: the next serve does not send it again.
		{name: "in flight past the grace", slow: 2 * time.Second, grace: "500ms", want: canary.OutboxDelivered, hits: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			hits := 0
			failed := make(chan struct{})
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				hits++
				if hits == 1 {
					close(failed)
				}
				if hits == 1 && tt.slow > 0 {
					mu.Unlock()
					time.Sleep(tt.slow) // taken; the answer comes after serve's grace
					mu.Lock()
					return
				}
				if hits == 1 || tt.alwaysFail {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			defer recv.Close()
			state := filepath.Join(t.TempDir(), "serve.db")
			key := seedPending(t, state, fmt.Sprintf(drainPlan, recv.URL))

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan int, 1)
			var stderr bytes.Buffer
			go func() {
				done <- Main(ctx, []string{"serve", "--insecure", "--listen", freeAddr(t), "--state", state,
					"--notify-timeout", tt.grace}, &bytes.Buffer{}, &stderr)
			}()
			select {
			case <-failed:
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not attempt the pending notification")
			}
			cancel() // shut down right after the failed attempt
			select {
			case code := <-done:
				if code != 0 {
					t.Fatalf("serve exited %d: %s", code, stderr.String())
				}
			case <-time.After(60 * time.Second):
				t.Fatal("serve did not exit after its --notify-timeout")
			}
			st, err := store.Open(context.Background(), state)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			items, err := st.Unfinished(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := canary.OutboxDelivered
			for _, it := range items {
				if it.Key == key {
					got = it.Status
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if hits < tt.hits { // the retry (1-2s after the failure) is due within both graces
				t.Errorf("the receiver got %d requests: serve did not wait for the retry", hits)
			}
			if tt.slow > 0 && hits != 1 {
				t.Errorf("the receiver got %d requests, want 1 (its answer came late, not never)", hits)
			}
			if got != tt.want {
				t.Fatalf("after shutdown the notification is %s (receiver hit %d times), want %s", got, hits, tt.want)
			}
		})
	}
}

// seedPending writes a finished rollout of planText with one notification
// due at once into a new state database at path, and returns its key.
func seedPending(t *testing.T, path, planText string) string {
	t.Helper()
	ctx := context.Background()
	p, err := plan.Parse("plan.yaml", []byte(planText))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Create(ctx, "shop/drain", []byte(planText), canary.State{Phase: canary.PhaseSucceeded, Weight: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	items := notify.OutboxItemsIn(st.UUID(), p, r.ID, []canary.Event{{Seq: 1, Time: time.Now(), Type: canary.EvPromoted, Message: "promoted"}})
	if len(items) != 1 {
		t.Fatalf("%d outbox items, want 1", len(items))
	}
	if err := st.Enqueue(ctx, items...); err != nil {
		t.Fatal(err)
	}
	return items[0].Key
}
