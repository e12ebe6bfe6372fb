package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/sample"
)

// The tokens of the dashboard rig.
const (
	rigOperator = "0123456789abcdef0123456789abcdef0123"
	rigViewer   = "fedcba9876543210fedcba9876543210fedc"
)

// dashRig is a real `canary serve` (store, manager, API, flag service,
// dashboard) on a loopback port, and a stable backend every rollout of
// the rig shares.
type dashRig struct {
	ctx    context.Context
	server string
	stable *sample.Server
	// hooks receives the rollouts' webhook notifications: /ok answers
	// 200, /fail 500.
	hooks *hookReceiver
}

// hookReceiver is a real HTTP webhook receiver counting the posts it got
// by path.
type hookReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	posts map[string]int
}

func startHooks(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{posts: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.posts[r.Method+" "+r.URL.Path]++
		h.mu.Unlock()
		if r.URL.Path == "/fail" {
			http.Error(w, "receiver down for maintenance", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// count is how many posts path got.
func (h *hookReceiver) count(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.posts["POST "+path]
}

// startDashRig starts serve with an operator and a viewer token; it stops
// with ctx.
func startDashRig(t *testing.T, ctx context.Context) *dashRig {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("ops:operator:"+rigOperator+"\nwatcher:viewer:"+rigViewer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	done := make(chan struct{})
	var serveErr bytes.Buffer
	go func() {
		defer close(done)
		Main(ctx, []string{"serve", "--listen", addr, "--state", filepath.Join(dir, "s.db"), "--tokens-file", tokens},
			&bytes.Buffer{}, &serveErr)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	rig := &dashRig{ctx: ctx, server: "http://" + addr}
	waitHTTP(t, rig.server+"/healthz")
	rig.stable = rigBackend(t, ctx, sample.Config{Seed: 1})
	rig.hooks = startHooks(t)
	return rig
}

// rigBackend starts a sample service with fast answers unless cfg says
// otherwise.
func rigBackend(t *testing.T, ctx context.Context, cfg sample.Config) *sample.Server {
	t.Helper()
	if cfg.Latency == (sample.LatencyDist{}) {
		cfg.Latency = sample.LatencyDist{Median: 5 * time.Millisecond, P95: 20 * time.Millisecond}
	}
	s, err := sample.Start(ctx, "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rigRollout is one rollout of the rig: its proxy address.
type rigRollout struct {
	name   string // namespace/name
	listen string
}

// rigPlan is a compressed runbook plan: two held steps, the latency,
// error-rate and burn rows of the matrix, a flag in lockstep.
const rigPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s}
spec:
  version: %s
  traffic:
    proxy: {listen: "%s", stable: "%s", canary: "%s", stickyHeader: X-User-ID}
  featureFlag: {name: release_%s}
  steps:
    - {weight: 10, hold: %s}
    - {weight: 50, hold: %s}
    - {weight: 100}
  analysis: {interval: 1s, minRequests: 30, maxHoldExtension: 60s}
  slo: {objective: 99.9%%, latencyP95: 1s, errorRate: 1%%}
  rules:
    - {metric: latencyP95, above: 1s, window: 3s, for: 4s, action: rollback-gradual}
    - {metric: errorRate, above: 5%%, window: 3s, for: 2s, action: rollback-immediate, urgency: critical}
    - {metric: burnRate, above: 40x, window: 3s, for: 3s, action: rollback-gradual}
  rollback: {drain: 3s}
`

// rigNotify sends the rollout's step and rollback events to two
// audiences by webhook: eng's receiver answers 200, oncall's 500.
const rigNotify = `  notify:
    - {audience: eng, webhook: {url: "%[1]s/ok"}, on: [stepStarted, rollbackStarted, rolledBack]}
    - {audience: oncall, webhook: {url: "%[1]s/fail"}, on: [rollbackStarted, rolledBack]}
`

// start applies a rollout of name (version, hold per step) whose canary is
// cfg, with load through its proxy for the rest of the test; with notify,
// it notifies rig.hooks (rigNotify).
func (rig *dashRig) start(t *testing.T, name, version, hold string, cfg sample.Config, notify ...bool) rigRollout {
	t.Helper()
	can := rigBackend(t, rig.ctx, cfg)
	ro := rigRollout{name: "default/" + name, listen: freeAddr(t)}
	flag := strings.ReplaceAll(name, "-", "_")
	plan := fmt.Sprintf(rigPlan, name, version, ro.listen, rig.stable.URL(), can.URL(), flag, hold, hold)
	if len(notify) > 0 && notify[0] {
		plan += fmt.Sprintf(rigNotify, rig.hooks.URL)
	}
	if code, body := rig.do(t, "POST", "/api/v1/rollouts", rigOperator, plan); code != http.StatusCreated {
		t.Fatalf("apply %s: %d %s", name, code, body)
	}
	gen, err := loadgen.Start(rig.ctx, loadgen.Config{Target: "http://" + ro.listen + "/", Rate: 200, Users: 2000, Duration: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gen.Stop() })
	return ro
}

// do sends one API request with token and returns the status and body.
func (rig *dashRig) do(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(rig.ctx, method, rig.server+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// get reads a rollout as the API has it.
func (rig *dashRig) get(t *testing.T, name string) servedRollout {
	t.Helper()
	code, body := rig.do(t, "GET", "/api/v1/rollouts/"+name, rigViewer, "")
	var r servedRollout
	if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("get %s: %d %s", name, code, body)
	}
	return r
}
