package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/store"
)

// countingHandler counts log records at Warn and above.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countingHandler) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h countingHandler) WithGroup(string) slog.Handler                { return h }

// TestFullDiskDoesNotMultiplySends runs a Deliverer on a full (tmpfs) file
// system against a receiver that is down (503). Claims and results cannot
// be saved there, so every send is a side effect the store cannot count:
// the Deliverer must back off on store errors as on send errors. It used
// to send each item again as soon as the last send returned (a claim
// whose commit failed still handed out its items, and nothing recorded
// the attempt): hundreds of POSTs a second and as many warnings.
func TestFullDiskDoesNotMultiplySends(t *testing.T) {
	dir := canarytest.Tmpfs(t, "2m")
	st, err := store.Open(t.Context(), filepath.Join(dir, "canary.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	down := newReceiver(t)
	down.Answer = func(int, *http.Request) (int, string) { return http.StatusServiceUnavailable, "down" }
	const audiences = 4
	yaml := `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 5, hold: 30m}, {weight: 100}]
  rules: [{metric: errorRate, above: 5%, action: rollback-immediate}]
  notify:
`
	for i := range audiences {
		yaml += fmt.Sprintf("    - {audience: a%d, webhook: {url: %q}}\n", i, down.URL)
	}
	p := parsePlan(t, yaml)
	id := createRollout(t, st, p)
	commit(t, st, p, id, []canary.Event{{Seq: 1, Time: t0, Rollout: "web", Type: canary.EvPaused,
		Phase: canary.PhasePaused, Urgency: canary.UrgencyMedium, Message: "⏸ paused"}})
	canarytest.FillDisk(t, dir)

	var warnings atomic.Int64
	const base, window = time.Second, 3 * time.Second
	stop := startDeliverer(t, Config{Store: st, Plan: planFunc(p), BackoffBase: base, BackoffMax: 2 * base,
		PollInterval: 50 * time.Millisecond, Logger: slog.New(countingHandler{&warnings})})
	time.Sleep(window) // the observation window: how many sends fit in it
	stop()

	// Each key: its first send, then at most one per backoff (at least
	// half of BackoffBase with jitter) — whether the wait follows a failed
	// send or a failed save.
	perKey := 1 + int(window/(base/2))
	sent := map[string]int{}
	for _, r := range down.requests() {
		sent[r.Header.Get(HeaderDelivery)]++
	}
	for key, n := range sent {
		if n > perKey {
			t.Errorf("key %s sent %d times in %v on a full disk, want at most %d (the backoff)", key, n, window, perKey)
		}
	}
	if n, limit := warnings.Load(), int64((audiences+1)*perKey); n > limit {
		t.Errorf("%d warnings in %v on a full disk, want at most %d", n, window, limit)
	}
	t.Logf("%d POSTs (%d keys), %d warnings in %v", len(down.requests()), len(sent), warnings.Load(), window)
}

// TestAttemptsBoundedAcrossRestarts: a message whose sends were all cut
// short by a crash (claimed, never marked: the lease ran out) has used its
// attempts; the next Deliverer gives it up without sending it again. It
// used to send it once more per restart, without bound.
func TestAttemptsBoundedAcrossRestarts(t *testing.T) {
	rcv := newReceiver(t)
	p := parsePlan(t, fmt.Sprintf(planHead+`  notify: [{audience: eng, webhook: {url: %q}}]
`, rcv.URL))
	st, _ := testStore(t)
	id := createRollout(t, st, p)
	commit(t, st, p, id, []canary.Event{{Seq: 1, Time: t0, Rollout: "web", Type: canary.EvPaused,
		Phase: canary.PhasePaused, Urgency: canary.UrgencyMedium, Message: "⏸ paused"}})
	const maxAttempts = 3
	// Three deliverers claimed it and died mid-send, a lease apart.
	for i := range maxAttempts {
		items, err := st.ClaimDue(t.Context(), t0.Add(time.Duration(i)*2*store.DefaultClaimLease), 0)
		if err != nil || len(items) != 1 {
			t.Fatalf("claim %d: %d items, %v", i+1, len(items), err)
		}
	}
	startDeliverer(t, fast(Config{Store: st, Plan: planFunc(p), MaxAttempts: maxAttempts}))
	waitFor(t, "the message to be given up", func() bool { return finished(t, st, id) })
	items, _ := st.Outbox(t.Context(), id)
	if it := items[0]; it.Status != canary.OutboxDead || !strings.Contains(it.LastError, "gave up after 3 attempts") {
		t.Errorf("after %d lost claims: %s, %q; want dead, given up after 3 attempts", maxAttempts, it.Status, it.LastError)
	}
	if n := len(rcv.requests()); n != 0 {
		t.Errorf("the receiver got %d more sends after %d lost ones, want none (MaxAttempts %d)", n, maxAttempts, maxAttempts)
	}
}
