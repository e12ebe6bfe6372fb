package notify

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// plainSMTP is a real SMTP server (emersion/go-smtp) that offers no
// STARTTLS but does offer AUTH CRAM-MD5 and PLAIN in clear text
// (AllowInsecureAuth): the server of the security probe. It records the
// AUTH mechanisms clients try and the mails it receives.
type plainSMTP struct {
	*smtpReceiver
	mu    sync.Mutex
	auths []string
}

func newPlainSMTP(t *testing.T) *plainSMTP {
	p := &plainSMTP{smtpReceiver: &smtpReceiver{}}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &plainSession{smtpSession: &smtpSession{r: p.smtpReceiver, conn: c}, p: p}, nil
	}))
	s.Domain, s.AllowInsecureAuth = "localhost", true
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return p
}

func (p *plainSMTP) authTries() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auths...)
}

type plainSession struct {
	*smtpSession
	p *plainSMTP
}

func (s *plainSession) AuthMechanisms() []string { return []string{"CRAM-MD5", sasl.Plain} }

func (s *plainSession) Auth(mech string) (sasl.Server, error) {
	s.p.mu.Lock()
	s.p.auths = append(s.p.auths, mech)
	s.p.mu.Unlock()
	return sasl.NewPlainServer(func(_, user, _ string) error { s.user = user; return nil }), nil
}

// TestEmailRequiresSTARTTLS: against a server that offers no STARTTLS,
// the default channel sends nothing and fails permanently saying why,
// and with a username it never tries AUTH (CRAM-MD5 or any other) in
// clear text. Only tls: none sends in plain text, and then without a
// username: with one it is refused before connecting.
func TestEmailRequiresSTARTTLS(t *testing.T) {
	srv := newPlainSMTP(t)
	setSecrets(t, "http://unused")
	m := messages(t)["email-clinical-rolledBack"]
	for _, user := range []string{"", "canary"} {
		e := &Email{To: []string{"c@example.com"}, SMTP: srv.Addr, Username: user}
		if user != "" {
			e.Password = "env:TEST_SMTP_PASSWORD"
		}
		err := e.Send(t.Context(), m)
		if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "does not offer STARTTLS") ||
			!strings.Contains(err.Error(), "tls: none") {
			t.Errorf("username %q: err %v; want a permanent error saying STARTTLS is missing and how to opt out", user, err)
		}
		if err != nil && strings.Contains(err.Error(), smtpPassword) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if got := srv.authTries(); len(got) != 0 {
		t.Errorf("AUTH tried in clear text: %v", got)
	}
	if got := srv.received(); len(got) != 0 {
		t.Fatalf("mail sent without TLS: %+v", got)
	}

	refused := &Email{To: []string{"c@example.com"}, SMTP: srv.Addr, Username: "canary", Password: "env:TEST_SMTP_PASSWORD",
		TLS: canary.EmailNoTLS}
	if err := refused.Send(t.Context(), m); err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "clear text") {
		t.Errorf("tls: none with a username: err %v; want a permanent refusal", err)
	}
	if got := srv.authTries(); len(got) != 0 {
		t.Errorf("AUTH tried in clear text with tls: none: %v", got)
	}

	plain := &Email{To: []string{"c@example.com"}, SMTP: srv.Addr, TLS: canary.EmailNoTLS}
	if err := plain.Send(t.Context(), m); err != nil {
		t.Fatalf("tls: none: %v", err)
	}
	if got := srv.received(); len(got) != 1 || got[0].TLS || got[0].User != "" {
		t.Errorf("tls: none: received %+v; want one mail in plain text without AUTH", got)
	}
}
