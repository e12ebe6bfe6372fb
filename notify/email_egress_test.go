package notify

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/egress"
)

// TestEmailThroughOwnerDialer: with Options.Dial (serve's and the
// operator's outbound policy) an SMTP server the policy refuses gets no
// connection, and one it allows gets the mail.
func TestEmailThroughOwnerDialer(t *testing.T) {
	srv := newSMTP(t, false)
	deny := &egress.Policy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	e := &Email{To: []string{"a@example.com"}, SMTP: srv.Addr, TLS: canary.EmailNoTLS, Options: Options{Dial: deny.DialContext}}
	err := e.Send(t.Context(), messages(t)["email-clinical-rolledBack"])
	if err == nil || !strings.Contains(err.Error(), "refused by the outbound policy") {
		t.Fatalf("send through a denying policy: %v", err)
	}
	if n := len(srv.received()); n != 0 {
		t.Fatalf("the refused server received %d mails", n)
	}
	e.Options.Dial = (&egress.Policy{}).DialContext
	if err := e.Send(t.Context(), messages(t)["email-clinical-rolledBack"]); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.received()); n != 1 {
		t.Fatalf("received %d mails, want 1", n)
	}
}
