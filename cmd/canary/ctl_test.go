package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/canary-dev/canary/api"
	"github.com/canary-dev/canary/canarytest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/web"
	"github.com/canary-dev/canary/web/webtest"
	"github.com/spf13/cobra"
)

const (
	ctlOpToken   = "op-secret-0123456789abcdef0123456789"
	ctlViewToken = "view-secret-0123456789abcdef0123456789"
)

const ctlPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  featureFlag: {name: release_web}
  steps:
    - {weight: 10, hold: 1m}
    - {weight: 50, hold: 1m, approval: {manual: true}}
    - {weight: 100}
  analysis: {interval: 10s, minRequests: 20}
  rules:
    - {metric: latencyP95, above: 600ms, for: 20s, action: rollback-gradual}
    - {metric: errorRate, above: 5%, for: 10s, action: rollback-immediate, urgency: critical}
`

// ctlEnv is canary serve's API on a fake manager, and the client
// commands pointed at it.
type ctlEnv struct {
	t   *testing.T
	api *webtest.API
	url string
	env map[string]string
	dir string
}

func newCtlEnv(t *testing.T) *ctlEnv {
	t.Helper()
	fake := webtest.New()
	e := newCtlEnvOn(t, fake)
	e.api = fake
	return e
}

// newCtlEnvOn is the client commands pointed at canary serve's API on a.
func newCtlEnvOn(t *testing.T, fake api.API) *ctlEnv {
	t.Helper()
	tk, err := web.ParseTokens("alice:operator:" + ctlOpToken + ",ci:viewer:" + ctlViewToken)
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(web.Config{API: fake, Tokens: tk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &ctlEnv{t: t, url: srv.URL, dir: t.TempDir(),
		env: map[string]string{envServer: srv.URL, envToken: ctlOpToken}}
	return e
}

// file writes a file in the test's directory and returns its path.
func (e *ctlEnv) file(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// runCtx runs the client commands as Main runs the root: same error
// report, same exit codes.
func (e *ctlEnv) runCtx(ctx context.Context, out, errw *canarytest.Buffer, args ...string) int {
	x := &ctl{stdout: out, stderr: errw, getenv: func(k string) string { return e.env[k] },
		now: func() time.Time { return webtest.T0.Add(5 * time.Minute) }}
	root := &cobra.Command{Use: "canary", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(out)
	root.SetErr(errw)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	ran := false
	root.PersistentPreRun = func(*cobra.Command, []string) { ran = true }
	root.AddCommand(x.cmds()...)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && !ran {
		err = usageError{err}
	}
	if err != nil {
		report(errw, err)
	}
	return exitCode(err)
}

func (e *ctlEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	var out, errw canarytest.Buffer
	code := e.runCtx(e.t.Context(), &out, &errw, args...)
	return out.String(), errw.String(), code
}

// ok runs a command that must succeed and returns its output.
func (e *ctlEnv) ok(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("canary %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// fails runs a command that must fail with code and returns its stderr.
func (e *ctlEnv) fails(code int, args ...string) string {
	e.t.Helper()
	_, errs, got := e.run(args...)
	if got != code {
		e.t.Fatalf("canary %s: exit %d, want %d: %s", strings.Join(args, " "), got, code, errs)
	}
	return errs
}

func has(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

func TestCtlApplyGet(t *testing.T) {
	e := newCtlEnv(t)
	plan := e.file("plan.yaml", ctlPlan)
	if out := e.ok("apply", "-f", plan); out != "rollout default/web created (generation 1, v2)\n" {
		t.Errorf("apply: %q", out)
	}
	if out := e.ok("apply", "-f", plan); out != "rollout default/web unchanged (generation 1, v2, Progressing)\n" {
		t.Errorf("apply again: %q", out)
	}
	e.fails(ExitInvalid, "apply", "-f", e.file("changed.yaml", strings.Replace(ctlPlan, "hold: 1m}", "hold: 2m}", 1)))
	e.ok("apply", "-f", e.file("changed.yaml", strings.Replace(ctlPlan, "hold: 1m}", "hold: 2m}", 1)), "--force")

	want := "NAME          GEN   VERSION   PHASE         STEP   WEIGHT   AGE   MESSAGE\n" +
		"default/web   1     v2        Progressing   1/3    0%       5m\n"
	if out := e.ok("get"); out != want {
		t.Errorf("get:\n%s\nwant:\n%s", out, want)
	}
	if out := e.ok("get", "web"); out != want {
		t.Errorf("get web:\n%s", out)
	}
	var r api.Rollout
	if err := json.Unmarshal([]byte(e.ok("get", "default/web", "-o", "json")), &r); err != nil || r.Name != "default/web" {
		t.Errorf("get -o json: %+v %v", r, err)
	}
	has(t, e.ok("get", "-o", "yaml"), "items:\n", "name: default/web\n", "actionSeq: 2\n", "above: 600ms\n")
	if out := e.ok("get", "--phase", "Paused", "-o", "json"); out != "{\n  \"items\": []\n}\n" {
		t.Errorf("get --phase Paused -o json: %q", out)
	}
	if _, errs, _ := e.run("get", "--phase", "Paused"); errs != "no rollouts\n" {
		t.Errorf("empty get: %q", errs)
	}
	has(t, e.fails(ExitInvalid, "get", "-o", "xml"), `-o "xml": use table or wide or json or yaml or name`)
	has(t, e.fails(ExitInvalid, "get", "nope"), "rollout default/nope not found")
	has(t, e.fails(ExitInvalid, "get", "a", "b"), "accepts at most 1 arg")
}

func TestCtlApplyInvalidPlan(t *testing.T) {
	e := newCtlEnv(t)
	plan := e.file("bad.yaml", strings.Replace(strings.Replace(ctlPlan, "hold: 1m}", "hold: 1 min}", 1), "urgency: critical", "urgency: dire", 1))
	errs := e.fails(ExitInvalid, "apply", "-f", plan)
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], plan+":9:") || !strings.HasPrefix(lines[1], plan+":15:") {
		t.Errorf("want one line per problem with file:line:col:\n%s", errs)
	}
	if len(e.api.Calls()) != 0 {
		t.Errorf("an invalid plan reached the server: %q", e.api.Calls())
	}
	has(t, e.fails(ExitInvalid, "apply", "-f", filepath.Join(e.dir, "missing.yaml")), "missing.yaml: cannot read the file: no such file or directory")
	has(t, e.fails(ExitInvalid, "apply"), `apply needs the plan: -f FILE`)
}

// TestCtlServerRejectsPlan: the server's plan errors come back one per
// line, with exit code 2.
func TestCtlServerRejectsPlan(t *testing.T) {
	e := newCtlEnv(t)
	e.api.ApplyFunc = func(context.Context, []byte, bool, string) (api.ApplyResult, error) {
		return api.ApplyResult{}, planErrors()
	}
	errs := e.fails(ExitInvalid, "apply", "-f", e.file("plan.yaml", ctlPlan))
	want := "canary: the plan is invalid: 2 problems\nplan:3:1: spec.a: first\nplan:4:1: spec.b: second\n"
	if errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
}

func TestCtlControls(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	out := e.ok("pause", "web", "--reason", "looking at the dashboards")
	if out != "rollout default/web: pause done; now Paused at step 1 (10%), canary weight 0%\n" {
		t.Errorf("pause: %q", out)
	}
	has(t, e.fails(ExitInvalid, "pause", "web"), "cannot pause rollout web: it is Paused already")
	e.ok("resume", "default/web")
	has(t, e.ok("promote", "web", "-n", "default"), "promote done; now Progressing at step 2 (50%)")
	has(t, e.ok("approve", "web"), "approve done")
	has(t, e.ok("abort", "web", "--immediate", "-o", "json"), `"rollbackKind": "rollback-immediate"`)
	has(t, e.fails(ExitInvalid, "retry", "web"), "cannot retry rollout web")
	want := []string{"Control default/web pause actor=alice", "Control default/web resume actor=alice",
		"Control default/web promote actor=alice", "Control default/web approve actor=alice",
		"Control default/web abort actor=alice"}
	calls := strings.Join(e.api.Calls(), "\n")
	for _, w := range want {
		has(t, calls, w)
	}
	evs, _ := e.api.Events(t.Context(), "default/web", 0, 0)
	found := false
	for _, ev := range evs {
		found = found || (ev.Type == canary.EvCommand && ev.Message == "pause by alice: looking at the dashboards")
	}
	if !found {
		t.Error("the pause's reason and actor are not in the events")
	}
	has(t, e.fails(ExitInvalid, "pause", "nope"), "rollout default/nope not found")
	has(t, e.fails(ExitInvalid, "pause"), "accepts 1 arg(s), received 0")
	has(t, e.fails(ExitInvalid, "pause", "web", "--full"), "unknown flag: --full")
}

func TestCtlAccess(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	has(t, e.fails(ExitInvalid, "pause", "web", "--token", ctlViewToken), "token ci has role viewer", "needs role operator")
	e.ok("get", "--token", ctlViewToken)
	delete(e.env, envToken)
	has(t, e.fails(ExitInvalid, "get"), "needs a bearer token")
	e.env[envServer] = "http://127.0.0.1:1"
	has(t, e.fails(ExitUnavailable, "get", "--token", ctlViewToken), "cannot reach the canary server at http://127.0.0.1:1")
	has(t, e.fails(ExitInvalid, "get", "--server", "127.0.0.1:7070"), "is not an http:// or https:// URL")
}

// TestCtlFromEnvironment: newCtlCmds reads CANARY_SERVER and CANARY_TOKEN;
// flags win.
func TestCtlFromEnvironment(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	t.Setenv(envServer, "http://127.0.0.1:1")
	t.Setenv(envToken, ctlViewToken)
	run := func(args ...string) (string, int) {
		var out, errw bytes.Buffer
		root := &cobra.Command{Use: "canary", SilenceErrors: true, SilenceUsage: true}
		root.AddCommand(newCtlCmds(&out, &errw)...)
		root.SetArgs(args)
		err := root.ExecuteContext(t.Context())
		if err != nil {
			report(&errw, err)
		}
		return out.String() + errw.String(), exitCode(err)
	}
	if out, code := run("get"); code != ExitUnavailable || !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("env server: %d %s", code, out)
	}
	if out, code := run("get", "--server", e.url); code != 0 || !strings.Contains(out, "default/web") {
		t.Errorf("--server: %d %s", code, out)
	}
	if out, code := run("pause", "web", "--server", e.url); code != ExitInvalid || !strings.Contains(out, "role viewer") {
		t.Errorf("env token: %d %s", code, out)
	}
}

func TestCtlDelete(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	has(t, e.fails(ExitInvalid, "delete", "web"), "only a finished rollout can be deleted")
	r, _ := e.api.Get(t.Context(), "default/web")
	r.State.Phase = canary.PhaseRolledBack
	e.api.Put(r)
	if out := e.ok("delete", "web"); out != "rollout default/web deleted (1 generation: 1)\n" {
		t.Errorf("delete: %q", out)
	}
	has(t, e.fails(ExitInvalid, "delete", "web"), "not found")
}

func TestCtlReport(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	out := e.ok("report", "web")
	if !strings.HasPrefix(out, "# Rollout report: default/web v2\n") || !strings.Contains(out, "## Success criteria") {
		t.Errorf("report:\n%s", out)
	}
}

// TestCtlCompletion: NAME completes from the server's rollouts.
func TestCtlCompletion(t *testing.T) {
	e := newCtlEnv(t)
	e.ok("apply", "-f", e.file("plan.yaml", ctlPlan))
	out := e.ok("__complete", "pause", "")
	has(t, out, "default/web\tProgressing\n", ":4\n")
}
