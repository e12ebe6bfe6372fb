package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/slack-go/slack"
)

// messages are the fixtures' notable messages, by golden-file name.
func messages(t *testing.T) map[string]Message {
	p := testPlan(t, receivers{smtp: "127.0.0.1:25", pagerduty: "http://127.0.0.1:1", webhook: "http://127.0.0.1:1"})
	out := map[string]Message{}
	for _, batch := range rolloutEvents() {
		for _, it := range OutboxItems(p, 7, batch) {
			m, err := decodeItem(it)
			if err != nil {
				t.Fatal(err)
			}
			out[m.Channel+"-"+m.Audience+"-"+string(m.Event.Type)] = m
		}
	}
	return out
}

// indent re-indents JSON for a readable golden file.
func indent(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return append(out.Bytes(), '\n')
}

func TestSlackPostsBlockKit(t *testing.T) {
	rcv := newReceiver(t)
	setSecrets(t, rcv.URL)
	ms := messages(t)
	s := &Slack{WebhookURL: "env:TEST_SLACK_WEBHOOK", Options: Options{BaseURL: "https://canary.example.com"}}
	for _, typ := range []string{"stepCompleted", "rollbackStarted", "rolledBack", "rulePending"} {
		m := ms["slack-engineering-"+typ]
		if err := s.Send(t.Context(), m); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		reqs := rcv.requests()
		req := reqs[len(reqs)-1]
		if req.Path != "/services/"+slackToken {
			t.Errorf("posted to %s, want the webhook's path", req.Path)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var got slack.WebhookMessage
		if err := json.Unmarshal(req.Body, &got); err != nil {
			t.Fatalf("%s: body is not a Slack webhook message: %v", typ, err)
		}
		if got.Text == "" || got.Blocks == nil || len(got.Blocks.BlockSet) < 2 {
			t.Fatalf("%s: want fallback text and blocks, got %s", typ, req.Body)
		}
		if first, ok := got.Blocks.BlockSet[0].(*slack.SectionBlock); !ok || first.Text.Type != slack.MarkdownType ||
			!strings.Contains(first.Text.Text, strings.NewReplacer(">", "&gt;").Replace(m.Event.Message)) {
			t.Errorf("%s: first block %#v does not carry the event's message", typ, got.Blocks.BlockSet[0])
		}
		last, ok := got.Blocks.BlockSet[len(got.Blocks.BlockSet)-1].(*slack.ContextBlock)
		if !ok || !strings.Contains(last.ContextElements.Elements[0].(*slack.TextBlockObject).Text,
			"<https://canary.example.com/rollouts/7|Open in canary>") {
			t.Errorf("%s: no link to the rollout in %s", typ, req.Body)
		}
		golden(t, "slack-"+typ+".json", indent(t, req.Body))
	}
}

func TestSlackErrorsNeverShowTheToken(t *testing.T) {
	rcv := newReceiver(t)
	setSecrets(t, rcv.URL)
	m := messages(t)["slack-engineering-rolledBack"]
	s := &Slack{WebhookURL: "env:TEST_SLACK_WEBHOOK"}
	tests := []struct {
		name      string
		status    int
		body      string
		permanent bool
		want      string
	}{
		{"revoked webhook", http.StatusNotFound, "no_service", true, "answered 404 Not Found: no_service"},
		{"slack down", http.StatusInternalServerError, "<html>oops " + slackToken + "</html>", false, "answered 500"},
		{"invalid token echoed", http.StatusForbidden, "invalid_token " + slackToken, true, "invalid_token [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv.Answer = func(int, *http.Request) (int, string) { return tt.status, tt.body }
			err := s.Send(t.Context(), m)
			if err == nil || !strings.Contains(err.Error(), tt.want) || IsPermanent(err) != tt.permanent {
				t.Fatalf("err %v (permanent %v), want %q (permanent %v)", err, IsPermanent(err), tt.want, tt.permanent)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	t.Run("rate limited", func(t *testing.T) {
		rl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		defer rl.Close()
		t.Setenv("TEST_SLACK_WEBHOOK", rl.URL+"/services/"+slackToken)
		err := s.Send(t.Context(), m)
		if retryAfter(err) != 7*time.Second || IsPermanent(err) {
			t.Errorf("err %v: retry after %s, want 7s and not permanent", err, retryAfter(err))
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Setenv("TEST_SLACK_WEBHOOK", "http://"+closedAddr(t)+"/services/"+slackToken)
		err := s.Send(t.Context(), m)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "env:TEST_SLACK_WEBHOOK") {
			t.Errorf("err %v: want the reference, not the URL", err)
		}
	})
	t.Run("secret not set", func(t *testing.T) {
		t.Setenv("TEST_SLACK_WEBHOOK", "")
		err := s.Send(t.Context(), m)
		if err == nil || !strings.Contains(err.Error(), "secret env:TEST_SLACK_WEBHOOK") {
			t.Errorf("err %v", err)
		}
	})
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestWebhookIsSignedAndVerifies(t *testing.T) {
	rcv := newReceiver(t)
	setSecrets(t, rcv.URL)
	now := t0.Add(time.Hour)
	w := &Webhook{URL: rcv.URL + "/hooks/canary", Secret: "env:TEST_WEBHOOK_SECRET",
		Options: Options{BaseURL: "https://canary.example.com", Clock: canarytest.NewClock(now)}}
	ms := messages(t)
	for _, typ := range []string{"stepCompleted", "rollbackStarted", "rolledBack"} {
		m := ms["webhook-audit-"+typ]
		if err := w.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		reqs := rcv.requests()
		req := reqs[len(reqs)-1]
		if got := req.Header.Get(HeaderDelivery); got != m.Key {
			t.Errorf("%s = %q, want %q", HeaderDelivery, got, m.Key)
		}
		if got := req.Header.Get(HeaderTimestamp); got != strconv.FormatInt(now.Unix(), 10) {
			t.Errorf("%s = %q", HeaderTimestamp, got)
		}
		if err := VerifySignature([]byte(webhookSecret), req.Header, req.Body, now.Add(time.Minute), 0); err != nil {
			t.Errorf("%s: a genuine request does not verify: %v", typ, err)
		}
		var body WebhookBody
		if err := json.Unmarshal(req.Body, &body); err != nil || body.Event.Type != m.Event.Type || body.Delivery != m.Key {
			t.Errorf("%s: body %s (%v)", typ, req.Body, err)
		}
		golden(t, "webhook-"+typ+".json", indent(t, req.Body))
	}

	req := rcv.requests()[0]
	tampered := bytes.Replace(req.Body, []byte(`"weight":5`), []byte(`"weight":50`), 1)
	oldHeader := req.Header.Clone()
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"genuine", webhookSecret, req.Header, req.Body, now, nil},
		{"tampered body", webhookSecret, req.Header, tampered, now, ErrBadSignature},
		{"wrong secret", "not-the-secret", req.Header, req.Body, now, ErrBadSignature},
		// Captured and replayed after the window: refused.
		{"old timestamp", webhookSecret, oldHeader, req.Body, now.Add(DefaultReplayWindow + time.Second), ErrStale},
		{"future timestamp", webhookSecret, oldHeader, req.Body, now.Add(-DefaultReplayWindow - time.Second), ErrStale},
		{"no signature", webhookSecret, http.Header{}, req.Body, now, ErrNoSignature},
		{"timestamp changed", webhookSecret, withHeader(req.Header, HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)), req.Body, now, ErrBadSignature},
		{"not hex", webhookSecret, withHeader(req.Header, HeaderSignature, "sha256=zz"), req.Body, now, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature([]byte(tt.secret), tt.header, tt.body, tt.now, DefaultReplayWindow)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifySignature = %v, want %v", err, tt.want)
			}
		})
	}
}

func withHeader(h http.Header, k, v string) http.Header {
	c := h.Clone()
	c.Set(k, v)
	return c
}

func TestWebhookURLCredentialsAreRedacted(t *testing.T) {
	w := &Webhook{URL: "http://user:hunter2@" + closedAddr(t) + "/hook?token=abcdef123"}
	err := w.Send(t.Context(), messages(t)["webhook-audit-rolledBack"])
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "abcdef123") {
		t.Errorf("err %v shows a credential", err)
	}
	if !strings.Contains(err.Error(), "token=redacted") {
		t.Errorf("err %v: want the redacted URL", err)
	}
}

func TestWebhookAnswers(t *testing.T) {
	rcv := newReceiver(t)
	m := messages(t)["webhook-audit-rolledBack"]
	w := &Webhook{URL: rcv.URL}
	tests := []struct {
		status    int
		ok        bool
		permanent bool
	}{
		{http.StatusOK, true, false}, {http.StatusAccepted, true, false}, {http.StatusNoContent, true, false},
		{http.StatusBadRequest, false, true}, {http.StatusGone, false, true},
		{http.StatusRequestTimeout, false, false}, {http.StatusTooManyRequests, false, false},
		{http.StatusInternalServerError, false, false}, {http.StatusBadGateway, false, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			rcv.Answer = func(int, *http.Request) (int, string) { return tt.status, "detail" }
			err := w.Send(t.Context(), m)
			if (err == nil) != tt.ok || IsPermanent(err) != tt.permanent {
				t.Errorf("err %v (permanent %v), want ok %v permanent %v", err, IsPermanent(err), tt.ok, tt.permanent)
			}
		})
	}
	if h := rcv.requests()[0].Header; h.Get(HeaderSignature) != "" || h.Get(HeaderTimestamp) == "" {
		t.Errorf("without a secret: signature %q, timestamp %q; want none and one", h.Get(HeaderSignature), h.Get(HeaderTimestamp))
	}
}

func TestEmailOverSTARTTLSWithAuth(t *testing.T) {
	srv := newSMTP(t, true)
	setSecrets(t, "http://unused")
	ms := messages(t)
	e := &Email{To: []string{"product@recoveryos.com"}, From: "canary@recoveryos.com", SMTP: srv.Addr,
		Username: "canary", Password: "env:TEST_SMTP_PASSWORD",
		Options: Options{BaseURL: "https://canary.example.com", TLSConfig: &tls.Config{RootCAs: srv.CA}}}
	for i, name := range []string{"product-stepCompleted", "product-rolledBack", "clinical-rolledBack"} {
		m := ms["email-"+name]
		if err := e.Send(t.Context(), m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := srv.received()[i]
		if !got.TLS || got.User != "canary" {
			t.Errorf("%s: TLS %v, user %q; want STARTTLS and AUTH", name, got.TLS, got.User)
		}
		if got.From != "canary@recoveryos.com" || len(got.To) != 1 || got.To[0] != "product@recoveryos.com" {
			t.Errorf("%s: from %s to %v", name, got.From, got.To)
		}
		if got.Header.Get(HeaderDelivery) != m.Key || got.Header.Get("Message-Id") != "<"+messageID(m.Key)+">" {
			t.Errorf("%s: delivery %q, Message-ID %q", name, got.Header.Get(HeaderDelivery), got.Header.Get("Message-Id"))
		}
		golden(t, "email-"+name+".txt", []byte("Subject: "+got.Subject+"\n\n"+got.Body))
	}
	rollback := ms["email-product-rolledBack"]
	rollback.Event, rollback.Evaluations = rolloutEvents()[3][0], breachEvals
	rollback.Key = "rollout/7/event/8/product/email"
	if err := e.Send(t.Context(), rollback); err != nil {
		t.Fatal(err)
	}
	got := srv.received()[3]
	golden(t, "email-rollbackStarted.txt", []byte("Subject: "+got.Subject+"\n\n"+got.Body))
}

func TestEmailWithoutTLSOrAuth(t *testing.T) {
	srv := newSMTP(t, false)
	e := &Email{To: []string{"a@example.com", "b@example.com"}, SMTP: srv.Addr, TLS: canary.EmailNoTLS}
	if err := e.Send(t.Context(), messages(t)["email-clinical-rolledBack"]); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 1 || got[0].TLS || got[0].From != DefaultEmailFrom || len(got[0].To) != 2 {
		t.Errorf("received %+v", got)
	}
}

func TestEmailFailures(t *testing.T) {
	srv := newSMTP(t, true)
	m := messages(t)["email-clinical-rolledBack"]
	t.Setenv("TEST_SMTP_PASSWORD", "wrong-password-123")
	e := &Email{To: []string{"c@example.com"}, SMTP: srv.Addr, Username: "canary", Password: "env:TEST_SMTP_PASSWORD",
		Options: Options{TLSConfig: &tls.Config{RootCAs: srv.CA}}}
	err := e.Send(t.Context(), m)
	if err == nil || strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("bad password: err %v", err)
	}
	e.SMTP = closedAddr(t)
	if err := e.Send(t.Context(), m); err == nil || IsPermanent(err) {
		t.Errorf("server down: err %v, want a retryable error", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	e.SMTP = silentServer(t)
	start := time.Now()
	if err := e.Send(ctx, m); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("silent server: err %v after %s, want a timeout", err, time.Since(start))
	}
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

func TestPagerDutyTriggerAndResolve(t *testing.T) {
	rcv := newReceiver(t)
	rcv.Answer = func(int, *http.Request) (int, string) {
		return http.StatusAccepted, `{"status":"success","message":"Event processed"}`
	}
	setSecrets(t, "http://unused")
	ms := messages(t)
	pd := &PagerDuty{RoutingKey: "env:TEST_PD_KEY", URL: rcv.URL + "/v2/enqueue",
		Options: Options{BaseURL: "https://canary.example.com"}}
	for _, typ := range []string{"rollbackStarted", "rolledBack"} {
		if err := pd.Send(t.Context(), ms["pagerduty-on-call-"+typ]); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rcv.requests()
	var events []pdEvent
	for _, r := range reqs {
		var ev pdEvent
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	if events[0].EventAction != "trigger" || events[1].EventAction != "resolve" {
		t.Errorf("actions %s, %s; want trigger, resolve", events[0].EventAction, events[1].EventAction)
	}
	if events[0].DedupKey != events[1].DedupKey || events[0].DedupKey != "canary/recoveryos/recoveryos-elite/7" {
		t.Errorf("dedup keys %q, %q; want the rollout's", events[0].DedupKey, events[1].DedupKey)
	}
	if events[0].RoutingKey != pdKey || events[0].Payload.Severity != "critical" {
		t.Errorf("trigger %+v", events[0])
	}
	golden(t, "pagerduty-trigger.json", indent(t, reqs[0].Body))
	golden(t, "pagerduty-resolve.json", indent(t, reqs[1].Body))

	rcv.Answer = func(int, *http.Request) (int, string) {
		return http.StatusBadRequest, `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}`
	}
	err := pd.Send(t.Context(), ms["pagerduty-on-call-rollbackStarted"])
	if !IsPermanent(err) || strings.Contains(err.Error(), pdKey) {
		t.Errorf("400: err %v, want permanent without the key", err)
	}
}

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/key"
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_TEST_SECRET", "from-env")
	tests := []struct {
		ref     canary.SecretRef
		want    string
		wantErr string
	}{
		{"env:NOTIFY_TEST_SECRET", "from-env", ""},
		{"file:" + canary.SecretRef(file), "from-a-file", ""},
		{"env:NOTIFY_TEST_UNSET", "", "secret env:NOTIFY_TEST_UNSET: the environment variable NOTIFY_TEST_UNSET is not set"},
		{"file:" + canary.SecretRef(dir) + "/missing", "", "no such file"},
		// A secret pasted where a reference belongs is not echoed.
		{"xoxb-123456-literal-token", "", `"…" is not a secret reference`},
	}
	for _, tt := range tests {
		t.Run(string(tt.ref), func(t *testing.T) {
			got, err := ResolveSecret(tt.ref)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("ResolveSecret = %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "literal-token") {
				t.Errorf("error echoes the secret: %v", err)
			}
		})
	}
}

func TestOptionsNewBuildsEachChannel(t *testing.T) {
	p := testPlan(t, receivers{smtp: "127.0.0.1:25", pagerduty: "http://127.0.0.1:1", webhook: "http://127.0.0.1:1"})
	want := map[string]string{ChannelSlack: "*notify.Slack", ChannelEmail: "*notify.Email",
		ChannelWebhook: "*notify.Webhook", ChannelPagerDuty: "*notify.PagerDuty"}
	for _, a := range p.Spec.Notify {
		for _, c := range Channels(a) {
			s, err := Options{}.New(a, c)
			if err != nil || fmt.Sprintf("%T", s) != want[c] {
				t.Errorf("%s/%s: %T, %v", a.Audience, c, s, err)
			}
		}
		if _, err := (Options{}).New(a, "fax"); !IsPermanent(err) {
			t.Errorf("unknown channel: %v", err)
		}
	}
	if _, err := (Options{}).New(p.Spec.Notify[0], ChannelEmail); !IsPermanent(err) {
		t.Errorf("a channel the audience lacks: %v", err)
	}
}
