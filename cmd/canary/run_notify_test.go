package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/sample"
	"github.com/canary-dev/canary/store"
	"github.com/emersion/go-smtp"
)

// notifyPlan is a compressed rollout (two steps of 2s) with a signed
// webhook audience that wants every event and an email audience that
// wants the step summaries and the outcome. %[1]s listen, %[2]s stable,
// %[3]s canary, %[4]s webhook URL, %[5]s SMTP address.
const notifyPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: notified, namespace: shop}
spec:
  version: v2
  traffic:
    proxy: {listen: "%[1]s", stable: "%[2]s", canary: "%[3]s", stickyHeader: X-User-ID}
  steps:
    - {weight: 20, hold: 2s}
    - {weight: 50, hold: 2s}
    - {weight: 100}
  analysis: {interval: 1s, minRequests: 20, maxHoldExtension: 10s}
  rules:
    - {metric: errorRate, above: 5%%, window: 2s, for: 1s, action: rollback-immediate, urgency: critical}
  notify:
    - {audience: partners, webhook: {url: "%[4]s", secret: "env:RUN_NOTIFY_HOOK_SECRET"}}
    - {audience: product, email: {to: [product@example.com], from: canary@example.com, smtp: "%[5]s", tls: none}, on: [stepCompleted, promoted, rolledBack]}
`

const hookSecret = "run-notify-hmac-secret"

// notifyRig is a stable and a canary sample service with load through the
// plan's proxy, a webhook receiver and an SMTP server.
type notifyRig struct {
	plan string // the plan file
	hook *signedHook
	mail *mailReceiver
}

func newNotifyRig(t *testing.T) *notifyRig {
	t.Helper()
	t.Setenv("RUN_NOTIFY_HOOK_SECRET", hookSecret)
	ctx := t.Context()
	fast := sample.LatencyDist{Median: 5 * time.Millisecond, P95: 20 * time.Millisecond}
	stable, err := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	can, err := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := &notifyRig{hook: newSignedHook(t), mail: newMailReceiver(t)}
	listen := freeAddr(t)
	r.plan = filepath.Join(t.TempDir(), "plan.yaml")
	body := fmt.Sprintf(notifyPlan, listen, stable.URL(), can.URL(), r.hook.URL+"/hook", r.mail.addr)
	if err := os.WriteFile(r.plan, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	gen, err := loadgen.Start(ctx, loadgen.Config{Target: "http://" + listen + "/", Rate: 200, Users: 1000, Duration: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gen.Stop() })
	return r
}

// run runs `canary run ARGS... PLAN` in this process.
func (r *notifyRig) run(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Main(ctx, append(append([]string{"run"}, args...), r.plan), &out, &errOut)
	return code, out.String(), errOut.String()
}

// acked lists every key either receiver accepted, in arrival order.
func (r *notifyRig) acked() []string { return append(r.hook.acked(), r.mail.acked()...) }

// signedHook is a webhook receiver: it checks every request's signature
// with notify.VerifySignature and records the keys it accepted (answered
// 2xx). Answer, when set, decides the status of the n-th request (from 1).
type signedHook struct {
	*httptest.Server
	mu      sync.Mutex
	answer  func(n int, key string, ev canary.Event) int
	n       int
	seen    []string // every request's key
	ok      []string // keys answered 2xx
	badSigs []string
	park    *parking
}

func newSignedHook(t *testing.T) *signedHook {
	h := &signedHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Header.Get(notify.HeaderDelivery)
		if err := notify.VerifySignature([]byte(hookSecret), r.Header, body, time.Now(), 0); err != nil {
			h.mu.Lock()
			h.badSigs = append(h.badSigs, key+": "+err.Error())
			h.mu.Unlock()
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var wb notify.WebhookBody
		_ = json.Unmarshal(body, &wb)
		if h.park.hold(key) {
			return // the sender was killed: never answered, never accepted
		}
		h.mu.Lock()
		h.n++
		h.seen = append(h.seen, key)
		status := http.StatusOK
		if h.answer != nil {
			status = h.answer(h.n, key, wb.Event)
		}
		if status < 300 {
			h.ok = append(h.ok, key)
		}
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *signedHook) setAnswer(f func(n int, key string, ev canary.Event) int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answer = f
}

func (h *signedHook) acked() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ok)
}

func (h *signedHook) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

// mailReceiver is a real SMTP server (emersion/go-smtp) recording the
// X-Canary-Delivery key of every mail it accepts.
type mailReceiver struct {
	addr string
	mu   sync.Mutex
	ok   []string
	park *parking
	// slow, when set, is called with each accepted mail's key and says
	// how long the server then takes to answer (a slow receiver).
	slow func(key string) time.Duration
}

func newMailReceiver(t *testing.T) *mailReceiver {
	m := &mailReceiver{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return m
}

func (m *mailReceiver) acked() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.ok)
}

type mailSession struct{ m *mailReceiver }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Reset()                               {}
func (s *mailSession) Logout() error                        { return nil }
func (s *mailSession) Data(r io.Reader) error {
	msg, err := netmail.ReadMessage(r)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, msg.Body)
	key := msg.Header.Get(notify.HeaderDelivery)
	if s.m.park.hold(key) {
		return fmt.Errorf("sender killed")
	}
	s.m.mu.Lock()
	s.m.ok = append(s.m.ok, key)
	slow := s.m.slow
	s.m.mu.Unlock()
	if slow != nil {
		time.Sleep(slow(key)) // accepted: only the answer is late
	}
	return nil
}

// parking holds receivers' requests once armed, until released: the
// kill test stops the sender while they are in flight.
type parking struct {
	mu      sync.Mutex
	armed   bool
	over    bool           // disarmed for good
	held    map[string]int // keys held now
	release chan struct{}
}

func newParking() *parking {
	return &parking{held: map[string]int{}, release: make(chan struct{})}
}

// hold blocks a request for key while armed and reports whether it held
// it (the request then counts as never answered).
func (p *parking) hold(key string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	if !p.armed {
		p.mu.Unlock()
		return false
	}
	p.held[key]++
	p.mu.Unlock()
	<-p.release
	return true
}

func (p *parking) arm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = !p.over
}

// disarm stops holding and lets the held requests go (unanswered to the
// killed sender: they do not count as accepted).
func (p *parking) disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.over {
		p.armed, p.over = false, true
		close(p.release)
	}
}

// heldKeys are the keys held now.
func (p *parking) heldKeys() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.held)
}

func countOf(keys []string, key string) int {
	n := 0
	for _, k := range keys {
		if k == key {
			n++
		}
	}
	return n
}

// routed lists the notifications events cause under the plan in file, as
// event/<seq>/<audience>/<channel> (the part of the key after the
// rollout's identity), sorted.
func routed(t *testing.T, file string, events []canary.Event) []string {
	t.Helper()
	p, err := plan.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range notify.Messages(p, 0, events) {
		out = append(out, fmt.Sprintf("event/%d/%s/%s", m.Event.Seq, m.Audience, m.Channel))
	}
	slices.Sort(out)
	return out
}

var keyRE = regexp.MustCompile(`^rollout/([^/]+)/(event/\d+/[^/]+/[^/]+)$`)

// splitKeys splits delivery keys into their rollout identities and their
// event/<seq>/<audience>/<channel> parts (sorted).
func splitKeys(t *testing.T, keys []string) (ids map[string]bool, rest []string) {
	t.Helper()
	ids = map[string]bool{}
	for _, k := range keys {
		m := keyRE.FindStringSubmatch(k)
		if m == nil {
			t.Fatalf("delivery key %q is not rollout/<id>/event/<seq>/<audience>/<channel>", k)
		}
		ids[m[1]] = true
		rest = append(rest, m[2])
	}
	slices.Sort(rest)
	return ids, rest
}

// storedEvents reads rollout shop/notified's events from a state file.
func storedEvents(t *testing.T, path string) (int64, []canary.Event, []canary.OutboxItem) {
	t.Helper()
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Latest(t.Context(), "shop/notified")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.Events(t.Context(), r.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	items, err := st.Outbox(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID, evs, items
}

// TestRunDeliversNotifications: with --state, a promoted rollout's routed
// notifications reach a signed webhook and an SMTP server exactly once
// each; the webhook's first request is answered 500 and gets through on a
// retry; the terminal shows each send.
func TestRunDeliversNotifications(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: takes about 15s")
	}
	rig := newNotifyRig(t)
	rig.hook.setAnswer(func(n int, _ string, _ canary.Event) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	state := filepath.Join(t.TempDir(), "s.db")
	code, stdout, stderr := rig.run(t.Context(), "-o", "text", "--state", state)
	if code != ExitPromoted {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitPromoted, stdout, stderr)
	}
	id, evs, items := storedEvents(t, state)
	want := routed(t, rig.plan, evs)
	if len(want) < 5 {
		t.Fatalf("only %d routed notifications: %v", len(want), want)
	}
	ids, got := splitKeys(t, rig.acked())
	if !slices.Equal(got, want) {
		t.Errorf("accepted %v\nwant exactly the routed %v", got, want)
	}
	st, err := store.Open(t.Context(), state)
	if err != nil {
		t.Fatal(err)
	}
	wantID := notify.StoreUID(st.UUID(), id) // <database UUID>.<id>: unique across databases
	st.Close()
	if len(ids) != 1 || !ids[wantID] {
		t.Errorf("keys name rollouts %v, want only the store's %s (serve's keys)", slices.Collect(maps.Keys(ids)), wantID)
	}
	reqs := rig.hook.requests()
	if len(reqs) == 0 {
		t.Fatal("no webhook request")
	}
	first := reqs[0] // answered 500
	if n := countOf(reqs, first); n != 2 {
		t.Errorf("%s was sent %d times, want 2 (answered 500, then retried): %v", first, n, reqs)
	}
	if n := countOf(rig.hook.acked(), first); n != 1 {
		t.Errorf("%s accepted %d times, want 1", first, n)
	}
	if len(rig.mail.acked()) == 0 {
		t.Error("no mail")
	}
	if len(rig.hook.badSigs) > 0 {
		t.Errorf("bad signatures: %v", rig.hook.badSigs)
	}
	for _, it := range items {
		if it.Status != canary.OutboxDelivered {
			t.Errorf("outbox %s is %s, want delivered", it.Key, it.Status)
		}
	}
	for _, s := range []string{"✉ partners via webhook: ", "✓ sent", "✉ product via email: ", "answered 500", "(will retry)"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("terminal lacks %q:\n%s", s, stdout)
		}
	}
	if s := fmt.Sprintf("notifications: %d delivered", len(want)); !strings.Contains(stderr, s) {
		t.Errorf("stderr lacks %q:\n%s", s, stderr)
	}
	if strings.Contains(stdout+stderr, hookSecret) {
		t.Error("the webhook secret is shown")
	}
}

// TestRunWithoutStateDeliversNotifications: without --state the routed
// notifications are delivered through a temporary outbox under keys made
// of a run ID (not the temporary store's rollout ID, which repeats);
// with --no-notify nothing is sent and the lines are only printed.
func TestRunWithoutStateDeliversNotifications(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: takes about 20s")
	}
	rig := newNotifyRig(t)
	code, stdout, stderr := rig.run(t.Context(), "-o", "json", "--state", "none")
	if code != ExitPromoted {
		t.Fatalf("exit %d, want %d\n%s", code, ExitPromoted, stderr)
	}
	want := routed(t, rig.plan, parseEvents(t, []byte(stdout)))
	ids, got := splitKeys(t, rig.acked())
	if !slices.Equal(got, want) {
		t.Errorf("accepted %v\nwant exactly the routed %v", got, want)
	}
	if len(ids) != 1 {
		t.Errorf("keys name rollouts %v, want one run ID", ids)
	}
	for id := range ids {
		if !regexp.MustCompile(`^run-[0-9a-f]{16}$`).MatchString(id) {
			t.Errorf("key identity %q, want run-<16 hex>", id)
		}
	}
	if !strings.Contains(stderr, fmt.Sprintf("notifications: %d delivered", len(want))) {
		t.Errorf("stderr: %s", stderr)
	}

	before := len(rig.acked())
	code, stdout, stderr = rig.run(t.Context(), "-o", "text", "--state", "none", "--no-notify")
	if code != ExitPromoted {
		t.Fatalf("--no-notify: exit %d\n%s", code, stderr)
	}
	if len(rig.acked()) != before {
		t.Errorf("--no-notify sent %d notifications", len(rig.acked())-before)
	}
	if !strings.Contains(stdout, "✉ product via email: ") || strings.Contains(stdout, "✓ sent") {
		t.Errorf("--no-notify should print the notifications, not send them:\n%s", stdout)
	}
	if strings.Contains(stderr, "notifications:") {
		t.Errorf("--no-notify reports deliveries: %s", stderr)
	}
}

// TestRunInterruptedResumeNotifies: a run interrupted (Ctrl-C) while the
// webhook is down leaves its undelivered notifications in --state and
// says so; --resume sends them and the rest, each exactly once.
func TestRunInterruptedResumeNotifies(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: takes about 20s")
	}
	rig := newNotifyRig(t)
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	rig.hook.setAnswer(func(_ int, _ string, ev canary.Event) int {
		if ev.Type == canary.EvStepCompleted {
			interrupt() // Ctrl-C once the first step is through
		}
		return http.StatusServiceUnavailable
	})
	state := filepath.Join(t.TempDir(), "s.db")
	code, stdout, stderr := rig.run(ctx, "-o", "json", "--state", state, "--notify-timeout", "300ms")
	if code != ExitPaused {
		t.Fatalf("exit %d, want %d (interrupted)\n%s", code, ExitPaused, stderr)
	}
	for _, s := range []string{"not delivered:", "partners via webhook", "503 Service Unavailable",
		"stay queued in " + state, "continue with: canary run --resume"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	_, evs, _ := storedEvents(t, state)
	if len(evs) == 0 || len(parseEvents(t, []byte(stdout))) != len(evs) {
		t.Fatalf("stored %d events", len(evs))
	}
	if len(rig.hook.acked()) != 0 {
		t.Fatalf("the webhook was down, yet accepted %v", rig.hook.acked())
	}

	rig.hook.setAnswer(nil)
	code, _, stderr = rig.run(t.Context(), "-o", "json", "--state", state, "--resume", "--notify-timeout", "30s")
	if code != ExitPromoted {
		t.Fatalf("--resume: exit %d\n%s", code, stderr)
	}
	rig.assertDelivered(t, state, nil)
}

// TestRunInterruptedSlowReceiver: a run interrupted while an email is
// being sent to an SMTP server that answers only after the exit's grace
// (--notify-timeout) waits for that send (bounded by
// --notify-send-timeout) and records it: --resume does not send it again
// (SMTP has no idempotency key; cut at the grace, it was sent twice).
func TestRunInterruptedSlowReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: takes about 20s")
	}
	rig := newNotifyRig(t)
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	const grace = 300 * time.Millisecond
	rig.mail.mu.Lock()
	rig.mail.slow = func(string) time.Duration {
		interrupt()                          // Ctrl-C once the server has the step's email,
		return grace + 1200*time.Millisecond // which it acknowledges after the grace
	}
	rig.mail.mu.Unlock()
	rig.hook.setAnswer(func(int, string, canary.Event) int { return http.StatusServiceUnavailable })
	state := filepath.Join(t.TempDir(), "s.db")
	code, _, stderr := rig.run(ctx, "-o", "json", "--state", state, "--notify-timeout", grace.String())
	if code != ExitPaused {
		t.Fatalf("exit %d, want %d (interrupted)\n%s", code, ExitPaused, stderr)
	}
	if len(rig.mail.acked()) == 0 {
		t.Fatalf("no email reached the SMTP server before the exit\n%s", stderr)
	}
	_, _, items := storedEvents(t, state)
	for _, it := range items {
		if it.Channel == notify.ChannelEmail && it.Status != canary.OutboxDelivered {
			t.Errorf("%s: %s after the interrupted run (the server accepted it)\n%s", it.Key, it.Status, stderr)
		}
	}

	rig.mail.mu.Lock()
	rig.mail.slow = nil
	rig.mail.mu.Unlock()
	rig.hook.setAnswer(nil)
	code, _, stderr = rig.run(t.Context(), "-o", "json", "--state", state, "--resume", "--notify-timeout", "30s")
	if code != ExitPromoted {
		t.Fatalf("--resume: exit %d\n%s", code, stderr)
	}
	rig.assertDelivered(t, state, nil)
}

// TestRunKilledResumeNotifies: `canary run --state` is killed (SIGKILL)
// while notifications are in flight at both receivers; `--resume` then
// delivers every routed notification, each accepted exactly once: the
// ones cut off are sent again under the same key once their claim's
// lease (3 × --notify-send-timeout) runs out, none is lost, none is
// accepted twice.
func TestRunKilledResumeNotifies(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with a child process: takes about 20s")
	}
	// Hold every request after the first step completed, until the kill.
	rig, park := newParkedRig(t, func(ev canary.Event) bool { return ev.Type == canary.EvStepCompleted })
	state := filepath.Join(t.TempDir(), "s.db")
	// Kill once requests are held and every claimed item is one of them:
	// nothing the receivers accepted is left unrecorded, so an accepted
	// duplicate could only come from canary.
	var held map[string]int
	killRunWhen(t, park, []string{"run", "-o", "json", "--state", state, "--notify-send-timeout", "2s", rig.plan},
		"no moment with every claimed notification held at a receiver", func() bool {
			held = park.heldKeys()
			return len(held) > 0 && claimedAreHeld(t, state, held)
		})
	acceptedBefore := len(rig.acked())

	code, _, stderr := rig.run(t.Context(), "-o", "json", "--state", state, "--resume",
		"--notify-send-timeout", "2s", "--notify-timeout", "1m")
	if code != ExitPromoted {
		t.Fatalf("--resume: exit %d\n%s", code, stderr)
	}
	rig.assertDelivered(t, state, held)
	t.Logf("%d accepted before the kill, %d held, %d after --resume", acceptedBefore, len(held), len(rig.acked())-acceptedBefore)
}

// assertDelivered checks the state file once the notifications should
// all be out: the receivers accepted exactly the routed notifications of
// its stored events, each key in held (cut off by a kill) exactly once,
// and every outbox item is delivered.
func (r *notifyRig) assertDelivered(t *testing.T, state string, held map[string]int) {
	t.Helper()
	_, evs, items := storedEvents(t, state)
	want := routed(t, r.plan, evs)
	_, got := splitKeys(t, r.acked())
	if !slices.Equal(got, want) {
		t.Errorf("accepted %v\nwant exactly the routed %v", got, want)
	}
	for k := range held {
		if n := countOf(r.acked(), k); n != 1 {
			t.Errorf("%s, cut off by the kill, accepted %d times, want 1", k, n)
		}
	}
	for _, it := range items {
		if it.Status != canary.OutboxDelivered {
			t.Errorf("outbox %s is %s, want delivered", it.Key, it.Status)
		}
	}
}

// newParkedRig is a notifyRig whose receivers both hold (park) every
// request once the webhook was sent an event holdFrom accepts, until the
// parking is disarmed; the webhook answers 200 otherwise.
func newParkedRig(t *testing.T, holdFrom func(canary.Event) bool) (*notifyRig, *parking) {
	t.Helper()
	rig := newNotifyRig(t)
	park := newParking()
	rig.hook.park, rig.mail.park = park, park
	rig.hook.setAnswer(func(_ int, _ string, ev canary.Event) int {
		if holdFrom(ev) {
			park.arm()
		}
		return http.StatusOK
	})
	return rig, park
}

// killRunWhen runs `canary <args>` as a separate process and kills it
// (SIGKILL) as soon as ready, polled every 10ms, reports true; then it
// lets the requests held at park go. It fails t if the process exits on
// its own first or ready stays false for a minute (never says what did
// not come), with the process's output; the process dies with the test
// in any case.
func killRunWhen(t *testing.T, park *parking, args []string, never string, ready func() bool) {
	t.Helper()
	argv, _ := json.Marshal(args)
	logPath := filepath.Join(t.TempDir(), "child.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envServeChild+"="+string(argv))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		park.disarm()
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("canary run exited before the kill: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%s\n%s", never, log)
		}
		if ready() {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	park.disarm()
}

// notifiedOutbox reads rollout shop/notified and its outbox from the
// state file, read-only (a running canary may hold it); ok is false if
// that fails.
func notifiedOutbox(t *testing.T, path string) (r store.Rollout, items []canary.OutboxItem, ok bool) {
	t.Helper()
	st, err := store.OpenConfig(t.Context(), store.Config{Path: path, ReadOnly: true})
	if err != nil {
		return r, nil, false
	}
	defer st.Close()
	if r, err = st.Latest(t.Context(), "shop/notified"); err != nil {
		return r, nil, false
	}
	if items, err = st.Outbox(t.Context(), r.ID); err != nil {
		return r, nil, false
	}
	return r, items, true
}

// claimedAreHeld reports whether every claimed outbox item in the state
// file is a request held at a receiver now.
func claimedAreHeld(t *testing.T, path string, held map[string]int) bool {
	t.Helper()
	_, items, ok := notifiedOutbox(t, path)
	if !ok {
		return false
	}
	for _, it := range items {
		if it.Status == canary.OutboxClaimed && held[it.Key] == 0 {
			return false
		}
	}
	return true
}
