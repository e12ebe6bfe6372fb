package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
)

// runNotify runs `canary notify ARGS...` as Main would once the command is
// added to the root, and returns the exit code and output.
func runNotify(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRoot(&stdout, &stderr)
	root.AddCommand(newNotifyCmd())
	root.SetArgs(append([]string{"notify"}, args...))
	err := root.ExecuteContext(t.Context())
	if err != nil {
		report(&stderr, err)
	}
	return exitCode(err), stdout.String(), stderr.String()
}

// mailSink is an SMTP server counting the mails it accepts.
type mailSink struct{ n atomic.Int32 }

func (s *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return s, nil }
func (s *mailSink) Mail(string, *smtp.MailOptions) error        { return nil }
func (s *mailSink) Rcpt(string, *smtp.RcptOptions) error        { return nil }
func (s *mailSink) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.n.Add(1)
	return err
}
func (s *mailSink) Reset()        {}
func (s *mailSink) Logout() error { return nil }

func TestNotifyTestCommand(t *testing.T) {
	var hits atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer ok.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "receiver misconfigured", http.StatusForbidden)
	}))
	defer broken.Close()
	sink := &mailSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	t.Setenv("NOTIFY_CMD_SLACK", ok.URL+"/services/T1/B1/secrettoken")
	t.Setenv("NOTIFY_CMD_PD", "routing-key-123")

	planFile := filepath.Join(t.TempDir(), "plan.yaml")
	yaml := fmt.Sprintf(`apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 5, hold: 30m}, {weight: 100}]
  rules: [{metric: errorRate, above: 5%%, action: rollback-immediate}]
  notify:
    - {audience: engineering, slack: {webhookURL: "env:NOTIFY_CMD_SLACK"}}
    - {audience: product, email: {to: [product@example.com], smtp: "%s", tls: none}}
    - {audience: on-call, pagerduty: {routingKey: "env:NOTIFY_CMD_PD", url: "%s"}}
    - {audience: partners, webhook: {url: "%s"}}
`, ln.Addr(), ok.URL, broken.URL)
	if err := os.WriteFile(planFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runNotify(t, "test", planFile)
	if code != ExitUnavailable {
		t.Errorf("exit %d, want %d (one channel fails)\n%s%s", code, ExitUnavailable, out, errOut)
	}
	for _, want := range []string{
		"engineering  slack      ok", "product      email      ok", "on-call      pagerduty  ok",
		"partners     webhook    error: webhook " + broken.URL + " answered 403 Forbidden: receiver misconfigured",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "1 of 4 channels failed") {
		t.Errorf("stderr %q", errOut)
	}
	if hits.Load() != 3 || sink.n.Load() != 1 { // Slack, PagerDuty trigger and resolve; one mail
		t.Errorf("%d HTTP requests and %d mails, want 3 and 1", hits.Load(), sink.n.Load())
	}
	if strings.Contains(out+errOut, "secrettoken") || strings.Contains(out+errOut, "routing-key-123") {
		t.Errorf("output shows a secret:\n%s%s", out, errOut)
	}

	code, out, _ = runNotify(t, "test", planFile, "--audience", "engineering")
	if code != 0 || strings.TrimSpace(out) != "engineering  slack  ok" {
		t.Errorf("--audience engineering: exit %d\n%s", code, out)
	}
	code, _, errOut = runNotify(t, "test", planFile, "--audience", "nobody")
	if code != ExitInvalid || !strings.Contains(errOut, `no audience "nobody"`) {
		t.Errorf("unknown audience: exit %d, %s", code, errOut)
	}
	t.Setenv("NOTIFY_CMD_SLACK", "")
	code, out, _ = runNotify(t, "test", planFile, "--audience", "engineering")
	if code != ExitUnavailable || !strings.Contains(out, "error: secret env:NOTIFY_CMD_SLACK is empty") {
		t.Errorf("missing secret: exit %d\n%s", code, out)
	}
}
