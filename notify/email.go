package notify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	mail "github.com/wneessen/go-mail"
)

// Email defaults.
const (
	DefaultEmailFrom = "canary@localhost"
	DefaultSMTP      = "localhost:25"
)

// Email sends plain-text mail over SMTP: for a completed step a summary
// with every rule's canary and stable value, for a rollback a notice with
// the rule and the numbers that fired it. The connection is protected as
// TLS says: STARTTLS required by default (implicit TLS on port 465), so a
// server that offers no STARTTLS gets nothing; plain text only when TLS
// is canary.EmailNoTLS, and then without authentication. With a Username
// the client authenticates, always inside TLS.
type Email struct {
	// To lists the recipients. Required.
	To []string
	// From is the sender address. Default: DefaultEmailFrom.
	From string
	// SMTP is the server's host:port. Default: DefaultSMTP.
	SMTP string
	// Username for SMTP AUTH. Default: none, no authentication.
	Username string
	// Password references the SMTP password.
	Password canary.SecretRef
	// TLS is the connection's protection (canary.EmailTLS). Default:
	// implicit TLS on port 465, else STARTTLS required.
	TLS canary.EmailTLS
	Options
}

var _ Sender = (*Email)(nil)

// Send delivers m to every recipient in one mail. The mail carries
// X-Canary-Delivery and a Message-ID derived from m's key, so a retried
// delivery is recognisable. A permanent SMTP reply (5xx) is permanent.
func (e *Email) Send(ctx context.Context, m Message) error {
	addr := e.SMTP
	if addr == "" {
		addr = DefaultSMTP
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return Permanent(fmt.Errorf("email: smtp %q is not host:port", addr))
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return Permanent(fmt.Errorf("email: smtp port %q is not a number", portText))
	}
	mode := e.tlsMode(port)
	if mode == canary.EmailNoTLS && e.Username != "" {
		return Permanent(fmt.Errorf("email via %s: tls: none with a username would send the password in clear text; "+
			"use tls: starttls or tls", addr))
	}
	var password string
	if e.Username != "" {
		if password, err = e.secret(e.Password); err != nil {
			return err
		}
	}
	msg, err := e.message(m)
	if err != nil {
		return Permanent(err)
	}
	client, err := mail.NewClient(host, e.clientOptions(ctx, host, port, mode, password)...)
	if err != nil {
		return Permanent(fmt.Errorf("email via %s: %s", addr, scrub(err.Error(), password)))
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return e.sendError(ctx, addr, err, password)
	}
	return nil
}

// tlsMode is e.TLS or its default for port.
func (e *Email) tlsMode(port int) canary.EmailTLS {
	switch {
	case e.TLS != "":
		return e.TLS
	case port == 465:
		return canary.EmailImplicitTLS
	}
	return canary.EmailSTARTTLS
}

// clientOptions configure go-mail: STARTTLS required, implicit TLS or
// plain text as mode says, auth when a username is set, and a connection
// bounded by ctx.
func (e *Email) clientOptions(ctx context.Context, host string, port int, mode canary.EmailTLS, password string) []mail.Option {
	timeout := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.TLSConfig != nil {
		tc = e.TLSConfig.Clone()
	}
	tc.ServerName = host
	policy := mail.TLSMandatory
	if mode == canary.EmailNoTLS {
		policy = mail.NoTLS
	}
	opts := []mail.Option{
		mail.WithPort(port), mail.WithTLSPolicy(policy), mail.WithTLSConfig(tc),
		mail.WithTimeout(timeout),
	}
	if mode == canary.EmailImplicitTLS && e.Dial == nil {
		// Implicit TLS: go-mail's own TLS dialer, bounded by the timeout.
		return append(append(opts, mail.WithSSL()), e.authOptions(password)...)
	}
	dial := e.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	if mode == canary.EmailImplicitTLS {
		// Implicit TLS over the owner's dialer (go-mail uses a custom
		// dialer's connection as it is).
		opts, dial = append(opts, mail.WithSSL()), tlsOver(dial, tc)
	}
	opts = append(opts, mail.WithDialContextFunc(func(_ context.Context, network, address string) (net.Conn, error) {
		conn, err := dial(ctx, network, address)
		if err == nil {
			context.AfterFunc(ctx, func() { conn.Close() }) // cancel means stop, also mid-session
		}
		return conn, err
	}))
	return append(opts, e.authOptions(password)...)
}

// authOptions authenticate when a username is set.
func (e *Email) authOptions(password string) []mail.Option {
	var opts []mail.Option
	if e.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(e.Username), mail.WithPassword(password))
	}
	return opts
}

// sendError describes a failed SMTP exchange; a 5xx reply is permanent.
func (e *Email) sendError(ctx context.Context, addr string, err error, password string) error {
	if ctx.Err() != nil {
		return transportError("email via "+addr, ctx.Err())
	}
	if strings.Contains(err.Error(), "does not support STARTTLS") {
		return Permanent(fmt.Errorf("email via %s: the server does not offer STARTTLS, which this channel requires "+
			"(nothing was sent; set tls: none on the channel only for a relay on a trusted network)", addr))
	}
	out := fmt.Errorf("email via %s: %s", addr, scrub(err.Error(), password))
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		return Permanent(out)
	}
	return out
}

// message builds the mail for m.
func (e *Email) message(m Message) (*mail.Msg, error) {
	from := e.From
	if from == "" {
		from = DefaultEmailFrom
	}
	msg := mail.NewMsg()
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("email from %q: %w", from, err)
	}
	if err := msg.To(e.To...); err != nil {
		return nil, fmt.Errorf("email to %v: %w", e.To, err)
	}
	subject, body := emailContent(m, e.link(m))
	msg.Subject(subject)
	msg.SetDateWithValue(e.now())
	msg.SetMessageIDWithValue(messageID(m.Key))
	msg.SetGenHeader(mail.Header(HeaderDelivery), m.Key)
	msg.SetGenHeader(mail.Header(HeaderEvent), string(m.Event.Type))
	msg.SetUserAgent("canary-notify/1")
	msg.SetBulk()
	msg.SetBodyString(mail.TypeTextPlain, body)
	return msg, nil
}

// messageID is a Message-ID stable across retries of one key.
func messageID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16]) + "@canary"
}

// emailContent renders m's subject and plain-text body.
func emailContent(m Message, link string) (subject, body string) {
	subject = truncate(fmt.Sprintf("[canary] %s: %s", m.Name(), m.Event.Message), 200)
	var b strings.Builder
	b.WriteString(m.Event.Message + "\n\n")
	facts := [][]string{{"Rollout", m.Name()}}
	if m.Version != "" {
		facts = append(facts, []string{"Version", m.Version})
	}
	if !m.Test {
		label, w := where(m.Event)
		facts = append(facts, []string{label, w})
	}
	if m.Event.Rule != "" {
		facts = append(facts, []string{"Rule", fmt.Sprintf("%s (urgency %s)", m.Event.Rule, m.Event.Urgency)})
	}
	facts = append(facts, []string{"Time", timeText(m.Event.Time)})
	if link != "" {
		facts = append(facts, []string{"Link", link})
	}
	b.WriteString(table(facts, ""))
	b.WriteString(emailDetail(m))
	fmt.Fprintf(&b, "\n-- \ncanary notified the %s audience (delivery %s).\n", m.Audience, m.Key)
	return subject, b.String()
}

// emailDetail is the part that depends on the event: a step summary, a
// rollback notice, or nothing.
func emailDetail(m Message) string {
	var b strings.Builder
	switch m.Event.Type {
	case canary.EvStepCompleted:
		if len(m.Evaluations) > 0 {
			fmt.Fprintf(&b, "\nStep summary: the last evaluation of step %d, every rule on the canary and the stable track\n\n", m.Event.Step+1)
			b.WriteString(table(evaluationRows(m.Evaluations), "  "))
		}
	case canary.EvRollbackStarted:
		fmt.Fprintf(&b, "\nThe canary is being rolled back: its traffic goes to 0%% and the stable version serves every user.\n")
		if len(m.Evaluations) > 0 {
			b.WriteString("\nThe evaluation that decided it:\n\n")
			b.WriteString(table(evaluationRows(m.Evaluations), "  "))
		}
	case canary.EvRolledBack:
		b.WriteString("\nThe rollback is complete: the canary is removed and the stable version serves all traffic.\n")
	case EventTest:
		b.WriteString("\nThis is a test sent by `canary notify test`; nothing happened to any rollout.\n")
	}
	return b.String()
}

// tlsOver dials with dial and completes a TLS handshake with tc.
func tlsOver(dial func(ctx context.Context, network, addr string) (net.Conn, error), tc *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tconn, nil
	}
}
