package notify

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestStopLetsSendsInFlightFinish: Stop claims nothing more, lets the
// sends in flight finish and records them as delivered, so a message the
// receiver accepted while the deliverer was stopping is never sent again
// (canary run's exit, canary serve's shutdown: SMTP has no idempotency
// key). The items not claimed before Stop stay pending, unsent.
func TestStopLetsSendsInFlightFinish(t *testing.T) {
	hang := make(chan struct{})
	rcv := newReceiver(t)
	rcv.Answer = func(n int, r *http.Request) (int, string) {
		if n > 4 {
			<-hang // from the fifth request on, answer only once released
		}
		return http.StatusOK, "ok"
	}
	p := parsePlan(t, fmt.Sprintf(planHead+`  notify: [{audience: ops, webhook: {url: "%s"}}]
`, rcv.URL))
	st, _ := testStore(t)
	id := seedHookFailures(t, st, p)

	d, err := NewDeliverer(Config{Store: st, Plan: planFunc(p), Concurrency: 2, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	waitFor(t, "two sends in flight", func() bool { return len(rcv.requests()) == 6 })
	d.Stop()
	d.Stop()    // again: harmless
	close(hang) // the receiver answers after the stop (after canary run's grace)
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}

	items, err := st.Outbox(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rcv.requests() {
		seen[r.Header.Get(HeaderDelivery)]++
	}
	var delivered, pending int
	for _, it := range items {
		switch {
		case it.Status == canary.OutboxDelivered && seen[it.Key] == 1:
			delivered++
		case it.Status == canary.OutboxPending && seen[it.Key] == 0:
			pending++
		default:
			t.Errorf("%s: %s after %d requests", it.Key, it.Status, seen[it.Key])
		}
	}
	if delivered != 6 || pending != 4 {
		t.Errorf("%d delivered and %d pending; want the 6 received (2 of them answered after Stop) and 4 never claimed", delivered, pending)
	}
}
