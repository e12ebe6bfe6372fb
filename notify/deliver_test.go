package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
	"github.com/prometheus/client_golang/prometheus"
)

// fast makes retries quick for tests.
func fast(cfg Config) Config {
	cfg.BackoffBase, cfg.BackoffMax, cfg.PollInterval = 5*time.Millisecond, 40*time.Millisecond, 50*time.Millisecond
	return cfg
}

// planFunc serves one plan for every rollout.
func planFunc(p *canary.Plan) func(int64) (*canary.Plan, error) {
	return func(int64) (*canary.Plan, error) { return p, nil }
}

// promotedEvents is a second generation that is promoted.
func promotedEvents() [][]canary.Event {
	ev := func(seq int64, typ canary.EventType, phase canary.Phase, step, weight int, msg string) canary.Event {
		return canary.Event{Seq: seq, Time: t0.Add(2 * time.Hour), Rollout: "recoveryos-elite", Type: typ, Phase: phase,
			Step: step, Weight: weight, Urgency: canary.UrgencyLow, Message: msg}
	}
	evaluated := ev(2, canary.EvEvaluated, canary.PhaseProgressing, 0, 5, "evaluated 2 rules: 2 pass")
	evaluated.Urgency, evaluated.Evaluations = "", step1Evals
	return [][]canary.Event{
		{ev(1, canary.EvStepStarted, canary.PhaseProgressing, 0, 5, "step 1 (5%) started")},
		{evaluated, ev(3, canary.EvStepCompleted, canary.PhaseProgressing, 0, 5, "✅ Canary step 1 (5%) successful. P95: 450ms, Error rate: 0.1%")},
		{ev(4, canary.EvPromoted, canary.PhaseSucceeded, 2, 100, "🎉 v1.0.0-elite promoted: it now serves 100% of traffic (2h after the start)")},
	}
}

// TestDeliveryToTheRunbookAudiences runs two generations of one rollout
// (rolled back, then promoted) through the store and a Deliverer to real
// receivers on every channel.
func TestDeliveryToTheRunbookAudiences(t *testing.T) {
	slackRcv, pdRcv, hookRcv := newReceiver(t), newReceiver(t), newReceiver(t)
	pdRcv.Answer = func(int, *http.Request) (int, string) { return http.StatusAccepted, `{"status":"success"}` }
	smtpRcv := newSMTP(t, true)
	setSecrets(t, slackRcv.URL)
	p := testPlan(t, receivers{smtp: smtpRcv.Addr, pagerduty: pdRcv.URL, webhook: hookRcv.URL})
	st, _ := testStore(t)
	startDeliverer(t, fast(Config{Store: st, Plan: planFunc(p),
		Senders: Options{BaseURL: "https://canary.example.com", TLSConfig: &tls.Config{RootCAs: smtpRcv.CA}}.New}))

	gen1 := createRollout(t, st, p)
	for _, batch := range rolloutEvents() {
		commit(t, st, p, gen1, batch)
	}
	waitFor(t, "generation 1's notifications", func() bool { return finished(t, st, gen1) })
	gen2 := createRollout(t, st, p)
	for _, batch := range promotedEvents() {
		commit(t, st, p, gen2, batch)
	}
	waitFor(t, "generation 2's notifications", func() bool { return finished(t, st, gen2) })

	for _, id := range []int64{gen1, gen2} {
		items, _ := st.Outbox(t.Context(), id)
		for _, it := range items {
			// A resolve may have waited for its trigger: not an attempt.
			if n := realAttempts(t, st, it.Key); it.Status != canary.OutboxDelivered || n != 1 {
				t.Errorf("%s: %s after %d attempts (%s)", it.Key, it.Status, n, it.LastError)
			}
		}
	}

	byAudience := map[string][]string{}
	for _, m := range smtpRcv.received() {
		for _, to := range m.To {
			byAudience[to] = append(byAudience[to], m.Header.Get(HeaderEvent))
		}
	}
	slices.Sort(byAudience["product@recoveryos.com"])
	if got, want := byAudience["product@recoveryos.com"], []string{"promoted", "rolledBack", "stepCompleted", "stepCompleted"}; !slices.Equal(got, want) {
		t.Errorf("product got %v, want %v", got, want)
	}
	if got, want := byAudience["clinical@recoveryos.com"], []string{"rolledBack"}; !slices.Equal(got, want) {
		t.Errorf("clinical got %v, want %v", got, want)
	}

	var pd []pdEvent
	for _, r := range pdRcv.requests() {
		var ev pdEvent
		json.Unmarshal(r.Body, &ev)
		pd = append(pd, ev)
	}
	// Generation 2's promotion resolves nothing: no trigger, no request.
	if len(pd) != 2 || pd[0].EventAction != "trigger" || pd[1].EventAction != "resolve" || pd[0].DedupKey != pd[1].DedupKey {
		t.Errorf("PagerDuty got %+v, want a trigger then a resolve with the same dedup_key", pd)
	}
	if want := fmt.Sprintf("canary/recoveryos/recoveryos-elite/%d", gen1); len(pd) > 0 && pd[0].DedupKey != want {
		t.Errorf("dedup_key %q, want %q", pd[0].DedupKey, want)
	}

	keys := map[string]bool{}
	for _, r := range hookRcv.requests() {
		if err := VerifySignature([]byte(webhookSecret), r.Header, r.Body, time.Now(), 0); err != nil {
			t.Errorf("webhook %s: %v", r.Header.Get(HeaderDelivery), err)
		}
		keys[r.Header.Get(HeaderDelivery)] = true
	}
	// Generation 1: stepCompleted, rollbackStarted, rolledBack; 2: stepCompleted, promoted.
	if len(keys) != 5 || len(hookRcv.requests()) != 5 {
		t.Errorf("webhook got %d requests with keys %v, want 5 distinct", len(hookRcv.requests()), keys)
	}
	if n := len(slackRcv.requests()); n != 10 {
		t.Errorf("Slack got %d messages, want 10 (every non-routine event of both generations)", n)
	}
}

// realAttempts counts key's attempts, leaving out waits for an earlier
// message.
func realAttempts(t *testing.T, st *store.Store, key string) int {
	as, err := st.Attempts(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range as {
		if !strings.HasPrefix(a.Error, deferPrefix) {
			n++
		}
	}
	return n
}

func TestFailingReceiversAreRetriedThenRecorded(t *testing.T) {
	healthy := newReceiver(t)
	broken := newReceiver(t)
	broken.Answer = func(int, *http.Request) (int, string) { return http.StatusInternalServerError, "database is down" }
	flaky := newReceiver(t)
	flaky.Answer = func(n int, _ *http.Request) (int, string) {
		if n == 1 {
			return http.StatusServiceUnavailable, "warming up"
		}
		return http.StatusOK, "ok"
	}
	refusing := newReceiver(t)
	refusing.Answer = func(int, *http.Request) (int, string) { return http.StatusBadRequest, "unknown field" }
	var slowHits atomic.Int32
	slow := newReceiver(t)
	slow.Answer = func(_ int, r *http.Request) (int, string) {
		slowHits.Add(1)
		<-r.Context().Done() // hang until canary gives up
		return http.StatusOK, ""
	}
	down := "http://" + closedAddr(t) + "/hook"

	yaml := fmt.Sprintf(planHead+`  notify:
    - {audience: healthy, webhook: {url: "%s"}}
    - {audience: slow, webhook: {url: "%s"}}
    - {audience: broken, webhook: {url: "%s"}}
    - {audience: down, webhook: {url: "%s"}}
    - {audience: flaky, webhook: {url: "%s"}}
    - {audience: refusing, webhook: {url: "%s"}}
`, healthy.URL, slow.URL, broken.URL, down, flaky.URL, refusing.URL)
	p := parsePlan(t, yaml)
	st, _ := testStore(t)
	reg := prometheus.NewRegistry()
	startDeliverer(t, fast(Config{Store: st, Plan: planFunc(p), Timeout: 300 * time.Millisecond, MaxAttempts: 3, Registerer: reg}))
	id := createRollout(t, st, p)
	commit(t, st, p, id, []canary.Event{{Seq: 1, Time: t0, Rollout: "web", Type: canary.EvPaused,
		Phase: canary.PhasePaused, Urgency: canary.UrgencyMedium, Message: "⏸ paused at step 1 (5%): not enough evidence"}})
	waitFor(t, "every notification to finish", func() bool { return finished(t, st, id) })

	items, _ := st.Outbox(t.Context(), id)
	got := map[string]canary.OutboxItem{}
	for _, it := range items {
		got[it.Audience] = it
	}
	tests := []struct {
		audience string
		status   canary.OutboxStatus
		attempts int
		errText  string
	}{
		{"healthy", canary.OutboxDelivered, 1, ""},
		{"flaky", canary.OutboxDelivered, 2, ""},
		{"broken", canary.OutboxDead, 3, "answered 500 Internal Server Error: database is down (gave up after 3 attempts)"},
		{"down", canary.OutboxDead, 3, "connection refused (gave up after 3 attempts)"},
		{"slow", canary.OutboxDead, 3, "no answer in time (timed out) (timeout 300ms) (gave up after 3 attempts)"},
		// A 400 cannot get better by retrying: one attempt.
		{"refusing", canary.OutboxDead, 1, "answered 400 Bad Request: unknown field (not retried"},
	}
	for _, tt := range tests {
		t.Run(tt.audience, func(t *testing.T) {
			it := got[tt.audience]
			if it.Status != tt.status || it.Attempts != tt.attempts || !strings.Contains(it.LastError, tt.errText) {
				t.Errorf("%s after %d attempts, error %q; want %s after %d, error with %q",
					it.Status, it.Attempts, it.LastError, tt.status, tt.attempts, tt.errText)
			}
			as, err := st.Attempts(t.Context(), it.Key)
			if err != nil || len(as) != tt.attempts {
				t.Fatalf("Attempts: %d, %v", len(as), err)
			}
			for i, a := range as {
				if a.N != i+1 || a.FinishedAt.IsZero() || (tt.status == canary.OutboxDead && a.Outcome != "failed") {
					t.Errorf("attempt %+v", a)
				}
			}
		})
	}
	// Nothing waited on the slow receiver: the healthy one was done before
	// the slow one's first attempt timed out.
	slowAttempts, _ := st.Attempts(t.Context(), got["slow"].Key)
	if h := got["healthy"].FinishedAt; !h.Before(slowAttempts[0].FinishedAt) {
		t.Errorf("healthy delivered at %s, after the slow receiver's first timeout at %s", h, slowAttempts[0].FinishedAt)
	}
	if n := slowHits.Load(); n != 3 {
		t.Errorf("slow receiver got %d requests, want 3", n)
	}
	for outcome, want := range map[string]float64{"delivered": 2, "failed": 7, "dead": 4} {
		if got := counterOf(t, reg, outcome); got != want {
			t.Errorf("canary_notifications_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	// Every retry carries the same delivery key.
	for _, r := range broken.requests() {
		if r.Header.Get(HeaderDelivery) != got["broken"].Key {
			t.Errorf("retry with key %q, want %q", r.Header.Get(HeaderDelivery), got["broken"].Key)
		}
	}
}

// counterOf is canary_notifications_total{channel="webhook",outcome} in reg.
func counterOf(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if mf.GetName() == "canary_notifications_total" && labels["channel"] == "webhook" && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func parsePlan(t *testing.T, yaml string) *canary.Plan {
	t.Helper()
	p, err := plan.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBackoffDoublesWithJitterUpToTheMax(t *testing.T) {
	d, err := NewDeliverer(Config{Store: &store.Store{}, Plan: planFunc(nil), BackoffBase: time.Second, BackoffMax: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n        int
		floor    time.Duration
		min, max time.Duration
	}{
		{1, 0, 500 * time.Millisecond, time.Second},
		{2, 0, time.Second, 2 * time.Second},
		{4, 0, 4 * time.Second, 8 * time.Second},
		{10, 0, 4 * time.Second, 8 * time.Second},
		{200, 0, 4 * time.Second, 8 * time.Second}, // no overflow
		// A receiver's Retry-After is a floor, capped at an hour.
		{1, 30 * time.Second, 30 * time.Second, 30 * time.Second},
		{1, 48 * time.Hour, time.Hour, time.Hour},
	}
	for _, tt := range tests {
		for range 50 {
			if got := d.backoff(tt.n, tt.floor); got < tt.min || got > tt.max {
				t.Errorf("backoff(%d, %s) = %s, want %s..%s", tt.n, tt.floor, got, tt.min, tt.max)
			}
		}
	}
}

// TestPagerDutyResolveWaitsForItsTrigger: the trigger fails twice; the
// resolve, enqueued right after, must not overtake it.
func TestPagerDutyResolveWaitsForItsTrigger(t *testing.T) {
	var mu sync.Mutex
	var log []string
	pdRcv := newReceiver(t)
	pdRcv.Answer = func(n int, r *http.Request) (int, string) {
		status := http.StatusAccepted
		if n <= 2 {
			status = http.StatusInternalServerError
		}
		mu.Lock()
		defer mu.Unlock()
		log = append(log, fmt.Sprintf("%s %d", r.Header.Get(HeaderDelivery), status))
		return status, "{}"
	}
	setSecrets(t, "http://unused")
	p := testPlan(t, receivers{smtp: closedAddr(t), pagerduty: pdRcv.URL, webhook: "http://" + closedAddr(t)})
	p.Spec.Notify = p.Spec.Notify[3:4] // on-call only
	st, _ := testStore(t)
	startDeliverer(t, fast(Config{Store: st, Plan: planFunc(p)}))
	id := createRollout(t, st, p)
	batches := rolloutEvents()
	for _, b := range batches {
		commit(t, st, p, id, b)
	}
	waitFor(t, "PagerDuty messages", func() bool { return finished(t, st, id) })
	trigger, resolve := Key(id, "", 8, "on-call", "pagerduty"), Key(id, "", 9, "on-call", "pagerduty")
	want := []string{trigger + " 500", trigger + " 500", trigger + " 202", resolve + " 202"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(log, want) {
		t.Errorf("PagerDuty got\n%s\nwant\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
}

// TestNoDuplicateAfterACrash: a Deliverer is stopped with sends in
// flight (claimed, received, never marked), as a crash would leave them.
// A new Deliverer on a new Store of the same file delivers the rest: no
// key is sent after its delivery was recorded, every key arrives, and the
// only repeats are the interrupted sends, which receivers drop by key.
func TestNoDuplicateAfterACrash(t *testing.T) {
	hang := make(chan struct{})
	rcv := newReceiver(t)
	rcv.Answer = func(n int, r *http.Request) (int, string) {
		if n > 4 {
			select { // from the fifth request on, hang until the crash
			case <-hang:
			case <-r.Context().Done():
			}
		}
		return http.StatusOK, "ok"
	}
	yaml := fmt.Sprintf(planHead+`  notify: [{audience: ops, webhook: {url: "%s"}}]
`, rcv.URL)
	p := parsePlan(t, yaml)
	st, path := testStore(t)
	id := seedHookFailures(t, st, p)

	stop := startDeliverer(t, Config{Store: st, Plan: planFunc(p), Concurrency: 2, Timeout: time.Minute})
	waitFor(t, "two sends in flight", func() bool { return len(rcv.requests()) == 6 })
	stop() // the crash: two items claimed and received, never marked
	close(hang)
	crashed, _ := st.Outbox(t.Context(), id)
	st.Close()

	st2, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	// The new process's clock is past the old claims' lease.
	later := canarytest.NewClock(time.Now().Add(store.DefaultClaimLease + time.Second))
	startDeliverer(t, Config{Store: st2, Plan: planFunc(p), Clock: later})
	waitFor(t, "the rest", func() bool { return finished(t, st2, id) })

	items, _ := st2.Outbox(t.Context(), id)
	seen := map[string]int{}
	for _, r := range rcv.requests() {
		seen[r.Header.Get(HeaderDelivery)]++
	}
	claimed := 0
	for _, it := range crashed {
		if it.Status == canary.OutboxClaimed {
			claimed++
		}
	}
	if claimed != 2 {
		t.Errorf("%d items were claimed at the crash, want 2", claimed)
	}
	repeats := 0
	for _, it := range items {
		if it.Status != canary.OutboxDelivered {
			t.Errorf("%s: %s", it.Key, it.Status)
		}
		if seen[it.Key] == 0 {
			t.Errorf("%s never arrived", it.Key)
		}
		repeats += seen[it.Key] - 1
		for _, r := range rcv.requests() {
			if r.Header.Get(HeaderDelivery) == it.Key && r.At.After(it.FinishedAt) {
				t.Errorf("%s sent at %s, after its delivery was recorded at %s", it.Key, r.At, it.FinishedAt)
			}
		}
	}
	if len(seen) != 10 || repeats != claimed {
		t.Errorf("%d distinct keys, %d repeats; want 10 and %d (the interrupted sends)", len(seen), repeats, claimed)
	}
}

func TestDelivererNeedsAStoreAndPlans(t *testing.T) {
	if _, err := NewDeliverer(Config{}); err == nil {
		t.Error("NewDeliverer without a store: no error")
	}
}

func TestUnknownRolloutOrAudienceIsGivenUp(t *testing.T) {
	st, _ := testStore(t)
	p := parsePlan(t, `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 5, hold: 30m}, {weight: 100}]
  rules: [{metric: errorRate, above: 5%, action: rollback-immediate}]
  notify: [{audience: ops, webhook: {url: "http://127.0.0.1:1"}}]
`)
	id := createRollout(t, st, p)
	// An item enqueued without a rollout, and one for an audience the plan lacks.
	stray := canary.OutboxItem{Key: "stray", Audience: "ops", Channel: "webhook", Payload: []byte(`{}`)}
	bad := OutboxItems(p, id, []canary.Event{{Seq: 2, Rollout: "web", Type: canary.EvPaused, Message: "paused"}})[0]
	bad.Payload = []byte(strings.Replace(string(bad.Payload), `"audience":"ops"`, `"audience":"gone"`, 1))
	if err := st.Enqueue(t.Context(), stray, bad); err != nil {
		t.Fatal(err)
	}
	startDeliverer(t, fast(Config{Store: st, Plan: func(int64) (*canary.Plan, error) { return p, nil }}))
	waitFor(t, "the bad items", func() bool {
		for _, k := range []string{"stray", bad.Key} {
			as, _ := st.Attempts(context.Background(), k)
			if len(as) == 0 || as[len(as)-1].Outcome != "failed" {
				return false
			}
		}
		return true
	})
	for _, k := range []string{"stray", bad.Key} {
		as, _ := st.Attempts(t.Context(), k)
		if len(as) != 1 || !strings.Contains(as[0].Error, "not retried") {
			t.Errorf("%s: %+v, want one final attempt", k, as)
		}
	}
}

func TestLanesKeepAPagerDutyAudienceInEventOrder(t *testing.T) {
	item := func(rollout int64, audience, channel string, seq int64) canary.OutboxItem {
		m := Message{Key: Key(rollout, "", seq, audience, channel), Event: canary.Event{Seq: seq}}
		b, _ := json.Marshal(m)
		return canary.OutboxItem{Key: m.Key, RolloutID: rollout, Audience: audience, Channel: channel, Payload: b}
	}
	// A retried trigger (seq 8) is claimed after the resolve (seq 9) when
	// its retry time sorts later.
	got := lanes([]canary.OutboxItem{
		item(1, "on-call", "pagerduty", 9), item(1, "eng", "slack", 9), item(1, "on-call", "pagerduty", 8),
		item(2, "on-call", "pagerduty", 3), item(1, "eng", "slack", 8),
	})
	var shape []string
	for _, lane := range got {
		var keys []string
		for _, it := range lane {
			keys = append(keys, it.Key)
		}
		shape = append(shape, strings.Join(keys, " then "))
	}
	want := []string{
		"rollout/1/event/8/on-call/pagerduty then rollout/1/event/9/on-call/pagerduty",
		"rollout/1/event/9/eng/slack", "rollout/2/event/3/on-call/pagerduty", "rollout/1/event/8/eng/slack",
	}
	if !slices.Equal(shape, want) {
		t.Errorf("lanes\n%s\nwant\n%s", strings.Join(shape, "\n"), strings.Join(want, "\n"))
	}
}

// seedHookFailures creates p's rollout in st and commits ten hookFailed
// events, each a notification to p's receivers, and returns its id.
func seedHookFailures(t *testing.T, st *store.Store, p *canary.Plan) int64 {
	t.Helper()
	id := createRollout(t, st, p)
	var batch []canary.Event
	for seq := int64(1); seq <= 10; seq++ {
		batch = append(batch, canary.Event{Seq: seq, Time: t0, Rollout: "web", Type: canary.EvHookFailed,
			Phase: canary.PhaseProgressing, Message: fmt.Sprintf("hook %d failed", seq)})
	}
	commit(t, st, p, id, batch)
	return id
}
