package report_test

import (
	"flag"
	"github.com/canary-dev/canary/api"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const basePlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: checkout}
spec:
  version: v2.4.0
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  featureFlag: {name: release_20250814}
  preChecks:
    - {name: staging healthy, url: "http://staging/elite/metrics", jq: ".avg_success_rate >= 0.99"}
  steps:
    - {weight: 10, hold: 2m}
    - {weight: 50, hold: 2m%s}
    - {weight: 100}
  analysis: {interval: 30s, minRequests: 50}
  slo: {objective: 99.9%%, latencyP95: 600ms, errorRate: 1%%}
  rules:
    - {metric: latencyP95, above: 600ms, for: 1m, action: rollback-gradual, urgency: medium}
    - {metric: errorRate, above: 5%%, for: 30s, action: rollback-immediate, urgency: critical}
    - {metric: burnRate, above: 2x, for: 1m, action: rollback-gradual, urgency: medium}
  rollback: {drain: 1m}
`

func planYAML(approval string) string {
	return strings.Replace(strings.ReplaceAll(basePlan, "%%", "%"), "%s", approval, 1)
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

// TestPromoted: a healthy rollout with a manual approval given by alice.
func TestPromoted(t *testing.T) {
	s := newSim(t, planYAML(", approval: {manual: true}"))
	s.runUntil(func(s *sim) bool { return !s.State.ApprovalSince.IsZero() }, time.Hour)
	s.runFor(45 * time.Second)
	s.command(engine.Command{Kind: engine.CmdApprove, Actor: "alice"})
	s.runUntil(nil, time.Hour)
	if s.State.Phase != canary.PhaseSucceeded {
		t.Fatalf("phase %s, want Succeeded", s.State.Phase)
	}
	md := report.Markdown(s.rollout(), s.Events)
	golden(t, "promoted.md", md)
	for _, want := range []string{
		"**Outcome: ✅ promoted**",
		"- [x] All SLOs maintained throughout deployment",
		"- [ ] No customer-reported issues (manual)",
		"- [x] Monitoring dashboards show healthy metrics",
		"- [x] Feature flag at 100% rollout — flag release_20250814 on at 100% (confirmed at",
		"command by alice",
		"10% ✓ → 50% ✓ → 100% ✓",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestRolledBack: bob pauses and resumes at 10%; at 50% the canary's P95
// climbs to 742ms and the latency rule rolls it back gradually.
func TestRolledBack(t *testing.T) {
	s := newSim(t, planYAML(""))
	s.canary = func(d time.Duration) (float64, float64) {
		if s.State.Weight >= 50 {
			return 0.742, 0.002
		}
		return 0.45 + wobble(d), 0.001
	}
	s.runUntil(func(s *sim) bool { return s.State.Judged >= 2 }, time.Hour)
	s.command(engine.Command{Kind: engine.CmdPause, Actor: "bob", Reason: "checking the dashboard"})
	s.runFor(90 * time.Second)
	s.command(engine.Command{Kind: engine.CmdResume, Actor: "bob"})
	s.runUntil(nil, time.Hour)
	if s.State.Phase != canary.PhaseRolledBack {
		t.Fatalf("phase %s, want RolledBack", s.State.Phase)
	}
	md := report.Markdown(s.rollout(), s.Events)
	golden(t, "rolled_back.md", md)
	for _, want := range []string{
		"**Outcome: ↩️ rolled back (gradual)** — latencyP95 742ms > 600ms for 1m",
		"- [ ] All SLOs maintained throughout deployment — **not met**: canary P95 742ms > SLO 600ms",
		"- [ ] Feature flag at 100% rollout — **not met**: flag release_20250814 is off",
		"command by bob",
		"canary **742ms** (stable",
		"10% ✓ → 50% ✗ → 100%",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestFailed: the pre-check fails; no traffic moved.
func TestFailed(t *testing.T) {
	s := newSim(t, planYAML(""))
	s.checkErr = ".avg_success_rate >= 0.99 is false (0.97)"
	s.runUntil(nil, time.Hour)
	if s.State.Phase != canary.PhaseFailed {
		t.Fatalf("phase %s, want Failed", s.State.Phase)
	}
	md := report.Markdown(s.rollout(), s.Events)
	golden(t, "failed.md", md)
	for _, want := range []string{
		"**Outcome: ❌ failed before any traffic moved** — nothing was changed",
		"No evaluation took place",
		"- [ ] All SLOs maintained throughout deployment — not verified",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestUnderWay: a report of a rollout still at its first step says so
// and claims nothing it has not seen.
func TestUnderWay(t *testing.T) {
	s := newSim(t, planYAML(""))
	s.runUntil(func(s *sim) bool { return s.State.Evaluations >= 2 }, time.Hour)
	md := report.Markdown(s.rollout(), s.Events)
	for _, want := range []string{
		"**Outcome: ⏳ under way, not finished** — Progressing at step 1 (10%)",
		"so far",
		"10% ● → 50% → 100%",
		"- [ ] Feature flag at 100% rollout — **not met**: flag release_20250814 is at 10%",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// TestEscaping: text from the log cannot break a table or open a tag.
func TestEscaping(t *testing.T) {
	s := newSim(t, planYAML(""))
	s.runUntil(func(s *sim) bool { return s.State.Phase == canary.PhaseProgressing }, time.Hour)
	s.command(engine.Command{Kind: engine.CmdPause, Actor: "eve", Reason: "a|b <script>alert(1)</script>"})
	md := report.Markdown(s.rollout(), s.Events)
	if regexp.MustCompile(`(^|[^\\])<[a-z/]`).MatchString(md) || strings.Contains(md, "a|b") {
		t.Errorf("unescaped log text:\n%s", md)
	}
	if !strings.Contains(md, `a\|b \<script>alert(1)\</script>`) {
		t.Errorf("escaped reason missing:\n%s", md)
	}
}

// TestEmpty: no plan and no events still give a report, not a panic.
func TestEmpty(t *testing.T) {
	md := report.Markdown(api.Rollout{Name: "default/x"}, nil)
	for _, want := range []string{"# Rollout report: default/x", "No events were recorded.", "No decisions were taken yet."} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
