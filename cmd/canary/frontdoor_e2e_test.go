//go:build !race

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// frontDoorPlan is a seconds-long rollout of a service: it promotes a good
// canary and rolls back at once from one answering 500.
const frontDoorPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s}
spec:
  version: %s
  traffic: {proxy: {listen: "%s", stable: "%s", canary: "%s"}}
  steps: [{weight: 50, hold: 1s}, {weight: 100}]
  analysis: {interval: 250ms, minRequests: 5, maxHoldExtension: 20s}
  rules:
    - {metric: errorRate, above: 5%%, window: 1s, for: 250ms, action: rollback-immediate}
  rollback: {drain: 100ms}
%s`

// frontLoad sends requests at a fixed rate through a front door, without
// keep-alive (each request its own connection, so a failure is either a
// refused dial or a request in flight), and counts the answers by body
// per phase of the test.
type frontLoad struct {
	mu       sync.Mutex
	phase    string
	bodies   map[string]map[string]int // phase → body → answers
	refused  int                       // dials refused (nothing listening)
	inFlight int                       // requests cut off after connecting
	bad502   int
	stop     chan struct{}
	wg       sync.WaitGroup
}

// startFrontLoad starts workers each sending a request every 20ms.
func startFrontLoad(addr string, workers int) *frontLoad {
	l := &frontLoad{phase: "start", bodies: map[string]map[string]int{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range workers {
		l.wg.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				l.one(client, addr)
			}
		})
	}
	return l
}

func (l *frontLoad) one(client *http.Client, addr string) {
	resp, err := client.Get("http://" + addr + "/")
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		l.refused++
	case err != nil:
		l.inFlight++
	case resp.StatusCode == http.StatusBadGateway:
		l.bad502++
	default:
		if l.bodies[l.phase] == nil {
			l.bodies[l.phase] = map[string]int{}
		}
		l.bodies[l.phase][string(body)]++
	}
}

func (l *frontLoad) setPhase(p string) {
	l.mu.Lock()
	l.phase = p
	l.mu.Unlock()
}

func (l *frontLoad) seen(phase string) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, v := range l.bodies[phase] {
		out[k] = v
	}
	return out
}

func (l *frontLoad) halt() { close(l.stop); l.wg.Wait() }

// frontDoorRig is a canary serve process and its plans.
type frontDoorRig struct {
	*crashRig
	state string
	n     int
}

func (r *frontDoorRig) planFile(name, version, listen, stable, canaryURL, extra string) []byte {
	return fmt.Appendf(nil, frontDoorPlan, name, version, listen, stable, canaryURL, extra)
}

// applyWant applies a plan and checks the status code; it returns the body.
func (r *frontDoorRig) applyWant(plan []byte, code int) string {
	r.t.Helper()
	got, body := r.call("POST", "/api/v1/rollouts", plan)
	if got != code {
		r.t.Fatalf("apply: %d %s, want %d", got, body, code)
	}
	return string(body)
}

// waitPhase waits until rollout default/name reaches a terminal phase.
func (r *frontDoorRig) waitPhase(name string, want canary.Phase) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		code, b := r.call("GET", "/api/v1/rollouts/default/"+name, nil)
		var ro struct {
			State canary.State `json:"state"`
		}
		if code == http.StatusOK && json.Unmarshal(b, &ro) == nil && ro.State.Phase.Terminal() {
			if ro.State.Phase != want {
				r.t.Fatalf("%s ended %s (%s), want %s", name, ro.State.Phase, ro.State.RollbackReason, want)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("%s not %s within 30s", name, want)
}

// slot is a backend whose answer (its version) can be redeployed.
func slot(t *testing.T, version string) (string, *atomic.Value) {
	var v atomic.Value
	v.Store(version)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		body := v.Load().(string)
		if body == "bad" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s.URL, &v
}

// TestFrontDoorAcrossRollouts: load at a fixed rate through a service of
// a real canary serve across a promotion, a SIGKILL and restart, and a
// rollback loses no request but those in flight at the kill and those
// refused until the new process listens; the restart serves the promoted
// upstream; the next plan must start from it; a second name and a port
// held by another process are refused at apply.
func TestFrontDoorAcrossRollouts(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: about 15s")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1919))
	r := &frontDoorRig{crashRig: newCrashRig(t, rng)}
	r.state = filepath.Join(r.dir, "serve.db")
	blue, _ := slot(t, "blue")
	green, _ := slot(t, "green")
	bad, _ := slot(t, "bad")
	listen := lowAddr(t, rng)
	r.start(r.state)
	const workers = 4
	load := startFrontLoad(listen, workers)
	defer load.halt()

	r.applyWant(r.planFile("web", "v2", listen, blue, green, ""), http.StatusCreated)
	r.waitPhase("web", canary.PhaseSucceeded)
	load.setPhase("promoted")
	// The next plan of the service must start from its live upstream.
	if body := r.applyWant(r.planFile("web", "v3", listen, blue, bad, ""), http.StatusBadRequest); !strings.Contains(body, green) {
		t.Errorf("a plan whose stable is the old upstream: %s; want an error naming the live one %s", body, green)
	}
	if body := r.applyWant(r.planFile("other", "v1", listen, green, bad, ""), http.StatusConflict); !strings.Contains(body, "default/web") {
		t.Errorf("a second service on %s: %s; want a conflict naming default/web", listen, body)
	}
	held, err := net.Listen("tcp", lowAddr(t, rng))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	r.applyWant(r.planFile("taken", "v1", held.Addr().String(), green, bad, ""), http.StatusConflict)
	time.Sleep(300 * time.Millisecond)

	r.kill()
	load.setPhase("restarted")
	r.start(r.state)
	time.Sleep(500 * time.Millisecond)
	r.applyWant(r.planFile("web", "v3", listen, green, bad, ""), http.StatusCreated)
	r.waitPhase("web", canary.PhaseRolledBack)
	load.setPhase("rolled back")
	time.Sleep(500 * time.Millisecond)
	load.halt()
	load.stop = make(chan struct{}) // halted: the deferred halt waits for nothing

	if got := load.seen("promoted"); got["green"] == 0 || len(got) != 1 {
		t.Errorf("after the promotion: %v, want only green", got)
	}
	if got := load.seen("restarted"); got["blue"] > 0 || got["green"] == 0 {
		t.Errorf("after the restart: %v, want green (the promoted upstream) and the canary, never blue", got)
	}
	if got := load.seen("rolled back"); got["green"] == 0 || len(got) != 1 {
		t.Errorf("after the rollback: %v, want only green", got)
	}
	t.Logf("answers %v; refused while down %d; in flight at the kill %d", load.bodies, load.refused, load.inFlight)
	if load.inFlight > workers {
		t.Errorf("%d requests failed after connecting; at most %d (one per worker) were in flight at the kill", load.inFlight, workers)
	}
	if load.bad502 > 0 {
		t.Errorf("%d answers were 502", load.bad502)
	}
	code, b := r.call("GET", "/api/v1/services", nil)
	if code != http.StatusOK || !strings.Contains(string(b), listen) {
		t.Errorf("GET /api/v1/services: %d %s, want %s listed", code, b, listen)
	}
	r.stop()
}

// TestFrontDoorBlueGreen: with a promote hook that deploys the new version
// into the stable slot (an HTTP hook, allowed by serve's defaults), the
// promotion sends traffic back to the stable slot, and the next rollout of
// the service starts from that same upstream.
func TestFrontDoorBlueGreen(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: about 10s")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1920))
	r := &frontDoorRig{crashRig: newCrashRig(t, rng)}
	blue, blueVersion := slot(t, "v1")
	green, greenVersion := slot(t, "v2")
	deploy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		blueVersion.Store(req.URL.Query().Get("version")) // "deploy" into the stable slot
	}))
	t.Cleanup(deploy.Close)
	hook := func(version string) string {
		return fmt.Sprintf("  hooks: [{name: deploy to stable slot, at: promote, http: {url: \"%s/deploy?version=%s\"}}]\n", deploy.URL, version)
	}
	listen := lowAddr(t, rng)
	r.start(filepath.Join(r.dir, "serve.db"))
	load := startFrontLoad(listen, 2)
	defer load.halt()

	r.applyWant(r.planFile("web", "v2", listen, blue, green, hook("v2")), http.StatusCreated)
	r.waitPhase("web", canary.PhaseSucceeded)
	for i := range 20 {
		resp, err := http.Get("http://" + listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "v2" || resp.Header.Get("X-Canary-Track") != "stable" {
			t.Fatalf("request %d after the promotion: %q on %s, want v2 from the stable slot", i, b, resp.Header.Get("X-Canary-Track"))
		}
	}
	greenVersion.Store("v3") // the next version goes to the canary slot
	r.applyWant(r.planFile("web", "v3", listen, blue, green, hook("v3")), http.StatusCreated)
	r.waitPhase("web", canary.PhaseSucceeded)
	if v := blueVersion.Load(); v != "v3" {
		t.Errorf("stable slot runs %v after the second promotion, want v3", v)
	}
	code, b := r.call("GET", "/api/v1/services", nil)
	if code != http.StatusOK || !strings.Contains(string(b), blue) {
		t.Errorf("services: %d %s, want the stable slot %s as the live upstream", code, b, blue)
	}
	load.halt()
	load.stop = make(chan struct{})
	out, err := exec.Command(r.bin, "get", "services", "--server", "http://"+r.api).CombinedOutput()
	if err != nil || !strings.Contains(string(out), listen) || !strings.Contains(string(out), "100/0") {
		t.Errorf("canary get services: %v\n%s\nwant %s at 100/0", err, out, listen)
	}
	if out, err := exec.Command(r.bin, "delete", "service", listen, "--server", "http://"+r.api).CombinedOutput(); err != nil {
		t.Fatalf("canary delete service: %v\n%s", err, out)
	}
	if _, err := http.Get("http://" + listen + "/"); err == nil {
		t.Error("the front door still answers after canary delete service")
	}
	r.stop()
}
