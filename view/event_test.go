package view

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

func TestEventLine(t *testing.T) {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	pre, prog, rb := canary.PhasePreChecks, canary.PhaseProgressing, canary.PhaseRollingBack
	tests := []struct {
		ev   canary.Event
		want string
	}{
		{canary.Event{Type: canary.EvCreated, Time: at(0), Phase: pre, Message: "rollout of recoveryos-elite v1.0.0-elite started: 5 steps, 6 rules"},
			"+0s      created                    rollout of recoveryos-elite v1.0.0-elite started: 5 steps, 6 rules"},
		{canary.Event{Type: canary.EvPreCheckPassed, Time: at(1500 * time.Millisecond), Phase: pre, Message: `pre-check "staging healthy" passed: true`},
			`+1s      check ok                   pre-check "staging healthy" passed: true`},
		// The error is in the message already: not repeated.
		{canary.Event{Type: canary.EvPreChecksFailed, Time: at(2 * time.Second), Phase: canary.PhaseFailed, Error: "connection refused",
			Message: `❌ pre-check "staging healthy" failed: connection refused; nothing was changed`},
			`+2s      CHECKS FAIL                ❌ pre-check "staging healthy" failed: connection refused; nothing was changed`},
		{canary.Event{Type: canary.EvStepStarted, Time: at(2 * time.Second), Phase: prog, Weight: 5, Message: "step 1 (5%) started: 5% of traffic to v1.0.0-elite, hold 30m"},
			"+2s      step         step 1    5%  step 1 (5%) started: 5% of traffic to v1.0.0-elite, hold 30m"},
		{canary.Event{Type: canary.EvStepCompleted, Time: at(30 * minute), Phase: prog, Weight: 5, Message: "✅ Canary step 1 (5%) successful. P95: 450ms, Error rate: 0.1%"},
			"+30m     step done    step 1    5%  ✅ Canary step 1 (5%) successful. P95: 450ms, Error rate: 0.1%"},
		{canary.Event{Type: canary.EvEvaluated, Time: at(30*minute + 30*time.Second), Phase: prog, Step: 1, Weight: 10, Message: "evaluated 6 rules: 6 pass"},
			"+30m30s  eval         step 2   10%  evaluated 6 rules: 6 pass"},
		{canary.Event{Type: canary.EvRulePending, Time: at(42 * minute), Phase: prog, Step: 1, Weight: 10, Rule: "latencyP95 > 600ms for 5m",
			Message: "latencyP95 > 600ms for 5m pending: latencyP95 650ms > 600ms"},
			"+42m     pending      step 2   10%  latencyP95 > 600ms for 5m pending: latencyP95 650ms > 600ms"},
		{canary.Event{Type: canary.EvRuleFiring, Time: at(47 * minute), Phase: prog, Step: 1, Weight: 10,
			Message: "latencyP95 > 600ms for 5m firing: latencyP95 650ms > 600ms for 5m"},
			"+47m     FIRING       step 2   10%  latencyP95 > 600ms for 5m firing: latencyP95 650ms > 600ms for 5m"},
		{canary.Event{Type: canary.EvRuleCleared, Time: at(44 * minute), Phase: prog, Step: 1, Weight: 10,
			Message: "latencyP95 > 600ms for 5m cleared: latencyP95 450ms ≤ 600ms"},
			"+44m     cleared      step 2   10%  latencyP95 > 600ms for 5m cleared: latencyP95 450ms ≤ 600ms"},
		{canary.Event{Type: canary.EvHoldExtended, Time: at(30 * minute), Phase: prog, Weight: 5,
			Message: "step 1 (5%): hold extended: 0 of 60 evaluations judged, need 60 (errorRate > 1% for 5m: insufficient)"},
			"+30m     extended     step 1    5%  step 1 (5%): hold extended: 0 of 60 evaluations judged, need 60 (errorRate > 1% for 5m: insufficient)"},
		{canary.Event{Type: canary.EvAwaitingApproval, Time: at(60 * minute), Phase: prog, Step: 1, Weight: 10,
			Message: "step 2 (10%) held successfully; waiting for a person's approval (canary promote)"},
			"+1h      APPROVAL?    step 2   10%  step 2 (10%) held successfully; waiting for a person's approval (canary promote)"},
		{canary.Event{Type: canary.EvApproved, Time: at(63 * minute), Phase: prog, Step: 1, Weight: 10, Message: "step 2 (10%) approved by the approval webhook"},
			"+1h3m    approved     step 2   10%  step 2 (10%) approved by the approval webhook"},
		{canary.Event{Type: canary.EvPaused, Time: at(10 * minute), Phase: canary.PhasePaused, Weight: 5, Message: "⏸ paused at step 1 (5%): paused by alice"},
			"+10m     PAUSED       step 1    5%  ⏸ paused at step 1 (5%): paused by alice"},
		{canary.Event{Type: canary.EvResumed, Time: at(15 * minute), Phase: prog, Weight: 5, Message: "▶ resumed at step 1 (5%) by alice"},
			"+15m     resumed      step 1    5%  ▶ resumed at step 1 (5%) by alice"},
		{canary.Event{Type: canary.EvRollbackStarted, Time: at(47 * minute), Phase: rb, Step: 1, Weight: 10, Urgency: canary.UrgencyMedium,
			Message: "🚨 ROLLBACK INITIATED (gradual): latencyP95 650ms > 600ms for 5m"},
			"+47m     ROLLBACK     step 2   10%  🚨 ROLLBACK INITIATED (gradual): latencyP95 650ms > 600ms for 5m"},
		{canary.Event{Type: canary.EvRolledBack, Time: at(52 * minute), Phase: canary.PhaseRolledBack, Step: 1,
			Message: "↩️ v1.0.0-elite rolled back (gradual): latencyP95 650ms > 600ms for 5m; the stable version serves all traffic"},
			"+52m     ROLLED BACK  step 2    0%  ↩️ v1.0.0-elite rolled back (gradual): latencyP95 650ms > 600ms for 5m; the stable version serves all traffic"},
		{canary.Event{Type: canary.EvPromoting, Time: at(2 * time.Hour), Phase: canary.PhasePromoting, Step: 4, Weight: 50, Message: "promoting v1.0.0-elite: 100% of traffic"},
			"+2h      promoting    step 5   50%  promoting v1.0.0-elite: 100% of traffic"},
		{canary.Event{Type: canary.EvPromoted, Time: at(2*time.Hour + 5*time.Second), Phase: canary.PhaseSucceeded, Step: 4, Weight: 100,
			Message: "🎉 v1.0.0-elite promoted: it now serves 100% of traffic (2h0m5s after the start)"},
			"+2h0m5s  PROMOTED     step 5  100%  🎉 v1.0.0-elite promoted: it now serves 100% of traffic (2h0m5s after the start)"},
		{canary.Event{Type: canary.EvActionIssued, Time: at(30 * minute), Phase: prog, Step: 1, Weight: 5, Message: "issue set canary weight to 10%"},
			"+30m     action       step 2    5%  issue set canary weight to 10%"},
		{canary.Event{Type: canary.EvActionSucceeded, Time: at(30 * minute), Phase: prog, Step: 1, Weight: 10, Message: "set canary weight to 10%: done"},
			"+30m     done         step 2   10%  set canary weight to 10%: done"},
		{canary.Event{Type: canary.EvActionFailed, Time: at(30 * minute), Phase: prog, Step: 1, Weight: 5, Error: "timeout",
			Message: "set canary weight to 10% failed: timeout (retrying)"},
			"+30m     ACTION FAIL  step 2    5%  set canary weight to 10% failed: timeout (retrying)"},
		// An error the message does not hold is added.
		{canary.Event{Type: canary.EvHookFailed, Time: at(30 * minute), Phase: prog, Weight: 5, Error: "exit status 1",
			Message: `run hook "smoke" failed`},
			`+30m     hook failed  step 1    5%  run hook "smoke" failed: exit status 1`},
		{canary.Event{Type: canary.EvFailed, Time: at(time.Second), Phase: canary.PhaseFailed,
			Message: "aborted by bob before any traffic moved; nothing was changed"},
			"+1s      FAILED                     aborted by bob before any traffic moved; nothing was changed"},
		{canary.Event{Type: canary.EvRetried, Time: at(time.Hour), Phase: canary.PhasePending,
			Message: "retry by bob: starting v1.0.0-elite again (it ended RolledBack)"},
			"+1h      retried                    retry by bob: starting v1.0.0-elite again (it ended RolledBack)"},
		// An actor the message does not name is added.
		{canary.Event{Type: canary.EvCommand, Time: at(10 * minute), Phase: prog, Weight: 5, Actor: "token:ci", Message: "pause"},
			"+10m     command      step 1    5%  pause (by token:ci)"},
	}
	seen := map[canary.EventType]bool{}
	for _, tt := range tests {
		seen[tt.ev.Type] = true
		t.Run(string(tt.ev.Type), func(t *testing.T) {
			if got := EventLine(tt.ev, t0); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	for _, typ := range canary.EventTypes {
		if !seen[typ] {
			t.Errorf("no test for event type %s", typ)
		}
		if _, ok := tags[typ]; !ok {
			t.Errorf("event type %s has no tag", typ)
		}
	}
}

func TestEventLineUnknownTypeAndNegative(t *testing.T) {
	ev := canary.Event{Type: "newKind", Time: t0.Add(-90 * time.Second), Phase: canary.PhaseProgressing, Step: 2, Weight: 25, Message: "m"}
	if got, want := EventLine(ev, t0), "-1m30s   newKind      step 3   25%  m"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStyledEventLine(t *testing.T) {
	ev := canary.Event{Type: canary.EvRuleFiring, Time: t0.Add(47 * minute), Phase: canary.PhaseProgressing, Step: 1, Weight: 10, Message: "x firing"}
	got := StyledEventLine(ev, t0, Options{Color: true})
	if !strings.Contains(got, "\x1b[1;31mFIRING\x1b[0m") {
		t.Errorf("FIRING tag not bold red: %q", got)
	}
	if stripANSI(got) != EventLine(ev, t0) {
		t.Errorf("styled line without escapes %q differs from %q", stripANSI(got), EventLine(ev, t0))
	}
}

// TestEventLinesOfRollback pins the default event lines of a whole
// rollout that rolls back: what `canary run` prints above the block.
func TestEventLinesOfRollback(t *testing.T) {
	d := newDrive(t, runbookPlan())
	d.canary = faultAt(1, 12*minute, served{P95: 650 * time.Millisecond, ErrRate: 0.001})
	d.runTo(t0.Add(time.Hour))
	if d.State.Phase != canary.PhaseRolledBack {
		t.Fatalf("phase %s, want RolledBack", d.State.Phase)
	}
	var b strings.Builder
	for _, ev := range d.Events {
		if Filter(ev) {
			b.WriteString(EventLine(ev, d.State.CreatedAt) + "\n")
		}
	}
	got := b.String()
	for _, w := range []string{"ROLLBACK     step 2   10%  🚨 ROLLBACK INITIATED (gradual)", "+47m     FIRING", "+42m     pending"} {
		if !strings.Contains(got, w) {
			t.Errorf("lines lack %q:\n%s", w, got)
		}
	}
	golden(t, "events_rollback.txt", got)
}

func TestFilter(t *testing.T) {
	for _, typ := range canary.EventTypes {
		ev := canary.Event{Type: typ}
		if typ == canary.EvEvaluated {
			ev.Evaluations = []canary.Evaluation{{Rule: "r", Verdict: canary.VerdictPass}}
		}
		want := typ != canary.EvEvaluated && typ != canary.EvActionIssued
		if got := Filter(ev); got != want {
			t.Errorf("Filter(%s) = %v, want %v", typ, got, want)
		}
	}
	// The baseline measurement is an evaluated event without evaluations:
	// it happens once and people want to see it.
	baseline := canary.Event{Type: canary.EvEvaluated, Message: "baseline recorded: service burn 1x over 30s (6000 requests)"}
	if !Filter(baseline) {
		t.Error("Filter drops the baseline measurement")
	}
}

func sampleEvent() canary.Event {
	stable := 0.45
	return canary.Event{
		Seq: 42, Time: t0.Add(47*minute + 250*time.Millisecond), Rollout: "recoveryos-elite",
		Type: canary.EvRollbackStarted, Phase: canary.PhaseRollingBack, Step: 1, Weight: 10,
		Urgency: canary.UrgencyMedium, Rule: "latencyP95 > 600ms for 5m",
		Message: "🚨 ROLLBACK INITIATED (gradual): latencyP95 650ms > 600ms for 5m",
		Evaluations: []canary.Evaluation{{
			Rule: "latencyP95 > 600ms for 5m", Metric: canary.MetricLatencyP95, Window: 30 * time.Second,
			Value: 0.65, Samples: 600, Threshold: 0.6, Op: "above", Verdict: canary.VerdictBreach,
			Stable: &stable, PendingFor: 5 * minute, Firing: true,
		}},
		Action: &canary.Action{ID: 7, Kind: canary.ActSetWeight, Weight: 0},
		Actor:  "engine",
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	ev := sampleEvent()
	b, err := EventJSON(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("\n")) || bytes.Count(b, []byte("\n")) != 1 {
		t.Errorf("not one line ending in a newline: %q", b)
	}
	var back canary.Event
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", back, ev)
	}
	if !bytes.Contains(b, []byte(`650ms > 600ms`)) {
		t.Errorf("> is escaped: %s", b)
	}
	golden(t, "event.json", string(b))
}

// TestEventJSONStream writes several events and reads them back as JSON
// Lines.
func TestEventJSONStream(t *testing.T) {
	evs := []canary.Event{sampleEvent(), {Seq: 43, Time: t0, Type: canary.EvPaused, Message: "⏸ paused"}}
	var buf bytes.Buffer
	for _, ev := range evs {
		b, err := EventJSON(ev)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
	}
	dec := json.NewDecoder(&buf)
	for i := range evs {
		var back canary.Event
		if err := dec.Decode(&back); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if back.Seq != evs[i].Seq || back.Type != evs[i].Type {
			t.Errorf("event %d = %d %s, want %d %s", i, back.Seq, back.Type, evs[i].Seq, evs[i].Type)
		}
	}
}
