package manager_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
)

// outside is the outside world one rollout changes (traffic, flag,
// pre-checks, hooks), in one ordered log. bad makes the canary fail at
// weight 50.
type outside struct {
	bad bool

	mu     sync.Mutex
	log    []string
	weight int
}

func (o *outside) add(a string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.log = append(o.log, a)
}

func (o *outside) Log() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.log)
}

func (o *outside) SetWeight(_ context.Context, w int) error {
	o.mu.Lock()
	o.weight = w
	o.mu.Unlock()
	o.add(fmt.Sprintf("w%d", w))
	return nil
}
func (o *outside) Promote(context.Context) error      { o.add("promote"); return nil }
func (o *outside) RemoveCanary(context.Context) error { o.add("removeCanary"); return nil }
func (o *outside) SetFlag(_ context.Context, name string, on bool, pct int) error {
	o.add(fmt.Sprintf("flag=%v/%d", on, pct))
	return nil
}
func (o *outside) PreCheck(_ context.Context, pc canary.PreCheck) (string, error) {
	o.add("precheck " + pc.Name)
	return "true", nil
}
func (o *outside) Hook(_ context.Context, h canary.Hook, _ []byte) (string, error) {
	o.add("hook " + h.Name)
	return "", nil
}
func (o *outside) Approval(context.Context, string, []byte) (checks.Answer, error) {
	return checks.Answer("approved"), nil
}
func (o *outside) Measure(_ context.Context, q canary.Query) (canary.Measurement, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v := 0.001
	if o.bad && o.weight == 50 && q.Metric == canary.MetricErrorRate && q.Track == canary.TrackCanary {
		v = 0.2
	}
	return canary.Measurement{Value: v, Samples: 1000}, nil
}

// replayPlan has every kind of action: pre-check, flag and weight per
// step, afterStep/afterPromotion/onRollback hooks, promotion, a gradual
// rollback with a drain, cleanup.
var replayPlan = []byte(`apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: team}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  featureFlag: {name: f-web}
  preChecks: [{name: staging, url: "http://127.0.0.1:1/m", jq: ".ok"}]
  hooks:
    - {name: step-done, at: afterStep, command: ["true"]}
    - {name: promoted, at: afterPromotion, command: ["true"]}
    - {name: rolled-back, at: onRollback, command: ["true"]}
  cleanup: [{name: tidy, command: ["true"]}]
  steps: [{weight: 10, hold: 1m}, {weight: 50, hold: 1m}, {weight: 100}]
  analysis: {interval: 10s, minRequests: 10}
  rules:
    - {metric: errorRate, above: 5%, window: 30s, for: 20s, action: rollback-gradual}
  rollback: {drain: 30s}
`)

// commitRef names one commit of a run: the Seq of its first event, and
// whether it records an action's result.
type commitRef struct {
	seq    int64
	result bool
}

// replayRun runs replayPlan to its end on a stepped clock, failing the
// commit that starts at event failSeq (0: none) once, as a full disk
// would. It returns the outside world's log, the commits made, the final
// rollout and its events.
func replayRun(t *testing.T, bad bool, failSeq int64) ([]string, []commitRef, store.Rollout, []canary.Event) {
	t.Helper()
	ctx := t.Context()
	var mu sync.Mutex
	var commits []commitRef
	failed := false
	st, err := store.OpenConfig(ctx, store.Config{Path: filepath.Join(t.TempDir(), "c.db"),
		FailCommit: func(_ int64, evs []canary.Event) error {
			if len(evs) == 0 {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			if evs[0].Seq == failSeq && !failed {
				failed = true
				return canary.Errorf(canary.EUNAVAILABLE, "state database unavailable (disk full): injected")
			}
			ref := commitRef{seq: evs[0].Seq}
			for _, ev := range evs {
				ref.result = ref.result || ev.Type == canary.EvActionSucceeded || ev.Type == canary.EvPreCheckPassed
			}
			commits = append(commits, ref)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o := &outside{bad: bad}
	m, err := manager.New(manager.Config{Store: st, Clock: canarytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		RestartDelay: time.Millisecond,
		Providers: func(context.Context, *canary.Plan) (manager.Providers, error) {
			return manager.Providers{Router: o, Metrics: o, Flags: o, Checks: o}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); m.Wait() }()
	if err := m.Start(mctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, replayPlan, false, "test"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, m, "team/web", canary.PhaseSucceeded, canary.PhaseRolledBack, canary.PhaseFailed)
	cancel()
	m.Wait()
	sr, err := st.Latest(ctx, "team/web")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.Events(ctx, sr.ID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if failSeq != 0 && !failed {
		t.Fatalf("no commit started at event %d", failSeq)
	}
	return o.Log(), commits, sr, evs
}

// TestFailedSaveRepeatsOnlyInPlace fails, one run each, every save of an
// uninterrupted rollout (a promotion and a gradual rollback), then lets
// the saves succeed: the runner restarts from the last saved state. Each
// run must change the outside world exactly as the uninterrupted run did,
// except that the action whose result could not be saved may be issued
// again right away (it is absolute and idempotent); a completed sequence
// (w100 promote removeCanary) must never run again, no step may start
// twice and no event may be lost.
func TestFailedSaveRepeatsOnlyInPlace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bad   bool
		phase canary.Phase
	}{
		{"promotion", false, canary.PhaseSucceeded},
		{"gradual rollback", true, canary.PhaseRolledBack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, commits, base, _ := replayRun(t, tc.bad, 0)
			if base.State.Phase != tc.phase {
				t.Fatalf("uninterrupted run ended %s, want %s", base.State.Phase, tc.phase)
			}
			t.Logf("uninterrupted: %d commits, actions %v", len(commits), want)
			for _, c := range commits {
				got, _, r, evs := replayRun(t, tc.bad, c.seq)
				what := fmt.Sprintf("save from event %d failed (result=%v)", c.seq, c.result)
				if r.State.Phase != tc.phase {
					t.Errorf("%s: ended %s, want %s", what, r.State.Phase, tc.phase)
				}
				if !slices.Equal(slices.Compact(slices.Clone(got)), slices.Compact(slices.Clone(want))) {
					t.Errorf("%s: actions\n%v\nwant (repeats allowed only in place)\n%v", what, got, want)
				}
				checkReplayEvents(t, what, r, evs)
			}
		})
	}
}

// checkReplayEvents checks a replayRun's log: every event kept, no step
// started twice.
func checkReplayEvents(t *testing.T, what string, r store.Rollout, evs []canary.Event) {
	t.Helper()
	if int64(len(evs)) != r.State.EventSeq {
		t.Errorf("%s: %d events, state at seq %d: an event was lost", what, len(evs), r.State.EventSeq)
	}
	started := map[int]bool{}
	for _, ev := range evs {
		if ev.Type != canary.EvStepStarted {
			continue
		}
		if started[ev.Step] {
			t.Errorf("%s: step %d started twice", what, ev.Step+1)
		}
		started[ev.Step] = true
	}
}
