//go:build !race

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/store"
)

// The crash test: a real canary serve process (the binary built once by
// the test) with the built-in proxy in front of real HTTP backends and a
// webhook receiver, SIGKILLed at random moments while 50 rollouts run.
// Afterwards every rollout must have finished exactly as an uninterrupted
// run of the same plan (same outcome, same milestones in the same order),
// with no event lost, no step started twice, every notification received
// at least once and at most once more per claim a kill cut short.
const (
	crashRollouts = 50
	crashKills    = 25
)

// crashPlanText is a rollout whose canary is good (every backend answers
// 200) or bad (its canary answers 500 to everything): deterministic
// outcomes. maxHoldExtension is far longer than the test so that the
// proxy measurements each kill loses (the proxy dies with the server)
// cannot pause a rollout: a hold only waits for fresh evidence.
const crashPlanText = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: crash}
spec:
  version: v2
  traffic: {proxy: {listen: "%s", stable: "%s", canary: "%s"}}
  steps: [{weight: 20, hold: 3s}, {weight: 50, hold: 3s}, {weight: 100}]
  analysis: {interval: 500ms, minRequests: 5, maxHoldExtension: 30m}
  rules:
    - {metric: errorRate, above: 5%%, window: 2s, for: 1s, action: rollback-gradual}
  rollback: {drain: 1s}
  notify:
    - {audience: eng, webhook: {url: "%s/hook"}, on: [all]}
`

// crashRig is the world around the server: backends, a receiver, load.
type crashRig struct {
	t                 *testing.T
	bin, dir          string
	stable, good, bad string // backend URLs
	hook              string // the webhook receiver's URL
	mu                sync.Mutex
	received          map[string]int // delivery key → requests
	proxies           map[string]string
	stopLoad          context.CancelFunc
	loadCtx           context.Context
	loadWG            sync.WaitGroup
	serveArgs         []string
	api               string
	proc              *exec.Cmd
	exited            chan struct{}
	logf              *os.File
}

// buildCanary builds the canary binary once for the test, with the
// test binary's own -trimpath and CGO_ENABLED (hack/test.sh's second pass
// uses hack/release.sh's), so the packages come from the build cache.
func buildCanary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "canary")
	args := []string{"build", "-o", bin}
	cmd := exec.Command("go")
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "-trimpath":
				if s.Value == "true" {
					args = append(args, "-trimpath")
				}
			case "CGO_ENABLED":
				cmd.Env = append(os.Environ(), "CGO_ENABLED="+s.Value)
			}
		}
	}
	cmd.Args = append(append(cmd.Args, args...), ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lowAddr is a free loopback address below the ephemeral port range: the
// load and the API client dial these ports while the server is down, and
// a dial to a free ephemeral port can connect to itself (TCP
// self-connect), holding the port for a minute.
func lowAddr(t *testing.T, rng *rand.Rand) string {
	t.Helper()
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rng.IntN(12000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port below 32000")
	return ""
}

func newCrashRig(t *testing.T, rng *rand.Rand) *crashRig {
	answer := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(code)
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	r := &crashRig{t: t, bin: buildCanary(t), dir: t.TempDir(), stable: answer(200), good: answer(200), bad: answer(500),
		received: map[string]int{}, proxies: map[string]string{}}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.received[req.Header.Get(notify.HeaderDelivery)]++
		r.mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	r.hook = hook.URL
	r.api = lowAddr(t, rng)
	r.loadCtx, r.stopLoad = context.WithCancel(context.Background())
	t.Cleanup(func() { r.stopLoad(); r.loadWG.Wait() })
	return r
}

// plan writes rollout name's plan (bad: a failing canary) and starts its
// load: 40 requests a second through its proxy, errors ignored (the proxy
// is down while the server is).
func (r *crashRig) plan(name string, bad bool, rng *rand.Rand) string {
	listen := lowAddr(r.t, rng)
	canaryURL := r.good
	if bad {
		canaryURL = r.bad
	}
	file := filepath.Join(r.dir, name+".yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, crashPlanText, name, listen, r.stable, canaryURL, r.hook), 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.loadWG.Add(1)
	go func() {
		defer r.loadWG.Done()
		client := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.loadCtx.Done():
				return
			case <-tick.C:
			}
			if resp, err := client.Get("http://" + listen + "/"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	return file
}

// start runs canary serve on state and waits until it is ready.
func (r *crashRig) start(state string) {
	r.t.Helper()
	logf, err := os.OpenFile(filepath.Join(r.dir, "serve.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(r.bin, "serve", "--insecure", "--listen", r.api, "--state", state, "--rate-limit", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.proc, r.exited, r.logf = cmd, make(chan struct{}), logf
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(r.exited)
	r.t.Cleanup(func() { _ = cmd.Process.Kill() })
	for i := 0; ; i++ {
		if code, _ := r.call("GET", "/readyz", nil); code == http.StatusOK {
			return
		}
		select {
		case <-r.exited:
			r.t.Fatalf("canary serve exited: see %s", logf.Name())
		default:
		}
		if i == 1200 {
			r.t.Fatalf("canary serve not ready within 30s: see %s", logf.Name())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// kill SIGKILLs the server and waits for it to be gone.
func (r *crashRig) kill() {
	_ = r.proc.Process.Signal(syscall.SIGKILL)
	<-r.exited
	r.logf.Close()
}

// stop SIGTERMs the server and waits for a clean exit.
func (r *crashRig) stop() {
	_ = r.proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		r.t.Error("canary serve did not stop within 30s of SIGTERM")
		r.kill()
	}
	r.logf.Close()
}

// call does one API request and returns its status and body (0 when the
// server does not answer).
func (r *crashRig) call(method, path string, body []byte) (int, []byte) {
	req, err := http.NewRequest(method, "http://"+r.api+path, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// apply applies a plan file; true once the server took it.
func (r *crashRig) apply(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		r.t.Fatal(err)
	}
	code, out := r.call("POST", "/api/v1/rollouts", b)
	if code != 0 && code != http.StatusOK && code != http.StatusCreated {
		r.t.Fatalf("apply %s: %d %s", file, code, out)
	}
	return code == http.StatusOK || code == http.StatusCreated
}

// phases returns every rollout's phase by name (nil if the server does
// not answer).
func (r *crashRig) phases() map[string]canary.Phase {
	code, b := r.call("GET", "/api/v1/rollouts?limit=1000", nil)
	if code != http.StatusOK {
		return nil
	}
	var list struct {
		Items []struct {
			Name  string       `json:"name"`
			State canary.State `json:"state"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		r.t.Fatalf("list: %v: %s", err, b)
	}
	out := map[string]canary.Phase{}
	for _, it := range list.Items {
		out[it.Name] = it.State.Phase
	}
	return out
}

// waitFinished waits until want rollouts exist and all are terminal.
func (r *crashRig) waitFinished(want int, limit time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ph := r.phases()
		done := 0
		for _, p := range ph {
			if p.Terminal() {
				done++
			}
		}
		if len(ph) == want && done == want {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("rollouts not finished within %v: %v", limit, ph)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// milestones is a rollout's course: its milestone events' types, steps
// and weights, in order; what an uninterrupted run must match. Evaluations
// and hold extensions (more of them after a kill, when the lost proxy
// measurements are gathered again) are left out.
func milestones(evs []canary.Event) []string {
	var out []string
	for _, ev := range evs {
		switch ev.Type {
		case canary.EvStepStarted, canary.EvStepCompleted, canary.EvRollbackStarted, canary.EvRolledBack,
			canary.EvPromoted, canary.EvPaused, canary.EvFailed:
			out = append(out, fmt.Sprintf("%s/%d/%d", ev.Type, ev.Step, ev.Weight))
		}
	}
	return out
}

// actions is a rollout's issued actions (kind and weight), an action
// re-issued after a kill (absolute, so safe) counted once where it stands.
func actions(evs []canary.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type == canary.EvActionIssued && ev.Action != nil {
			out = append(out, fmt.Sprintf("%s/%d", ev.Action.Kind, ev.Action.Weight))
		}
	}
	return slices.Compact(out)
}

// TestServeSurvivesKills: see the comment on crashRollouts.
func TestServeSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: a real server killed 25 times, about 2-3 minutes")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	r := newCrashRig(t, rng)

	// The uninterrupted run: one good and one bad rollout, nothing killed.
	ref := filepath.Join(r.dir, "ref.db")
	r.start(ref)
	for _, bad := range []bool{false, true} {
		if !r.apply(r.plan(crashName("ref", bad), bad, rng)) {
			t.Fatal("apply to the uninterrupted server failed")
		}
	}
	r.waitFinished(2, 2*time.Minute)
	r.stop()
	want := map[bool][]string{}
	wantPhase := map[bool]canary.Phase{}
	wantActions := map[bool][]string{}
	withStore(t, ref, func(st *store.Store) {
		for _, bad := range []bool{false, true} {
			rr, evs := rolloutEvents(t, st, crashName("ref", bad))
			want[bad], wantPhase[bad] = milestones(evs), rr.State.Phase
			wantActions[bad] = actions(evs)
			t.Logf("uninterrupted (bad canary %v): %s %v", bad, rr.State.Phase, want[bad])
		}
	})
	// Keys repeat across databases (rollout/1/… in both): count the killed
	// run's deliveries only.
	r.mu.Lock()
	clear(r.received)
	r.mu.Unlock()
	if wantPhase[false] != canary.PhaseSucceeded || wantPhase[true] != canary.PhaseRolledBack {
		t.Fatalf("uninterrupted run: good %s, bad %s; want Succeeded and RolledBack", wantPhase[false], wantPhase[true])
	}

	// The killed run: two rollouts applied after each restart, so the
	// kills land at every stage of some rollout's life.
	state := filepath.Join(r.dir, "serve.db")
	kills, applied, activeAtKills := 0, 0, 0
	for kills < crashKills || applied < crashRollouts {
		r.start(state)
		for range 2 {
			if applied < crashRollouts {
				i := applied
				if !r.apply(r.plan(crashName(fmt.Sprint(i), i%5 == 4), i%5 == 4, rng)) {
					t.Fatalf("apply %d: no answer from a ready server", i)
				}
				applied++
			}
		}
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond) // a random moment
		for _, p := range r.phases() {
			if !p.Terminal() {
				activeAtKills++ // counted before the kill: a lower bound
				break
			}
		}
		r.kill()
		kills++
	}
	r.start(state)
	r.waitFinished(crashRollouts, 3*time.Minute)
	// Every notification delivered; a claim cut short by a kill is offered
	// again once its lease (1m) runs out.
	waitDelivered(t, state, 3*time.Minute)
	r.stop()
	t.Logf("%d kills (%d with a rollout running), %d rollouts", kills, activeAtKills, applied)
	if kills < crashKills || activeAtKills < crashKills {
		t.Errorf("%d kills, %d of them with a rollout running; want at least %d", kills, activeAtKills, crashKills)
	}
	r.mu.Lock()
	received := maps.Clone(r.received)
	r.mu.Unlock()
	withStore(t, state, func(st *store.Store) {
		var notes, lost, repeats int
		defer func() {
			t.Logf("%d notifications, %d claims lost to kills, %d repeated receipts", notes, lost, repeats)
		}()
		for i := range crashRollouts {
			bad := i%5 == 4
			name := crashName(fmt.Sprint(i), bad)
			rr, evs := rolloutEvents(t, st, name)
			n, l, rp := checkKilledRollout(t, st, name, rr, evs, wantPhase[bad], want[bad], received)
			notes, lost, repeats = notes+n, lost+l, repeats+rp
			if got := actions(evs); !slices.Equal(got, wantActions[bad]) {
				t.Errorf("%s: actions %v, want %v as uninterrupted (a repeat only in place)", name, got, wantActions[bad])
			}
		}
	})
}

func crashName(i string, bad bool) string {
	if bad {
		return "r" + i + "-bad"
	}
	return "r" + i
}

// withStore opens the (stopped) server's database.
func withStore(t *testing.T, path string, fn func(*store.Store)) {
	t.Helper()
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

// rolloutEvents returns crash/name's rollout and its whole event log.
func rolloutEvents(t *testing.T, st *store.Store, name string) (store.Rollout, []canary.Event) {
	t.Helper()
	rr, err := st.Latest(t.Context(), "crash/"+name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	evs, err := st.Events(t.Context(), rr.ID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return rr, evs
}

// waitDelivered waits until no notification in the database at path is
// pending or claimed (read beside the running server).
func waitDelivered(t *testing.T, path string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		open := 0
		st, err := store.OpenConfig(t.Context(), store.Config{Path: path, ReadOnly: true, Check: store.CheckNone})
		if err == nil {
			list, _ := st.List(t.Context(), store.ListOptions{})
			for _, rr := range list {
				items, _ := st.Outbox(t.Context(), rr.ID)
				for _, it := range items {
					if it.Status == canary.OutboxPending || it.Status == canary.OutboxClaimed {
						open++
					}
				}
			}
			st.Close()
			if open == 0 && len(list) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications still not delivered after %v (%v)", open, limit, err)
		}
		time.Sleep(time.Second)
	}
}

// checkKilledRollout compares a killed run's rollout with the
// uninterrupted run and checks its log and notifications.
// It returns the rollout's notifications, their claims lost to kills and
// their repeated receipts.
func checkKilledRollout(t *testing.T, st *store.Store, name string, rr store.Rollout, evs []canary.Event,
	wantPhase canary.Phase, want []string, received map[string]int) (notes, lostClaims, repeats int) {
	t.Helper()
	if rr.State.Phase != wantPhase {
		t.Errorf("%s ended %s, want %s as uninterrupted", name, rr.State.Phase, wantPhase)
	}
	if got := milestones(evs); !slices.Equal(got, want) {
		t.Errorf("%s: milestones %v, want %v as uninterrupted", name, got, want)
	}
	for i, ev := range evs { // no event lost: 1, 2, … up to the snapshot's seq
		if ev.Seq != int64(i+1) {
			t.Errorf("%s: event %d has seq %d: one was lost", name, i+1, ev.Seq)
			break
		}
	}
	if int64(len(evs)) != rr.State.EventSeq {
		t.Errorf("%s: %d events, the snapshot says %d", name, len(evs), rr.State.EventSeq)
	}
	started := map[int]time.Time{}
	for _, ev := range evs {
		switch ev.Type {
		case canary.EvStepStarted:
			if _, dup := started[ev.Step]; dup {
				t.Errorf("%s: step %d started twice", name, ev.Step+1)
			}
			started[ev.Step] = ev.Time
		case canary.EvStepCompleted: // the plan's holds are 3s
			if held := ev.Time.Sub(started[ev.Step]); held < 3*time.Second {
				t.Errorf("%s: step %d held %v, less than its 3s hold", name, ev.Step+1, held)
			}
		}
	}
	items, err := st.Outbox(t.Context(), rr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) == 0 {
		t.Errorf("%s: no notification queued", name)
	}
	for _, it := range items {
		as, err := st.Attempts(t.Context(), it.Key)
		if err != nil {
			t.Fatal(err)
		}
		lost := 0 // claims a kill cut short: their lease ran out
		for _, a := range as {
			if a.Outcome == "expired" {
				lost++
			}
		}
		n := received[it.Key]
		notes, lostClaims, repeats = notes+1, lostClaims+lost, repeats+max(n-1, 0)
		switch {
		case it.Status != canary.OutboxDelivered:
			t.Errorf("%s: notification %s %s after %d attempts: %s", name, it.Key, it.Status, it.Attempts, it.LastError)
		case n < 1:
			t.Errorf("%s: notification %s marked delivered but never received", name, it.Key)
		case n > 1+lost:
			t.Errorf("%s: notification %s received %d times with %d claims lost to kills; want at most %d", name, it.Key, n, lost, 1+lost)
		}
	}
	return notes, lostClaims, repeats
}
