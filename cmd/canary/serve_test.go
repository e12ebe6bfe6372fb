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
	"github.com/canary-dev/canary/loadgen"
	"github.com/canary-dev/canary/sample"
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
	os.WriteFile(tokens, []byte("ops:operator:0123456789abcdef0123\nwatcher:viewer:fedcba9876543210fedc\n"), 0o600)
	serveDone := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		serveDone <- Main(ctx, []string{"serve", "--listen", api, "--state", filepath.Join(dir, "s.db"), "--tokens-file", tokens},
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
	const ops, viewer = "0123456789abcdef0123", "fedcba9876543210fedc"
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
	for i := 0; i < 200; i++ {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}

type servedRollout struct {
	State canary.State `json:"state"`
}

func waitServed(t *testing.T, ctl func(string, ...string) (int, string), token, name string, want canary.Phase) servedRollout {
	t.Helper()
	var r servedRollout
	for i := 0; i < 600; i++ {
		code, out := ctl(token, "get", name, "-o", "json")
		if code == 0 && json.Unmarshal([]byte(out), &r) == nil && r.State.Phase == want {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not reach %s (last %s)", name, want, r.State.Phase)
	return r
}
