package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/sample"
	"github.com/canary-dev/canary/store"
)

// TestServeEndToEnd runs the real `canary serve` (store, manager, API) and
// drives it with the client commands: apply, get, describe, a control,
// events and the report, against real backends behind the built-in proxy.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: about 15s")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	fast := sample.LatencyDist{Median: 5 * time.Millisecond, P95: 20 * time.Millisecond}
	stable, _ := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 1})
	can, _ := sample.Start(ctx, "", sample.Config{Latency: fast, Seed: 2})
	dir := t.TempDir()
	api, listen := freeAddr(t), freeAddr(t)
	server := "http://" + api
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("ops:operator:0123456789abcdef0123456789abcdef0123\nwatcher:viewer:fedcba9876543210fedcba9876543210fedc\n"), 0o600)
	serveDone := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		serveDone <- Main(ctx, []string{"serve", "--listen", api, "--state", filepath.Join(dir, "s.db"), "--tokens-file", tokens, "--rate-limit", "0"},
			&bytes.Buffer{}, &serveErr)
	}()
	waitHTTP(t, server+"/healthz")
	planFile := filepath.Join(dir, "plan.yaml")
	os.WriteFile(planFile, fmt.Appendf(nil, e2ePlan, listen, stable.URL(), can.URL(), stable.URL()), 0o644)
	gen, err := loadgen.Start(ctx, loadgen.Config{Target: "http://" + listen + "/", Rate: 300, Users: 2000, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Stop()
	ctl := func(token string, args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(ctx, append(args, "--server", server, "--token", token), &out, &errb)
		return code, out.String() + errb.String()
	}
	const ops, viewer = "0123456789abcdef0123456789abcdef0123", "fedcba9876543210fedcba9876543210fedc"
	if code, out := ctl(viewer, "apply", "-f", planFile); code != ExitInvalid || !strings.Contains(out, "operator") {
		t.Fatalf("a viewer applied a plan: exit %d %s", code, out)
	}
	if code, out := ctl(ops, "apply", "-f", planFile); code != 0 {
		t.Fatalf("apply: exit %d %s", code, out)
	}
	if code, out := ctl(ops, "apply", "-f", planFile); code != 0 || !strings.Contains(out, "unchanged") {
		t.Fatalf("re-apply: exit %d %s; want unchanged", code, out)
	}
	r := waitServed(t, ctl, viewer, "default/e2e", canary.PhaseSucceeded)
	if r.State.Weight != 100 {
		t.Errorf("promoted at weight %d", r.State.Weight)
	}
	// The flag moved in lockstep and the runbook's flag API shows it.
	req, _ := http.NewRequest("GET", server+"/feature-flags/release_e2e?history=1", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var flag struct {
		Enabled           bool `json:"enabled"`
		RolloutPercentage int  `json:"rollout_percentage"`
		History           []struct {
			Actor string `json:"actor"`
		} `json:"history"`
	}
	json.NewDecoder(resp.Body).Decode(&flag)
	resp.Body.Close()
	if !flag.Enabled || flag.RolloutPercentage != 100 || len(flag.History) != 3 {
		t.Errorf("flag after promotion: %+v, want enabled at 100 after 3 changes (10, 50, 100)", flag)
	}
	if code, out := ctl(viewer, "describe", "default/e2e"); code != 0 || !strings.Contains(out, "Succeeded") {
		t.Errorf("describe: exit %d %s", code, out)
	}
	if code, out := ctl(viewer, "report", "default/e2e"); code != 0 || !strings.Contains(out, "promoted") {
		t.Errorf("report: exit %d %.300s", code, out)
	}
	if code, out := ctl(ops, "pause", "default/e2e"); code != ExitInvalid || !strings.Contains(out, "Succeeded") {
		t.Errorf("pause of a finished rollout: exit %d %s; want a conflict", code, out)
	}
	cancel()
	select {
	case code := <-serveDone:
		if code != 0 {
			t.Errorf("serve exit %d: %s", code, serveErr.String())
		}
	case <-time.After(20 * time.Second):
		t.Error("serve did not stop")
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	canarytest.WaitFor(t, 5*time.Second, url+" answering", func() (bool, string) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return true, ""
	})
}

type servedRollout struct {
	State canary.State `json:"state"`
}

func waitServed(t *testing.T, ctl func(string, ...string) (int, string), token, name string, want canary.Phase) servedRollout {
	t.Helper()
	var r servedRollout
	canarytest.WaitFor(t, 30*time.Second, fmt.Sprintf("%s %s", name, want), func() (bool, string) {
		code, out := ctl(token, "get", name, "-o", "json")
		return code == 0 && json.Unmarshal([]byte(out), &r) == nil && r.State.Phase == want, "last " + string(r.State.Phase)
	})
	return r
}

// TestRetentionFlag: --retention takes days, Go durations and 0; anything
// else is refused with what to write instead.
func TestRetentionFlag(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 720 * time.Hour, true},
		{"0", 0, true},
		{"0d", 0, true},
		{"72h", 72 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"5 days", 0, false},
		{"-1h", 0, false}, // negative: a typo, not "keep everything"
		{"-3d", 0, false},
		{"d", 0, false},
	}
	for _, tt := range tests {
		got, err := parseRetention(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseRetention(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "30d") {
			t.Errorf("parseRetention(%q): %q does not say what to write", tt.in, err)
		}
	}
	var out, errb bytes.Buffer
	if code := Main(t.Context(), []string{"serve", "--insecure", "--retention", "5 days"}, &out, &errb); code != ExitInvalid ||
		!strings.Contains(errb.String(), "--retention") {
		t.Errorf("serve --retention '5 days': exit %d, %s; want %d naming the flag", code, errb.String(), ExitInvalid)
	}
}

// TestServeRetention starts a real `canary serve --retention 30d` on a
// state database holding a rollout that finished 40 days ago and one that
// finished yesterday: the server deletes the old one at start (its API
// answers 404 saying retention removed it) and keeps the other.
func TestServeRetention(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "s.db")
	now := time.Now()
	for _, r := range []struct {
		name string
		at   time.Time
	}{{"old", now.Add(-40 * 24 * time.Hour)}, {"recent", now.Add(-24 * time.Hour)}} {
		st, err := store.OpenConfig(ctx, store.Config{Path: path, Clock: canarytest.NewClock(r.at)})
		if err != nil {
			t.Fatal(err)
		}
		plan := fmt.Appendf(nil, retentionPlan, r.name, r.name)
		s := canary.State{Name: r.name, Version: "v2", Phase: canary.PhaseSucceeded, EventSeq: 1}
		evs := []canary.Event{{Seq: 1, Time: r.at, Rollout: r.name, Type: canary.EvPromoted, Phase: canary.PhaseSucceeded}}
		if _, err := st.Create(ctx, "team/"+r.name, plan, s, evs); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	p := startServe(t, path, "--retention", "30d")
	canarytest.WaitFor(t, 20*time.Second, "GET team/old a 404 saying retention removed it", func() (bool, string) {
		code, body := p.do("GET", "/api/v1/rollouts/team/old", nil)
		return code == http.StatusNotFound && strings.Contains(body, "removed by retention"), fmt.Sprintf("%d %s", code, body)
	})
	for _, cmd := range []string{"describe", "events", "report"} {
		var out, errb bytes.Buffer
		code := Main(ctx, []string{cmd, "team/old", "--server", p.url, "--token", p.token}, &out, &errb)
		if code != ExitInvalid || !strings.Contains(errb.String(), "removed by retention") {
			t.Errorf("canary %s team/old: exit %d, %s%s; want %d saying retention removed it", cmd, code, out.String(), errb.String(), ExitInvalid)
		}
	}
	if code, body := p.do("GET", "/api/v1/rollouts/team/recent", nil); code != http.StatusOK {
		t.Errorf("GET team/recent: %d %s; want 200 (finished within the retention)", code, body)
	}
	if code, body := p.do("GET", "/metrics", nil); code != http.StatusOK ||
		!strings.Contains(body, `canary_pruned_rows_total{table="rollouts"} 1`) {
		t.Errorf("/metrics: %d; want canary_pruned_rows_total{table=\"rollouts\"} 1 in\n%s", code, body)
	}
}

const retentionPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: %s, namespace: team}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  featureFlag: {name: f-%s}
  steps: [{weight: 10, hold: 1m}, {weight: 100}]
  analysis: {interval: 10s}
  rules:
    - {metric: errorRate, above: 5%%, for: 1m, action: rollback-immediate, urgency: critical}
`
