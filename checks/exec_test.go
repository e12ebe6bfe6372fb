package checks_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/secrets"
)

// TestExecPolicyRefusesUnlisted: under a policy with no allow list (or
// one that does not name the executable) a command hook does not run and
// the error names --allow-commands.
func TestExecPolicyRefusesUnlisted(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	for _, pol := range []*checks.ExecPolicy{{}, {Allowed: []string{"/usr/bin/env"}}} {
		r := &checks.Runner{Exec: pol}
		_, err := r.Hook(t.Context(), canary.Hook{Name: "h", Command: []string{"touch", marker}}, nil)
		if err == nil || !strings.Contains(err.Error(), "--allow-commands") {
			t.Fatalf("policy %v: err = %v, want a refusal naming --allow-commands", pol.Allowed, err)
		}
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("policy %v: the refused command ran", pol.Allowed)
		}
	}
}

// TestExecPolicyEnvironment: an allowed command sees only the documented
// minimal environment (PATH, a private HOME removed afterwards,
// LANG=C.UTF-8) plus the runner's own entries, never the server's
// variables; without a policy (canary run) the user's environment is
// passed on as before.
func TestExecPolicyEnvironment(t *testing.T) { // not parallel: t.Setenv
	t.Setenv("CANARY_TOKENS", "ops:operator:server-secret-token")
	// /bin/env is the same file as /usr/bin/env on a merged-/usr system:
	// the allow list matches through links.
	r := &checks.Runner{Exec: &checks.ExecPolicy{Allowed: []string{"/bin/env"}}, Env: []string{"ROLLOUT=web"}}
	out, err := r.Hook(t.Context(), canary.Hook{Name: "env", Command: []string{"env"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out)
	slices.Sort(lines)
	if len(lines) != 4 || lines[0] != "HOME="+lines[0][5:] || lines[1] != "LANG=C.UTF-8" || lines[2] != "PATH="+checks.DefaultPATH || lines[3] != "ROLLOUT=web" {
		t.Fatalf("child environment:\n%s\nwant exactly HOME, LANG, PATH and ROLLOUT", out)
	}
	home := strings.TrimPrefix(lines[0], "HOME=")
	if !strings.Contains(home, "canary-hook-") {
		t.Errorf("HOME = %q, want a private temporary directory", home)
	}
	if _, err := os.Stat(home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the private HOME %s outlived the command", home)
	}

	out, err = (&checks.Runner{}).Hook(t.Context(), canary.Hook{Name: "env", Command: []string{"env"}}, nil)
	if err != nil || !strings.Contains(out, "CANARY_TOKENS=ops:operator:server-secret-token") {
		t.Fatalf("canary run's hook lost the user's environment: %v\n%s", err, out)
	}
}

// TestRedactsResolvedSecrets: a resolved secret value printed by a
// command (in its output and in the error's last line) or returned by a
// pre-check's URL never comes back from the runner.
func TestRedactsResolvedSecrets(t *testing.T) {
	var red secrets.Redactor
	red.Add("s3cr3t-value-42")
	r := &checks.Runner{Redact: red.Redact}
	out, err := r.Hook(t.Context(), canary.Hook{Name: "h", Command: []string{"echo", "token s3cr3t-value-42 here"}}, nil)
	if err != nil || out != "token [redacted] here\n" {
		t.Fatalf("output %q, %v", out, err)
	}
	_, err = r.Hook(t.Context(), canary.Hook{Name: "h", Command: []string{"sh", "-c", "echo s3cr3t-value-42; exit 3"}}, nil)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("error %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"key": "s3cr3t-value-42"}`))
	}))
	defer srv.Close()
	out, err = r.PreCheck(t.Context(), canary.PreCheck{Name: "p", URL: srv.URL, JQ: ".key"})
	if err != nil || strings.Contains(out, "s3cr3t") {
		t.Fatalf("pre-check output %q, %v", out, err)
	}
	_, err = r.PreCheck(t.Context(), canary.PreCheck{Name: "p", URL: srv.URL, JQ: `.key == "x"`})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("pre-check error %v", err)
	}
}

// TestExecPolicyCheckPlan names each hook and cleanup command the policy
// would refuse, by field.
func TestExecPolicyCheckPlan(t *testing.T) {
	p := &canary.Plan{Spec: canary.Spec{
		Hooks:   []canary.Hook{{Name: "a", HTTP: &canary.HTTPHook{URL: "http://x"}}, {Name: "b", Command: []string{"id"}}},
		Cleanup: []canary.Hook{{Name: "c", Command: []string{"env"}}, {Name: "d", Command: []string{"kubectl-not-here"}}},
	}}
	err := (&checks.ExecPolicy{Allowed: []string{"/usr/bin/env"}}).CheckPlan(p)
	var list plan.ErrorList
	if !errors.As(err, &list) || len(list) != 2 || list[0].Path != "spec.hooks[1].command" || list[1].Path != "spec.cleanup[1].command" {
		t.Fatalf("CheckPlan = %v", err)
	}
	if canary.ErrorCode(err) != canary.EINVALID || !strings.Contains(list[1].Msg, "not found on the PATH") {
		t.Errorf("CheckPlan = %v", err)
	}
	if err := (*checks.ExecPolicy)(nil).CheckPlan(p); err != nil {
		t.Errorf("nil policy (canary run) refused: %v", err)
	}
}

// TestHookEnvFromAllowedSources: a command hook's env entries are read
// with the host's resolver (under serve, its secret policy: a reference
// outside it fails the hook before anything runs) and their values are
// redacted from what the command prints.
func TestHookEnvFromAllowedSources(t *testing.T) { // not parallel: t.Setenv
	t.Setenv("CANARY_SECRET_API", "api-token-77e1")
	t.Setenv("CANARY_TOKENS", "ops:operator:server-secret-token")
	var red secrets.Redactor
	pol := &secrets.Policy{EnvPrefixes: []string{secrets.DefaultEnvPrefix}, Redactor: &red}
	r := &checks.Runner{Exec: &checks.ExecPolicy{Allowed: []string{"/usr/bin/env"}}, Secrets: pol.ResolveContext, Redact: red.Redact}
	out, err := r.Hook(t.Context(), canary.Hook{Name: "env", Command: []string{"env"},
		Env: map[string]canary.SecretRef{"API_TOKEN": "env:CANARY_SECRET_API"}}, nil)
	if err != nil || !strings.Contains(out, "API_TOKEN=[redacted]") || strings.Contains(out, "api-token-77e1") {
		t.Fatalf("output %q, %v; want API_TOKEN set and redacted", out, err)
	}
	_, err = r.Hook(t.Context(), canary.Hook{Name: "env", Command: []string{"env"},
		Env: map[string]canary.SecretRef{"T": "env:CANARY_TOKENS"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "env T") || !strings.Contains(err.Error(), "CANARY_SECRET_") || strings.Contains(err.Error(), "server-secret-token") {
		t.Fatalf("a reference outside the policy: %v", err)
	}
}
