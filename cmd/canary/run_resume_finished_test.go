package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
)

// finishedState writes a state file holding rollout shop/notified
// finished in phase with its last events' notifications still pending
// (as a run killed right after saving them leaves it), routed to hook and
// mail. It returns the state file and the plan file.
func finishedState(t *testing.T, hook *signedHook, mail *mailReceiver, phase canary.Phase) (state, planFile string) {
	t.Helper()
	t.Setenv("RUN_NOTIFY_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	planFile = filepath.Join(dir, "plan.yaml")
	body := fmt.Sprintf(notifyPlan, "127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3", hook.URL+"/hook", mail.addr)
	if err := os.WriteFile(planFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Load(planFile)
	if err != nil {
		t.Fatal(err)
	}
	state = filepath.Join(dir, "s.db")
	st, err := store.Open(t.Context(), state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	canon, _ := json.Marshal(p)
	r, err := st.Create(t.Context(), "shop/notified", canon, canary.State{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	final := canary.Event{Seq: 2, Time: now, Type: canary.EvPromoted, Message: "v2 promoted"}
	s := canary.State{Name: "notified", Version: "v2", Phase: phase, Weight: 100, EventSeq: 2}
	if phase == canary.PhaseRolledBack {
		final = canary.Event{Seq: 2, Time: now, Type: canary.EvRolledBack, Message: "v2 rolled back"}
		s.Weight, s.RollbackKind, s.RollbackReason = 0, "immediate", "errorRate 9% > 5% for 1s"
	}
	events := []canary.Event{{Seq: 1, Time: now.Add(-time.Minute), Type: canary.EvStepStarted, Message: "step 1 (20%)"}, final}
	// The first event's notifications were delivered before the kill;
	// the final event's were not.
	if err := st.Commit(t.Context(), r.ID, s, events, store.WithOutbox(notify.OutboxItems(p, r.ID, events[1:])...)); err != nil {
		t.Fatal(err)
	}
	return state, planFile
}

// TestRunResumeFinished: --resume of a rollout that had finished delivers
// its pending notifications to a real webhook receiver, prints the outcome
// and exits with it (1: rolled back, 0: promoted); once nothing is
// pending it says the rollout already finished, with the same exit code.
func TestRunResumeFinished(t *testing.T) {
	tests := []struct {
		phase   canary.Phase
		code    int
		outcome string
	}{
		{canary.PhaseRolledBack, ExitRolledBack, "notified v2 rolled back (immediate): errorRate 9% > 5% for 1s"},
		{canary.PhaseSucceeded, ExitPromoted, "notified v2 promoted"},
	}
	for _, tt := range tests {
		t.Run(string(tt.phase), func(t *testing.T) {
			hook, mail := newSignedHook(t), newMailReceiver(t)
			state, planFile := finishedState(t, hook, mail, tt.phase)
			resume := func() (int, string) {
				var out, errw bytes.Buffer
				code := Main(t.Context(), []string{"run", "-o", "json", "--resume", "--state", state, "--notify-timeout", "30s", planFile}, &out, &errw)
				return code, errw.String()
			}
			code, stderr := resume()
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, stderr)
			}
			for _, s := range []string{"already finished: " + string(tt.phase), "delivering its 2 pending notifications",
				"notifications: 2 delivered", tt.outcome} {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if got := hook.acked(); len(got) != 1 || !strings.HasSuffix(got[0], "/event/2/partners/webhook") {
				t.Errorf("the webhook receiver accepted %v, want the final event's notification once", got)
			}
			if got := mail.acked(); len(got) != 1 || !strings.HasSuffix(got[0], "/event/2/product/email") {
				t.Errorf("the SMTP server accepted %v, want the final event's mail once", got)
			}
			_, _, items := storedEvents(t, state)
			for _, it := range items {
				if it.Status != canary.OutboxDelivered {
					t.Errorf("outbox %s is %s, want delivered", it.Key, it.Status)
				}
			}

			code, stderr = resume()
			if code != tt.code || !strings.Contains(stderr, "already finished") || !strings.Contains(stderr, "no notification of it is pending") ||
				!strings.Contains(stderr, tt.outcome) {
				t.Errorf("again: exit %d, want %d, saying it already finished:\n%s", code, tt.code, stderr)
			}
			if n, m := len(hook.requests()), len(mail.acked()); n != 1 || m != 1 {
				t.Errorf("the receivers got %d requests and %d mails, want 1 each: nothing sent twice", n, m)
			}
		})
	}
}

// TestRunResumeFinishedNoNotify: with --no-notify nothing is sent; the
// pending notification stays queued and the exit code is the rollout's.
func TestRunResumeFinishedNoNotify(t *testing.T) {
	hook, mail := newSignedHook(t), newMailReceiver(t)
	state, planFile := finishedState(t, hook, mail, canary.PhaseRolledBack)
	var out, errw bytes.Buffer
	code := Main(t.Context(), []string{"run", "--no-notify", "--resume", "--state", state, planFile}, &out, &errw)
	if code != ExitRolledBack || !strings.Contains(errw.String(), "2 of its notifications are pending; not sent (--no-notify)") {
		t.Errorf("exit %d:\n%s", code, errw.String())
	}
	if len(hook.requests())+len(mail.acked()) != 0 {
		t.Errorf("--no-notify sent %v %v", hook.requests(), mail.acked())
	}
}

// TestRunKilledAfterFinishResumeNotifies: `canary run --state` is killed
// (SIGKILL) right after the final event (promoted) is stored, while its
// notification is held at the receiver; `--resume` on the finished
// rollout then delivers it, each routed notification accepted exactly
// once, and exits 0 as the rollout did.
func TestRunKilledAfterFinishResumeNotifies(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with a child process: takes about 15s")
	}
	// Hold every request from the last step on, until the kill.
	rig, park := newParkedRig(t, func(ev canary.Event) bool { return ev.Type == canary.EvStepCompleted && ev.Step == 1 })
	state := filepath.Join(t.TempDir(), "s.db")
	// Kill once the rollout has finished in the state file with a
	// notification of its last event not delivered, requests are held at
	// the receivers and every claimed item is a held one.
	var held map[string]int
	killRunWhen(t, park, []string{"run", "-o", "json", "--state", state, "--notify-send-timeout", "1s", "--notify-timeout", "1m", rig.plan},
		"no moment with the rollout promoted and its notification held", func() bool {
			held = park.heldKeys()
			return len(held) > 0 && finishedIn(t, state) && claimedAreHeld(t, state, held)
		})

	code, _, stderr := rig.run(t.Context(), "-o", "json", "--state", state, "--resume",
		"--notify-send-timeout", "1s", "--notify-timeout", "1m")
	if code != ExitPromoted {
		t.Fatalf("--resume: exit %d, want 0 (promoted)\n%s", code, stderr)
	}
	for _, s := range []string{"already finished: Succeeded", "delivering its", "notified v2 promoted"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	rig.assertDelivered(t, state, held)

	code, _, stderr = rig.run(t.Context(), "-o", "json", "--state", state, "--resume")
	if code != ExitPromoted || !strings.Contains(stderr, "no notification of it is pending") {
		t.Errorf("--resume again: exit %d:\n%s", code, stderr)
	}
}

// finishedIn reports whether rollout shop/notified has finished in the
// state file and a notification of its last event is queued.
func finishedIn(t *testing.T, path string) bool {
	t.Helper()
	r, items, ok := notifiedOutbox(t, path)
	if !ok || !r.State.Phase.Terminal() {
		return false
	}
	last := fmt.Sprintf("/event/%d/", r.State.EventSeq)
	for _, it := range items {
		if strings.Contains(it.Key, last) && it.Status != canary.OutboxDelivered {
			return true
		}
	}
	return false
}
