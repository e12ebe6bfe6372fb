package operator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/operator"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Secret values the tests look for where they must never be.
const (
	signingKey = "s1gning-key-0000"
	hookToken  = "T0KEN-hook-1111"
	slackToken = "XYZ-slack-2222"
)

// receiver is a real HTTP receiver; answer decides the status of the
// n-th request (from 1).
type receiver struct {
	*httptest.Server
	answer func(n int) int

	mu   sync.Mutex
	reqs []received
}

type received struct {
	header http.Header
	body   []byte
	status int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs) + 1
		status := http.StatusOK
		if rc.answer != nil {
			status = rc.answer(n)
		}
		rc.reqs = append(rc.reqs, received{header: r.Header.Clone(), body: body, status: status})
		rc.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// recorder records Kubernetes Events as the operator emits them.
type recorder struct {
	mu     sync.Mutex
	events []string // "Warning NotificationFailed: message"
}

func (r *recorder) Eventf(_ runtime.Object, typ, reason, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, typ+" "+reason+": "+fmt.Sprintf(format, args...))
}

func (r *recorder) with(reason string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if strings.Contains(e, " "+reason+": ") {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, "\n")
}

// notifyRig drives Reconcile directly on a stepped clock for one Rollout
// the package's operator leaves alone.
type notifyRig struct {
	f     *fixture
	clock *canarytest.Clock
	rec   *recorder
	key   types.NamespacedName
	uid   string
}

func newNotifyRig(t *testing.T, notifySpec []any) *notifyRig {
	t.Helper()
	return newNotifyRigFor(t, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}, notifySpec)
}

func newNotifyRigFor(t *testing.T, svc kubetest.Service, notifySpec []any) *notifyRig {
	t.Helper()
	f := newFixture(t, svc)
	u := examplePlan(t, "k8s/gatewayapi.yaml", f.ns, func(spec map[string]any) {
		fast("1s")(spec)
		spec["notify"] = notifySpec
	})
	u.SetLabels(map[string]string{testShard: "direct"})
	f.create(t, u)
	got, _ := f.get(t, u.GetName())
	return &notifyRig{f: f, clock: canarytest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)), rec: &recorder{},
		key: types.NamespacedName{Namespace: f.ns, Name: u.GetName()}, uid: string(got.GetUID())}
}

func (g *notifyRig) reconciler(t *testing.T, edit func(*operator.Config)) *operator.Reconciler {
	t.Helper()
	cfg := operator.Config{Client: g.f.env.Client, Clock: g.clock, Recorder: g.rec}
	inject()(&cfg)
	if edit != nil {
		edit(&cfg)
	}
	r, err := operator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run reconciles, moving the clock to each requested wake-up, until done
// says so.
func (g *notifyRig) run(t *testing.T, r *operator.Reconciler, what string, done func(operator.Status) bool) operator.Status {
	t.Helper()
	return g.runCtx(t, t.Context(), r, what, done)
}

// runCtx is run with ctx for Reconcile (e.g. one carrying a logger).
func (g *notifyRig) runCtx(t *testing.T, ctx context.Context, r *operator.Reconciler, what string, done func(operator.Status) bool) operator.Status {
	t.Helper()
	for range 500 {
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: g.key})
		if err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		_, s := g.f.get(t, g.key.Name)
		if done(s) {
			return s
		}
		if res.RequeueAfter <= 0 {
			t.Fatalf("not %s and no requeue: phase %s: %s; %d notifications pending: %+v", what, s.Phase, s.Message, len(s.Notifications), s.Notifications)
		}
		g.clock.After(res.RequeueAfter)
	}
	t.Fatalf("not %s after 500 reconciles", what)
	return operator.Status{}
}

func (g *notifyRig) secret(t *testing.T, data map[string]string) {
	t.Helper()
	createSecret(t, g.f, "hooks", data)
}

func finished(s operator.Status) bool {
	return s.Phase == string(canary.PhaseSucceeded) && len(s.Notifications) == 0
}

// webhookDeliveries checks each request to the webhook receiver (signed
// with the Secret's key, keyed rollout/<uid>/event/<seq>/ops/webhook,
// routed to ops/webhook by notify.Route) and returns the delivered keys,
// in order, and the event types of the deliveries.
func (g *notifyRig) webhookDeliveries(t *testing.T, rc *receiver, p *canary.Plan) (keys []string, types []canary.EventType) {
	t.Helper()
	for _, req := range rc.requests() {
		if err := notify.VerifySignature([]byte(signingKey), req.header, req.body, g.clock.Now(), time.Hour); err != nil {
			t.Errorf("webhook %s: %v", req.header.Get(notify.HeaderDelivery), err)
		}
		var body notify.WebhookBody
		if err := json.Unmarshal(req.body, &body); err != nil {
			t.Fatal(err)
		}
		key := req.header.Get(notify.HeaderDelivery)
		if want := notify.KeyUID(g.uid, body.Event.Seq, "ops", notify.ChannelWebhook); key != want || body.Delivery != want {
			t.Errorf("delivery key %q (body %q), want %q", key, body.Delivery, want)
		}
		if body.Rollout.UID != g.uid || body.Rollout.Name != g.f.ns+"/recoveryos-gateway" {
			t.Errorf("body.rollout = %+v", body.Rollout)
		}
		routed := slices.ContainsFunc(notify.Route(p, body.Event), func(m notify.Message) bool {
			return m.Audience == "ops" && m.Channel == notify.ChannelWebhook
		})
		if !routed {
			t.Errorf("event %d (%s) was sent to ops/webhook, which notify.Route does not route it to", body.Event.Seq, body.Event.Type)
		}
		if req.status/100 == 2 {
			keys = append(keys, key)
			types = append(types, body.Event.Type)
		}
	}
	return keys, types
}

// engineEvents counts the decisions recorded as Kubernetes Events whose
// reason is one of the event types.
func (g *notifyRig) engineEvents(ts ...canary.EventType) int {
	n := 0
	for _, t := range ts {
		r := string(t)
		n += len(g.rec.with(strings.ToUpper(r[:1]) + r[1:]))
	}
	return n
}

func (g *notifyRig) plan(t *testing.T) *canary.Plan {
	t.Helper()
	u, _ := g.f.get(t, g.key.Name)
	p, err := operator.PlanOf(u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (g *notifyRig) noSecrets(t *testing.T) {
	t.Helper()
	u, _ := g.f.get(t, g.key.Name)
	status, _ := json.Marshal(u.Object["status"])
	for _, secret := range []string{signingKey, hookToken, slackToken} {
		if strings.Contains(string(status), secret) {
			t.Errorf("the status holds a secret: %s", status)
		}
		if strings.Contains(g.rec.all(), secret) {
			t.Errorf("an Event holds a secret:\n%s", g.rec.all())
		}
	}
}

var opsAndProduct = []any{
	map[string]any{"audience": "ops", "webhook": map[string]any{"url": "secret:hooks/url", "secret": "secret:hooks/signing"},
		"on": []any{"stepCompleted", "promoted"}},
	map[string]any{"audience": "product", "slack": map[string]any{"webhookURL": "secret:hooks/slack"}, "on": []any{"promoted", "rolledBack"}},
}

// TestNotificationsDelivered runs a rollout to promotion on a stepped
// clock with a webhook audience (URL and signing key in a Secret) and a
// Slack audience (webhook URL in the same Secret): each receiver gets
// exactly what notify routes, each message once, signed; the webhook's
// first answer is a 500, so that message is retried and delivered once.
func TestNotificationsDelivered(t *testing.T) {
	t.Parallel()
	g := newNotifyRig(t, opsAndProduct)
	hook := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	slack := newReceiver(t, nil)
	g.secret(t, map[string]string{"url": hook.URL + "/hooks/" + hookToken, "signing": signingKey, "slack": slack.URL + "/services/T0/B0/" + slackToken})
	r := g.reconciler(t, nil)
	s := g.run(t, r, "promoted with every notification delivered", finished)

	keys, evTypes := g.webhookDeliveries(t, hook, g.plan(t))
	wantTypes := g.engineEvents(canary.EvStepCompleted, canary.EvPromoted)
	if len(keys) != wantTypes || wantTypes < 3 {
		t.Errorf("webhook delivered %d messages (%v), want one per stepCompleted and promoted event (%d)", len(keys), evTypes, wantTypes)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
		t.Errorf("a webhook message was delivered twice: %v", keys)
	}
	if evTypes[len(evTypes)-1] != canary.EvPromoted {
		t.Errorf("last webhook event %s, want promoted", evTypes[len(evTypes)-1])
	}
	reqs := hook.requests()
	first := reqs[0].header.Get(notify.HeaderDelivery)
	tries := slices.DeleteFunc(slices.Clone(reqs), func(r received) bool { return r.header.Get(notify.HeaderDelivery) != first })
	if len(reqs) != len(keys)+1 || reqs[0].status != 500 || len(tries) != 2 || tries[1].status != 200 {
		t.Errorf("webhook requests: %d for %d messages; want the first (answered 500) retried once under the same key", len(reqs), len(keys))
	}
	if got := slack.requests(); len(got) != 1 || !strings.Contains(string(got[0].body), "recoveryos-gateway") || got[0].status != 200 {
		t.Errorf("slack got %d requests, want 1 (promoted)", len(got))
	}
	if n := len(g.rec.with("NotificationFailed")); n != 1 {
		t.Errorf("%d NotificationFailed events, want 1:\n%s", n, g.rec.all())
	}
	if n := len(g.rec.with("NotificationSent")); n != len(keys)+1 {
		t.Errorf("%d NotificationSent events, want %d", n, len(keys)+1)
	}
	if c := condition(s, operator.ConditionNotified); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("condition %s = %+v, want True", operator.ConditionNotified, c)
	}
	g.noSecrets(t)
}

func condition(s operator.Status, typ string) *metav1.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == typ {
			return &s.Conditions[i]
		}
	}
	return nil
}

// TestNotificationSecretMissing: with the webhook's Secret missing the
// rollout still promotes, the condition and a Warning Event name the
// reference and say what to do; once the Secret is created the pending
// messages are delivered.
func TestNotificationSecretMissing(t *testing.T) {
	t.Parallel()
	g := newNotifyRig(t, opsAndProduct[:1])
	hook := newReceiver(t, nil)
	r := g.reconciler(t, func(c *operator.Config) { c.NotifyMaxAttempts = 100 })
	s := g.run(t, r, "promoted", func(s operator.Status) bool { return s.Phase == string(canary.PhaseSucceeded) })
	c := condition(s, operator.ConditionNotified)
	if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "secret:hooks/url") ||
		!strings.Contains(c.Message, `there is no Secret "hooks" in namespace `+g.f.ns) || !strings.Contains(c.Message, "create it") {
		t.Errorf("condition %s = %+v; want False naming secret:hooks/url and what to do", operator.ConditionNotified, c)
	}
	failed := g.rec.with("NotificationFailed")
	if len(failed) == 0 || !strings.Contains(failed[0], "ops via webhook") || !strings.Contains(failed[0], "secret:hooks/url") {
		t.Errorf("NotificationFailed events: %q", failed)
	}
	if len(s.Notifications) == 0 || s.Notifications[0].Attempts == 0 || s.Notifications[0].LastError == "" {
		t.Errorf("status.notifications = %+v; want the undelivered messages with attempts and the error", s.Notifications)
	}
	if len(hook.requests()) != 0 {
		t.Fatal("a message was sent without its URL")
	}

	g.secret(t, map[string]string{"url": hook.URL + "/hooks/" + hookToken, "signing": signingKey})
	s = g.run(t, r, "delivered once the Secret exists", finished)
	keys, _ := g.webhookDeliveries(t, hook, g.plan(t))
	if want := g.engineEvents(canary.EvStepCompleted, canary.EvPromoted); len(keys) != want {
		t.Errorf("delivered %d, want %d", len(keys), want)
	}
	if c := condition(s, operator.ConditionNotified); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("condition after delivery: %+v", c)
	}
	g.noSecrets(t)
}

// abortingTransport is a leader that dies in the middle of a send: it
// passes the first pass requests on and, at the next, cancels the
// reconcile's context before anything reaches the receiver.
type abortingTransport struct {
	pass   int
	cancel context.CancelFunc

	mu      sync.Mutex
	n       int
	aborted string // the delivery key of the request cut off
}

func (a *abortingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.n++
	abort := a.n > a.pass
	if abort && a.aborted == "" {
		a.aborted = req.Header.Get(notify.HeaderDelivery)
	}
	a.mu.Unlock()
	if abort {
		a.cancel()
		return nil, errors.New("the leader died")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestNotificationsSurviveLeaderDeath: the first leader delivers one
// message and dies while sending the second, after the status carrying
// it was written; a second Reconciler (the next leader) delivers exactly
// the missing messages, none twice.
func TestNotificationsSurviveLeaderDeath(t *testing.T) {
	t.Parallel()
	g := newNotifyRig(t, opsAndProduct[:1])
	hook := newReceiver(t, nil)
	g.secret(t, map[string]string{"url": hook.URL + "/hooks/" + hookToken, "signing": signingKey})

	ctx, cancel := context.WithCancel(t.Context())
	tr := &abortingTransport{pass: 1, cancel: cancel}
	a := g.reconciler(t, func(c *operator.Config) { c.NotifyHTTPClient = &http.Client{Transport: tr} })
	for i := 0; ctx.Err() == nil; i++ {
		if i == 500 {
			t.Fatal("the first leader never sent a second message")
		}
		res, err := a.Reconcile(ctx, ctrl.Request{NamespacedName: g.key})
		if err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		if res.RequeueAfter > 0 {
			g.clock.After(res.RequeueAfter)
		}
	}
	_, s := g.f.get(t, g.key.Name)
	if !slices.ContainsFunc(s.Notifications, func(n operator.Notification) bool {
		return n.Message.Key == tr.aborted && n.Attempts == 0 && n.LastError == ""
	}) {
		t.Fatalf("the message cut off (%s) is not pending untried in the status: %+v", tr.aborted, s.Notifications)
	}
	before, _ := g.webhookDeliveries(t, hook, g.plan(t))
	if len(before) != 1 {
		t.Fatalf("the first leader delivered %d messages, want 1", len(before))
	}

	b := g.reconciler(t, nil)
	g.run(t, b, "promoted with every notification delivered", finished)
	keys, _ := g.webhookDeliveries(t, hook, g.plan(t))
	if want := g.engineEvents(canary.EvStepCompleted, canary.EvPromoted); len(keys) != want {
		t.Errorf("delivered %d messages in all, want %d", len(keys), want)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
		t.Errorf("a message was delivered twice: %v", keys)
	}
	if !slices.Contains(keys, tr.aborted) {
		t.Errorf("the message cut off (%s) was never delivered: %v", tr.aborted, keys)
	}
	g.noSecrets(t)
}

// TestNotificationsGiveUpAndPagerDuty rolls a faulty canary back: the
// on-call audience's PagerDuty incident is triggered when the rollback
// starts and resolved, after it, when it ends, under one dedup_key; a
// webhook that always answers 500 is given up after NotifyMaxAttempts with
// a Warning Event, and neither holds the rollback up.
func TestNotificationsGiveUpAndPagerDuty(t *testing.T) {
	t.Parallel()
	g := newNotifyRigFor(t, kubetest.Service{RPS: 400, CanaryErrors: 0.2, CanaryLatency: 0.2}, []any{
		map[string]any{"audience": "oncall", "pagerduty": map[string]any{"routingKey": "secret:hooks/pd", "url": "http://placeholder.invalid/v2/enqueue"},
			"on": []any{"rolledBack"}},
		map[string]any{"audience": "ops", "webhook": map[string]any{"url": "secret:hooks/url"}, "on": []any{"rollbackStarted", "rolledBack"}},
	})
	pd := newReceiver(t, func(int) int { return http.StatusAccepted })
	hook := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	u, _ := g.f.get(t, g.key.Name)
	spec := u.Object["spec"].(map[string]any)
	spec["notify"].([]any)[0].(map[string]any)["pagerduty"].(map[string]any)["url"] = pd.URL + "/v2/enqueue"
	if err := g.f.env.Client.Update(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	g.secret(t, map[string]string{"pd": "pd-routing-key-3333", "url": hook.URL + "/hooks/" + hookToken})
	r := g.reconciler(t, func(c *operator.Config) { c.NotifyMaxAttempts = 2 })
	s := g.run(t, r, "rolled back with every notification finished", func(s operator.Status) bool {
		return s.Phase == string(canary.PhaseRolledBack) && len(s.Notifications) == 0
	})

	var actions []string
	for _, req := range pd.requests() {
		var ev struct {
			RoutingKey  string `json:"routing_key"`
			EventAction string `json:"event_action"`
			DedupKey    string `json:"dedup_key"`
		}
		if err := json.Unmarshal(req.body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.RoutingKey != "pd-routing-key-3333" || ev.DedupKey != "canary/"+g.f.ns+"/recoveryos-gateway/"+g.uid {
			t.Errorf("PagerDuty event: routing key from the Secret? %v; dedup_key %q", ev.RoutingKey == "pd-routing-key-3333", ev.DedupKey)
		}
		actions = append(actions, ev.EventAction)
	}
	if !slices.Equal(actions, []string{"trigger", "resolve"}) {
		t.Errorf("PagerDuty got %v, want [trigger resolve]", actions)
	}
	if len(s.PagerDutyOpen) != 0 {
		t.Errorf("status.pagerDutyOpen = %v after the resolve", s.PagerDutyOpen)
	}
	want := g.engineEvents(canary.EvRollbackStarted, canary.EvRolledBack)
	if got := len(hook.requests()); got != 2*want || want != 2 {
		t.Errorf("webhook got %d requests, want 2 attempts for each of %d messages", got, want)
	}
	given := g.rec.with("NotificationGivenUp")
	if len(given) != want || !strings.Contains(given[0], "ops via webhook") || !strings.Contains(given[0], "given up after 2 attempt(s)") ||
		!strings.HasPrefix(given[0], "Warning ") {
		t.Errorf("NotificationGivenUp events: %q", given)
	}
	if strings.Contains(g.rec.all(), "pd-routing-key-3333") {
		t.Errorf("an Event shows the routing key")
	}
	g.noSecrets(t)
}
