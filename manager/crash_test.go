package manager_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
)

// The crash test re-executes this test binary as a child that runs a
// manager until it is killed with SIGKILL.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CANARY_CRASH_CHILD"); dir != "" {
		if err := crashChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const crashRollouts = 50

// fileRouter appends every action to a log file: the outside world the
// rollouts change, which survives the kill.
type fileRouter struct {
	name string
	f    *os.File
}

func (r *fileRouter) log(a string) error {
	_, err := fmt.Fprintf(r.f, "%s %s\n", r.name, a)
	return err
}
func (r *fileRouter) SetWeight(_ context.Context, w int) error { return r.log(fmt.Sprintf("w%d", w)) }
func (r *fileRouter) Promote(context.Context) error            { return r.log("promote") }
func (r *fileRouter) RemoveCanary(context.Context) error       { return r.log("removeCanary") }

// crashChild runs a manager over dir/c.db until every rollout has ended.
func crashChild(dir string) error {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "c.db"))
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "actions.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	providers := func(_ context.Context, p *canary.Plan) (manager.Providers, error) {
		bad := strings.HasSuffix(p.Metadata.Name, "-bad")
		metrics := canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
			v := 0.001
			if q.Metric != canary.MetricErrorRate {
				v = 0.2
			} else if bad && q.Track == canary.TrackCanary {
				v = 0.3
			}
			return canary.Measurement{Value: v, Samples: 1000}, nil
		})
		return manager.Providers{Router: &fileRouter{name: p.Metadata.Name, f: f}, Metrics: metrics,
			Flags: &flags.Memory{}, Checks: &canarytest.Checker{}}, nil
	}
	m, err := manager.New(manager.Config{Store: st, Providers: providers, Outbox: outboxOf})
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return err
	}
	for i := range crashRollouts {
		if _, err := m.Apply(ctx, crashPlan(i), false, "test"); err != nil {
			return err
		}
	}
	for {
		active, err := st.List(ctx, store.ListOptions{Active: true, Limit: 1})
		if err != nil {
			return err
		}
		if len(active) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outboxOf enqueues one notification per step completed, rollback and
// promotion: each must be enqueued exactly once across crashes.
func outboxOf(_ *canary.Plan, id int64, events []canary.Event) []store.OutboxItem {
	var items []store.OutboxItem
	for _, ev := range events {
		switch ev.Type {
		case canary.EvStepCompleted, canary.EvRolledBack, canary.EvPromoted:
			items = append(items, store.OutboxItem{Key: fmt.Sprintf("%d/%d/eng/slack", id, ev.Seq),
				Audience: "engineering", Channel: "slack", Payload: []byte(ev.Message)})
		}
	}
	return items
}

func crashName(i int) string {
	if i%5 == 4 {
		return fmt.Sprintf("r%02d-bad", i)
	}
	return fmt.Sprintf("r%02d", i)
}

func crashPlan(i int) []byte {
	return fmt.Appendf(nil, `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: crash}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: 400ms}, {weight: 50, hold: 400ms}, {weight: 100}]
  analysis: {interval: 50ms, minRequests: 10, maxHoldExtension: 60s}
  rules:
    - {metric: errorRate, above: 5%%, window: 200ms, for: 300ms, action: rollback-gradual}
  rollback: {drain: 200ms}
`, crashName(i))
}

// TestKill9DuringRollouts kills the manager at random moments during 50
// compressed rollouts and checks every rollout ends as an uninterrupted
// run would.
func TestKill9DuringRollouts(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: about 20s")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	kills := 0
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CANARY_CRASH_CHILD="+dir)
		// The child dies with the test, even if the test itself is killed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("child failed: %v", err)
			}
			checkCrashOutcome(t, dir, kills)
			return
		case <-time.After(time.Duration(150+rng.IntN(600)) * time.Millisecond):
			if kills < 25 {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				kills++
				continue
			}
			select { // let the last one finish
			case err := <-exited:
				if err != nil {
					t.Fatalf("child failed: %v", err)
				}
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				reportStuck(t, dir)
			}
			checkCrashOutcome(t, dir, kills)
			return
		}
	}
	t.Fatalf("rollouts did not finish within the deadline after %d kills", kills)
}

// reportStuck fails the test with the rollouts that did not end.
func reportStuck(t *testing.T, dir string) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	active, _ := st.List(t.Context(), store.ListOptions{Active: true})
	for _, r := range active {
		t.Errorf("%s stuck: %s stage %q step %d weight %d outstanding %v pause %q", r.Name, r.State.Phase, r.State.Stage,
			r.State.Step, r.State.Weight, r.State.Outstanding, r.State.PauseReason)
	}
	t.FailNow()
}

func checkCrashOutcome(t *testing.T, dir string, kills int) {
	t.Helper()
	t.Logf("%d kill -9s", kills)
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logb, err := os.ReadFile(filepath.Join(dir, "actions.log"))
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(logb)), "\n") {
		name, act, _ := strings.Cut(line, " ")
		actions[name] = append(actions[name], act)
	}
	for i := range crashRollouts {
		name := crashName(i)
		r, err := st.Latest(ctx, "crash/"+name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, phase := []string{"w10", "w50", "w100", "promote", "removeCanary"}, canary.PhaseSucceeded
		if strings.HasSuffix(name, "-bad") {
			want, phase = []string{"w10", "w0", "removeCanary"}, canary.PhaseRolledBack
		}
		if r.State.Phase != phase {
			t.Errorf("%s ended %s, want %s", name, r.State.Phase, phase)
		}
		// An action re-issued after a crash repeats in place; nothing else.
		if got := slices.Compact(slices.Clone(actions[name])); !slices.Equal(got, want) {
			t.Errorf("%s actions %v, want %v (repeats allowed only in place)", name, actions[name], want)
		}
		checkCrashEvents(t, st, r, name)
	}
}

func checkCrashEvents(t *testing.T, st *store.Store, r store.Rollout, name string) {
	t.Helper()
	evs, err := st.Events(t.Context(), r.ID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(evs)) != r.State.EventSeq {
		t.Errorf("%s: %d events, state at seq %d: an event was lost", name, len(evs), r.State.EventSeq)
	}
	started := map[int]time.Time{}
	notifiable := 0
	for _, ev := range evs {
		switch ev.Type {
		case canary.EvStepStarted:
			if _, dup := started[ev.Step]; dup {
				t.Errorf("%s: step %d started twice", name, ev.Step+1)
			}
			started[ev.Step] = ev.Time
		case canary.EvStepCompleted:
			if held := ev.Time.Sub(started[ev.Step]); held < 400*time.Millisecond {
				t.Errorf("%s: step %d held %v, less than its 400ms hold", name, ev.Step+1, held)
			}
		}
		switch ev.Type {
		case canary.EvStepCompleted, canary.EvRolledBack, canary.EvPromoted:
			notifiable++
		}
	}
	items, err := st.Outbox(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != notifiable {
		t.Errorf("%s: %d notifications queued for %d notifiable events", name, len(items), notifiable)
	}
}
