package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./notify -update rewrites it)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// t0 is the fixtures' start time.
var t0 = time.Date(2025, 8, 14, 10, 0, 0, 0, time.UTC)

// testPlan is the runbook's notification plan with every channel pointed
// at the test's receivers.
func testPlan(t testing.TB, r receivers) *canary.Plan {
	t.Helper()
	yaml := fmt.Sprintf(`apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: recoveryos-elite, namespace: recoveryos}
spec:
  version: v1.0.0-elite
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 5, hold: 30m}, {weight: 10, hold: 30m}, {weight: 100}]
  rules:
    - {metric: latencyP95, above: 600ms, for: 5m, action: rollback-gradual, urgency: medium}
    - {metric: errorRate, above: 5%%, for: 1m, action: rollback-immediate, urgency: critical}
  notify:
    - {audience: engineering, slack: {webhookURL: "env:TEST_SLACK_WEBHOOK"}, on: [all]}
    - {audience: product, email: {to: [product@recoveryos.com], from: canary@recoveryos.com, smtp: "%[1]s", username: canary, password: "env:TEST_SMTP_PASSWORD"}, on: [stepCompleted, promoted, rolledBack]}
    - {audience: clinical, email: {to: [clinical@recoveryos.com], smtp: "%[1]s", username: canary, password: "env:TEST_SMTP_PASSWORD"}, on: [rolledBack]}
    - {audience: on-call, pagerduty: {routingKey: "env:TEST_PD_KEY", url: "%[2]s"}, on: [rolledBack], minUrgency: high}
    - {audience: audit, webhook: {url: "%[3]s", secret: "env:TEST_WEBHOOK_SECRET"}, on: [stepCompleted, rollbackStarted, rolledBack, promoted]}
`, r.smtp, r.pagerduty, r.webhook)
	p, err := plan.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// receivers are where testPlan's channels point.
type receivers struct{ smtp, pagerduty, webhook string }

// The secrets the tests use, set by setSecrets.
const (
	slackToken    = "T0001/B0002/s3cr3tSlackToken"
	pdKey         = "R0UT1NGK3Y0123456789abcdef0123"
	webhookSecret = "whsec-0123456789"
	smtpPassword  = "smtp-pa55word"
)

// setSecrets puts the secrets in the environment, the Slack URL pointing
// at slackURL.
func setSecrets(t *testing.T, slackURL string) {
	t.Setenv("TEST_SLACK_WEBHOOK", slackURL+"/services/"+slackToken)
	t.Setenv("TEST_PD_KEY", pdKey)
	t.Setenv("TEST_WEBHOOK_SECRET", webhookSecret)
	t.Setenv("TEST_SMTP_PASSWORD", smtpPassword)
}

func ptr[T any](v T) *T { return &v }

// step1Evals is the last evaluation of step 1: both rules pass.
var step1Evals = []canary.Evaluation{
	{Rule: "latencyP95 > 600ms for 5m", Metric: "latencyP95", Window: 30 * time.Second, Value: 0.45, Samples: 1240,
		Threshold: 0.6, Op: "above", Verdict: canary.VerdictPass, Stable: ptr(0.43)},
	{Rule: "errorRate > 5% for 1m", Metric: "errorRate", Window: 30 * time.Second, Value: 0.001, Samples: 1240,
		Threshold: 0.05, Op: "above", Verdict: canary.VerdictPass, Stable: ptr(0.0008)},
}

// breachEvals is the evaluation that fires the immediate rollback.
var breachEvals = []canary.Evaluation{
	{Rule: "latencyP95 > 600ms for 5m", Metric: "latencyP95", Window: 30 * time.Second, Value: 0.52, Samples: 2410,
		Threshold: 0.6, Op: "above", Verdict: canary.VerdictPass, Stable: ptr(0.44)},
	{Rule: "errorRate > 5% for 1m", Metric: "errorRate", Window: 30 * time.Second, Value: 0.062, Samples: 2410,
		Threshold: 0.05, Op: "above", Verdict: canary.VerdictBreach, Stable: ptr(0.001), PendingFor: time.Minute, Firing: true},
}

// rolloutEvents is a rollout that completes step 1 and is rolled back
// immediately in step 2, in the batches the runner would commit.
func rolloutEvents() [][]canary.Event {
	ev := func(seq int64, min int, typ canary.EventType, phase canary.Phase, step, weight int, u canary.Urgency, msg string) canary.Event {
		return canary.Event{Seq: seq, Time: t0.Add(time.Duration(min) * time.Minute), Rollout: "recoveryos-elite",
			Type: typ, Phase: phase, Step: step, Weight: weight, Urgency: u, Message: msg}
	}
	evaluated := ev(4, 30, canary.EvEvaluated, canary.PhaseProgressing, 0, 5, "", "evaluated 2 rules: 2 pass")
	evaluated.Evaluations = step1Evals
	rollback := ev(8, 41, canary.EvRollbackStarted, canary.PhaseRollingBack, 1, 10, canary.UrgencyCritical,
		"🚨 ROLLBACK INITIATED (immediate): errorRate 6.2% > 5% for 1m")
	rollback.Rule, rollback.Evaluations = "errorRate > 5% for 1m", breachEvals
	return [][]canary.Event{
		{
			ev(1, 0, canary.EvCreated, canary.PhasePreChecks, 0, 0, canary.UrgencyLow, "rollout of recoveryos-elite v1.0.0-elite started: 3 steps, 2 rules"),
			ev(2, 0, canary.EvStepStarted, canary.PhaseProgressing, 0, 5, canary.UrgencyLow, "step 1 (5%) started: 5% of traffic to v1.0.0-elite, hold 30m"),
		},
		{
			ev(3, 29, canary.EvEvaluated, canary.PhaseProgressing, 0, 5, "", "evaluated 2 rules: 2 pass"),
			evaluated,
			ev(5, 30, canary.EvStepCompleted, canary.PhaseProgressing, 0, 5, canary.UrgencyLow, "✅ Canary step 1 (5%) successful. P95: 450ms, Error rate: 0.1%"),
		},
		{
			ev(6, 30, canary.EvStepStarted, canary.PhaseProgressing, 1, 10, canary.UrgencyLow, "step 2 (10%) started: 10% of traffic to v1.0.0-elite, hold 30m"),
			ev(7, 40, canary.EvRulePending, canary.PhaseProgressing, 1, 10, canary.UrgencyLow, "errorRate > 5% for 1m pending: errorRate 6.2% > 5%"),
		},
		{rollback},
		{
			ev(9, 41, canary.EvRolledBack, canary.PhaseRolledBack, 1, 0, canary.UrgencyCritical,
				"↩️ v1.0.0-elite rolled back (immediate): errorRate 6.2% > 5% for 1m; the stable version serves all traffic"),
		},
	}
}

// request is one HTTP request a receiver got.
type request struct {
	Header http.Header
	Path   string
	Body   []byte
	At     time.Time
}

// httpReceiver is a real HTTP server that records requests and answers
// with Answer (default 200).
type httpReceiver struct {
	*httptest.Server
	// Answer decides the response to the n-th request (from 1).
	Answer func(n int, r *http.Request) (status int, body string)

	mu   sync.Mutex
	reqs []request
}

func newReceiver(t *testing.T) *httpReceiver {
	h := &httpReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, request{Header: r.Header.Clone(), Path: r.URL.Path, Body: body, At: time.Now()})
		n := len(h.reqs)
		answer := h.Answer
		h.mu.Unlock()
		status, text := http.StatusOK, "ok"
		if answer != nil {
			status, text = answer(n, r)
		}
		w.WriteHeader(status)
		io.WriteString(w, text)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *httpReceiver) requests() []request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]request(nil), h.reqs...)
}

// receivedMail is one message an SMTP server received.
type receivedMail struct {
	From    string
	To      []string
	Subject string
	Header  netmail.Header
	Body    string // decoded text
	TLS     bool   // received over STARTTLS
	User    string // authenticated user
}

// smtpReceiver is a real SMTP server (emersion/go-smtp) on 127.0.0.1.
type smtpReceiver struct {
	Addr string
	// CA verifies the server's certificate when it offers STARTTLS.
	CA *x509.CertPool

	mu    sync.Mutex
	mails []receivedMail
}

// newSMTP starts an SMTP server. With tlsAuth it offers STARTTLS and
// AUTH PLAIN (user canary, smtpPassword) and requires both.
func newSMTP(t *testing.T, tlsAuth bool) *smtpReceiver {
	r := &smtpReceiver{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{r: r, conn: c, requireAuth: tlsAuth}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	if tlsAuth {
		cfg, pool := selfSigned(t)
		s.TLSConfig, r.CA = cfg, pool
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return r
}

func (r *smtpReceiver) received() []receivedMail {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedMail(nil), r.mails...)
}

type smtpSession struct {
	r           *smtpReceiver
	conn        *smtp.Conn
	requireAuth bool
	user        string
	from        string
	to          []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "canary" || pass != smtpPassword {
			return errors.New("invalid credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.requireAuth && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	msg, err := netmail.ReadMessage(r)
	if err != nil {
		return err
	}
	raw, _ := io.ReadAll(msg.Body)
	body := string(raw)
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return err
		}
		body = string(b)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.mails = append(s.r.mails, receivedMail{From: s.from, To: s.to, Subject: subject, Header: msg.Header,
		Body: strings.ReplaceAll(body, "\r\n", "\n"), TLS: isTLS, User: s.user})
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// selfSigned returns a server TLS config for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// testStore opens a store in a temporary directory.
func testStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "canary.db")
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// createRollout stores a rollout of p with no events yet.
func createRollout(t *testing.T, st *store.Store, p *canary.Plan) int64 {
	t.Helper()
	r, err := st.Create(t.Context(), p.Metadata.Namespace+"/"+p.Metadata.Name, []byte("plan"),
		canary.State{Name: p.Metadata.Name, Version: p.Spec.Version, Phase: canary.PhasePending}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// commit appends a batch of events with their notifications, as the
// runner does.
func commit(t *testing.T, st *store.Store, p *canary.Plan, id int64, batch []canary.Event) {
	t.Helper()
	last := batch[len(batch)-1]
	state := canary.State{Name: p.Metadata.Name, Version: p.Spec.Version, Phase: last.Phase, EventSeq: last.Seq}
	if err := st.Commit(t.Context(), id, state, batch, store.WithOutbox(OutboxItems(p, id, batch)...)); err != nil {
		t.Fatal(err)
	}
}

// startDeliverer runs a Deliverer until the test ends or stop is called.
func startDeliverer(t *testing.T, cfg Config) (stop func()) {
	t.Helper()
	d, err := NewDeliverer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	canarytest.WaitUntil(t, 20*time.Second, what, cond)
}

// finished reports whether every outbox item of rollout id is delivered
// or given up.
func finished(t *testing.T, st *store.Store, id int64) bool {
	items, err := st.Outbox(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Status != canary.OutboxDelivered && it.Status != canary.OutboxDead {
			return false
		}
	}
	return len(items) > 0
}

var _ Outbox = (*store.Store)(nil)

// planHead is a plan of shop/web without its notify section: a format
// (its % written %%) that tests end with their audiences.
const planHead = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 5, hold: 30m}, {weight: 100}]
  rules: [{metric: errorRate, above: 5%%, action: rollback-immediate}]
`
