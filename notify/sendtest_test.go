package notify

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

func TestSendTestReachesEveryChannel(t *testing.T) {
	slackRcv, pdRcv, hookRcv := newReceiver(t), newReceiver(t), newReceiver(t)
	pdRcv.Answer = func(int, *http.Request) (int, string) { return http.StatusAccepted, "{}" }
	smtpRcv := newSMTP(t, true)
	setSecrets(t, slackRcv.URL)
	p := testPlan(t, receivers{smtp: smtpRcv.Addr, pagerduty: pdRcv.URL, webhook: hookRcv.URL})
	senders := Options{TLSConfig: &tls.Config{RootCAs: smtpRcv.CA}}.New
	got, err := SendTest(t.Context(), p, "", senders, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, o := range got {
		lines = append(lines, o.Audience+"/"+o.Channel)
		if o.Err != nil {
			t.Errorf("%s/%s: %v", o.Audience, o.Channel, o.Err)
		}
	}
	if want := "engineering/slack product/email clinical/email on-call/pagerduty audit/webhook"; strings.Join(lines, " ") != want {
		t.Errorf("outcomes %v, want %s", lines, want)
	}
	golden(t, "test-slack.json", indent(t, slackRcv.requests()[0].Body))
	golden(t, "test-webhook.json", indent(t, hookRcv.requests()[0].Body))
	var product receivedMail
	for _, m := range smtpRcv.received() {
		if m.To[0] == "product@recoveryos.com" {
			product = m
		}
	}
	golden(t, "test-email.txt", []byte("Subject: "+product.Subject+"\n\n"+product.Body))
	pd := pdRcv.requests()
	if len(pd) != 2 {
		t.Fatalf("PagerDuty got %d requests, want a trigger and its resolve", len(pd))
	}
	var trigger, resolve pdEvent
	json.Unmarshal(pd[0].Body, &trigger)
	json.Unmarshal(pd[1].Body, &resolve)
	if trigger.EventAction != "trigger" || resolve.EventAction != "resolve" || trigger.DedupKey != resolve.DedupKey ||
		trigger.Payload.Severity != "info" {
		t.Errorf("PagerDuty got %+v then %+v", trigger, resolve)
	}
	golden(t, "test-pagerduty-trigger.json", indent(t, pd[0].Body))
}

func TestSendTestOneAudienceAndFailures(t *testing.T) {
	hookRcv := newReceiver(t)
	hookRcv.Answer = func(int, *http.Request) (int, string) { return http.StatusUnauthorized, "bad signature" }
	setSecrets(t, "http://unused")
	p := testPlan(t, receivers{smtp: closedAddr(t), pagerduty: "http://" + closedAddr(t), webhook: hookRcv.URL})
	got, err := SendTest(t.Context(), p, "audit", nil, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "401 Unauthorized: bad signature") {
		t.Errorf("got %+v", got)
	}
	if _, err := SendTest(t.Context(), p, "nobody", nil, 0, t0); canary.ErrorCode(err) != canary.EINVALID ||
		!strings.Contains(err.Error(), "its audiences: engineering, product, clinical, on-call, audit") {
		t.Errorf("unknown audience: %v", err)
	}
	got, _ = SendTest(t.Context(), p, "on-call", nil, 0, t0)
	if len(got) != 1 || got[0].Err == nil || strings.Contains(got[0].Err.Error(), pdKey) {
		t.Errorf("PagerDuty down: %+v", got)
	}
}
