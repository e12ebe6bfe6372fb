package notify

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

func TestWants(t *testing.T) {
	tests := []struct {
		name string
		a    canary.Audience
		ev   canary.Event
		want bool
	}{
		{"all takes a step", canary.Audience{On: []string{"all"}}, canary.Event{Type: canary.EvStepCompleted}, true},
		{"empty on means all", canary.Audience{}, canary.Event{Type: canary.EvPaused}, true},
		// Evaluations arrive every interval: nobody wants them by default.
		{"all skips routine evaluations", canary.Audience{On: []string{"all"}}, canary.Event{Type: canary.EvEvaluated}, false},
		{"listed routine type is sent", canary.Audience{On: []string{"evaluated"}}, canary.Event{Type: canary.EvEvaluated}, true},
		{"unlisted type", canary.Audience{On: []string{"rolledBack"}}, canary.Event{Type: canary.EvStepCompleted}, false},
		{"below min urgency", canary.Audience{On: []string{"rolledBack"}, MinUrgency: canary.UrgencyHigh},
			canary.Event{Type: canary.EvRolledBack, Urgency: canary.UrgencyMedium}, false},
		{"at min urgency", canary.Audience{On: []string{"rolledBack"}, MinUrgency: canary.UrgencyHigh},
			canary.Event{Type: canary.EvRolledBack, Urgency: canary.UrgencyHigh}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Wants(tt.a, tt.ev); got != tt.want {
				t.Errorf("Wants = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPagerDutyAction(t *testing.T) {
	onCall := canary.Audience{Audience: "on-call", On: []string{"rolledBack"}, MinUrgency: canary.UrgencyHigh}
	tests := []struct {
		name string
		a    canary.Audience
		ev   canary.Event
		want string
	}{
		// Paged "on rolledBack": the page goes out when the rollback starts.
		{"high rollback start triggers", onCall, canary.Event{Type: canary.EvRollbackStarted, Urgency: canary.UrgencyHigh}, ActionTrigger},
		{"critical rollback start triggers", onCall, canary.Event{Type: canary.EvRollbackStarted, Urgency: canary.UrgencyCritical}, ActionTrigger},
		{"medium rollback start is below minUrgency", onCall, canary.Event{Type: canary.EvRollbackStarted, Urgency: canary.UrgencyMedium}, ""},
		{"rolled back resolves", onCall, canary.Event{Type: canary.EvRolledBack, Urgency: canary.UrgencyHigh}, ActionResolve},
		// A resolve ignores the filters, so no trigger is ever left open.
		{"promoted resolves", onCall, canary.Event{Type: canary.EvPromoted, Urgency: canary.UrgencyLow}, ActionResolve},
		{"failed resolves", onCall, canary.Event{Type: canary.EvFailed}, ActionResolve},
		{"unwanted step", onCall, canary.Event{Type: canary.EvStepCompleted}, ""},
		{"a listed pause triggers", canary.Audience{On: []string{"paused"}}, canary.Event{Type: canary.EvPaused, Urgency: canary.UrgencyHigh}, ActionTrigger},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PagerDutyAction(tt.a, tt.ev); got != tt.want {
				t.Errorf("PagerDutyAction = %q, want %q", got, tt.want)
			}
		})
	}
}

// routed lists "audience/channel/seq" for items.
func routed(items []Message) []string {
	var out []string
	for _, m := range items {
		out = append(out, m.Audience+"/"+m.Channel+"/"+m.Action+"/"+string(m.Event.Type))
	}
	return out
}

func TestOutboxItemsRouteTheRunbookAudiences(t *testing.T) {
	p := testPlan(t, receivers{smtp: "127.0.0.1:25", pagerduty: "http://127.0.0.1:1", webhook: "http://127.0.0.1:1"})
	var got []string
	for _, batch := range rolloutEvents() {
		for _, it := range OutboxItems(p, 7, batch) {
			var m Message
			if err := json.Unmarshal(it.Payload, &m); err != nil {
				t.Fatal(err)
			}
			if m.Key != it.Key || it.RolloutID != 7 || it.Audience != m.Audience || it.Channel != m.Channel {
				t.Errorf("item %+v disagrees with its message %+v", it, m)
			}
			got = append(got, routed([]Message{m})...)
		}
	}
	want := []string{
		"engineering/slack//created", "engineering/slack//stepStarted",
		"engineering/slack//stepCompleted", "product/email//stepCompleted", "audit/webhook//stepCompleted",
		"engineering/slack//stepStarted", "engineering/slack//rulePending",
		"engineering/slack//rollbackStarted", "on-call/pagerduty/trigger/rollbackStarted", "audit/webhook//rollbackStarted",
		"engineering/slack//rolledBack", "product/email//rolledBack", "clinical/email//rolledBack",
		"on-call/pagerduty/resolve/rolledBack", "audit/webhook//rolledBack",
	}
	if !slices.Equal(got, want) {
		t.Errorf("routed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOutboxItemsCarryTheStepsLastEvaluation(t *testing.T) {
	p := testPlan(t, receivers{smtp: "127.0.0.1:25", pagerduty: "http://127.0.0.1:1", webhook: "http://127.0.0.1:1"})
	batch := rolloutEvents()[1]
	for _, it := range OutboxItems(p, 7, batch) {
		var m Message
		if err := json.Unmarshal(it.Payload, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Evaluations) != len(step1Evals) || m.Evaluations[0].Value != step1Evals[0].Value {
			t.Errorf("%s: evaluations %+v, want the step's last (%+v)", it.Key, m.Evaluations, step1Evals)
		}
	}
}

func TestKeysAreStableAndUniqueAcrossRollouts(t *testing.T) {
	p := testPlan(t, receivers{smtp: "127.0.0.1:25", pagerduty: "http://127.0.0.1:1", webhook: "http://127.0.0.1:1"})
	seen := map[string]bool{}
	// Generation 2 of the same name repeats the event seqs of generation 1.
	for _, id := range []int64{7, 8} {
		for _, batch := range rolloutEvents() {
			first, again := OutboxItems(p, id, batch), OutboxItems(p, id, batch)
			for i, it := range first {
				if again[i].Key != it.Key || !bytes.Equal(again[i].Payload, it.Payload) {
					t.Errorf("replaying a batch changed item %s", it.Key)
				}
				if seen[it.Key] {
					t.Errorf("key %s is not unique", it.Key)
				}
				seen[it.Key] = true
			}
		}
	}
	if k := Key(7, "recoveryos-elite", 5, "product", "email"); k != "rollout/7/event/5/product/email" {
		t.Errorf("Key = %q", k)
	}
}

func TestOutboxPayloadHasNoSecrets(t *testing.T) {
	t.Setenv("TEST_SLACK_WEBHOOK", "https://hooks.example.com/services/"+slackToken)
	p := testPlan(t, receivers{smtp: "127.0.0.1:25", pagerduty: "http://127.0.0.1:1", webhook: "http://127.0.0.1:1"})
	for _, batch := range rolloutEvents() {
		for _, it := range OutboxItems(p, 7, batch) {
			if bytes.Contains(it.Payload, []byte(slackToken)) || bytes.Contains(it.Payload, []byte("TEST_")) {
				t.Errorf("payload of %s carries a secret or its reference: %s", it.Key, it.Payload)
			}
		}
	}
}

func TestConsoleShowsAResolveOnlyAfterATrigger(t *testing.T) {
	p := testPlan(t, receivers{smtp: "127.0.0.1:25", pagerduty: "http://127.0.0.1:1", webhook: "http://127.0.0.1:1"})
	var out bytes.Buffer
	c := &Console{W: &out}
	promoted := canary.Event{Seq: 3, Rollout: "recoveryos-elite", Type: canary.EvPromoted, Urgency: canary.UrgencyLow, Message: "🎉 promoted"}
	if err := c.Notify(t.Context(), p, promoted); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "pagerduty") {
		t.Errorf("a promotion without a page shows a resolve:\n%s", out.String())
	}
	out.Reset()
	for _, batch := range rolloutEvents()[3:] {
		for _, ev := range batch {
			if err := c.Notify(t.Context(), p, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, want := range []string{"✉ on-call via pagerduty: 🚨 ROLLBACK INITIATED", "✉ on-call via pagerduty: resolved: ↩️", "✉ clinical via email: ↩️"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out.String())
		}
	}
}
