package client_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

func TestWatch(t *testing.T) {
	fake, url := serve(t, nil)
	c := newClient(t, url, viewToken)
	if _, err := newClient(t, url, opToken).Apply(t.Context(), []byte(testPlan), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rec := newRecorder()
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, "shop/web", 1, rec.add) }()
	rec.wait(t, 2) // seq 2 and 3, recorded before
	for range 20 {
		fake.Append("shop/web", canary.Event{Type: canary.EvEvaluated})
	}
	evs := rec.wait(t, 22)
	for i, ev := range evs {
		if ev.Seq != int64(i+2) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

// TestWatchReconnects: a stream cut by the server is reopened from the
// last event seen, with no gap and no repeat.
func TestWatchReconnects(t *testing.T) {
	var streams atomic.Int32
	var mu sync.Mutex
	var lastIDs []string
	fake, url := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/stream") {
				h.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
			mu.Unlock()
			if streams.Add(1) == 1 { // cut the first stream short
				ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
				defer cancel()
				r = r.WithContext(ctx)
			}
			h.ServeHTTP(w, r)
		})
	})
	if _, err := newClient(t, url, opToken).Apply(t.Context(), []byte(testPlan), false); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, url, viewToken)
	c.RetryDelay = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := newRecorder()
	go c.Watch(ctx, "shop/web", 0, rec.add)
	rec.wait(t, 3)
	deadline := time.Now().Add(5 * time.Second)
	for streams.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fake.Append("shop/web", canary.Event{Type: canary.EvEvaluated}, canary.Event{Type: canary.EvPaused})
	evs := rec.wait(t, 5)
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: %+v", i, ev.Seq, evs)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lastIDs) < 2 || lastIDs[0] != "" || lastIDs[1] != "3" {
		t.Errorf("Last-Event-ID of the streams: %q, want \"\" then \"3\"", lastIDs)
	}
}

func TestWatchRefused(t *testing.T) {
	_, url := serve(t, nil)
	err := newClient(t, url, viewToken).Watch(t.Context(), "shop/nope", 0, func(canary.Event) {})
	if code, _ := codeOf(err); code != canary.ENOTFOUND {
		t.Errorf("unknown rollout: %q %v", code, err)
	}
	err = newClient(t, url, "").Watch(t.Context(), "shop/nope", 0, func(canary.Event) {})
	if code, _ := codeOf(err); code != "unauthenticated" {
		t.Errorf("no token: %q %v", code, err)
	}
}

// TestWatchStreamError: an "error" event ends Watch with its error.
func TestWatchStreamError(t *testing.T) {
	fake, url := serve(t, nil)
	if _, err := newClient(t, url, opToken).Apply(t.Context(), []byte(testPlan), false); err != nil {
		t.Fatal(err)
	}
	fake.EventsFunc = func(context.Context, string, int64, int) ([]canary.Event, error) {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "the store is gone")
	}
	err := newClient(t, url, viewToken).Watch(t.Context(), "shop/web", 0, func(canary.Event) {})
	if code, ce := codeOf(err); code != canary.EUNAVAILABLE || ce == nil || err.Error() != "the store is gone" {
		t.Errorf("stream error: %q %v", code, err)
	}
}

// TestWatchFollowsNewGeneration: after a new version is applied, Watch
// goes on with the new generation's events from Seq 1.
func TestWatchFollowsNewGeneration(t *testing.T) {
	_, url := serve(t, nil)
	op := newClient(t, url, opToken)
	if _, err := op.Apply(t.Context(), []byte(testPlan), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := newRecorder()
	go newClient(t, url, viewToken).Watch(ctx, "shop/web", 0, rec.add)
	rec.wait(t, 3)
	if _, err := op.Apply(t.Context(), []byte(strings.Replace(testPlan, "version: v2", "version: v3", 1)), false); err != nil {
		t.Fatal(err)
	}
	evs := rec.wait(t, 4)
	if evs[3].Seq != 1 || evs[3].Type != canary.EvCreated || !strings.Contains(evs[3].Message, "v3") {
		t.Errorf("first event after the new generation: %+v", evs[3])
	}
}

// TestWatchWaitsOutRateLimit: a reconnect refused by the server's rate
// limit (429, Retry-After) waits as asked and goes on following, with no
// gap; a first stream refused the same way is an error at once.
func TestWatchWaitsOutRateLimit(t *testing.T) {
	var streams atomic.Int32
	fake, url := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/stream") {
				h.ServeHTTP(w, r)
				return
			}
			switch streams.Add(1) {
			case 1: // cut short
				ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
				defer cancel()
				r = r.WithContext(ctx)
			case 2, 3: // two reconnects over the limit
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"error":{"code":"rate_limited","message":"slow down"}}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	if _, err := newClient(t, url, opToken).Apply(t.Context(), []byte(testPlan), false); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, url, viewToken)
	c.RetryDelay = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := newRecorder()
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, "shop/web", 0, rec.add) }()
	rec.wait(t, 3)
	deadline := time.Now().Add(5 * time.Second)
	for streams.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Watch ended on the rate limit: %v", err)
	default:
	}
	fake.Append("shop/web", canary.Event{Type: canary.EvEvaluated})
	evs := rec.wait(t, 4)
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: %+v", i, ev.Seq, evs)
		}
	}

	// Refused before any stream was open: the caller hears it.
	streams.Store(1)
	err := c.Watch(t.Context(), "shop/web", 0, func(canary.Event) {})
	if code, _ := codeOf(err); code != "rate_limited" {
		t.Errorf("first stream over the limit: %q %v, want rate_limited", code, err)
	}
}
