package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/secrets"
)

// TestServePolicy: the default serve policy reads CANARY_SECRET_*
// variables and files in --secret-dir only; everything else (the
// server's own token list, /etc files, links out of the directory) is
// refused naming the reference and the flag, never showing a value.
func TestServePolicy(t *testing.T) { // not parallel: t.Setenv
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "outside")
	for f, v := range map[string]string{filepath.Join(dir, "pd"): "pd-key-1234\n", outside: "outside-value\n"} {
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CANARY_SECRET_SLACK", "https://hooks.example/abc")
	t.Setenv("CANARY_TOKENS", "ops:operator:server-token-value")
	var red secrets.Redactor
	p := &secrets.Policy{EnvPrefixes: []string{secrets.DefaultEnvPrefix}, Dirs: []string{dir}, Redactor: &red}

	for ref, want := range map[canary.SecretRef]string{"env:CANARY_SECRET_SLACK": "https://hooks.example/abc", canary.SecretRef("file:" + dir + "/pd"): "pd-key-1234"} {
		if got, err := p.Resolve(ref); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v", ref, got, err)
		}
	}
	refused := map[canary.SecretRef]string{
		"env:CANARY_TOKENS":                       "starting with CANARY_SECRET_",
		"env:CANARY_SECRET_":                      "starting with CANARY_SECRET_",
		"file:/etc/passwd":                        "only in " + dir,
		canary.SecretRef("file:" + dir + "/../x"): "only in " + dir,
		canary.SecretRef("file:" + dir + "/link"): "link leading out",
		"secret:prom/token":                       "only canary operator reads",
	}
	for ref, want := range refused {
		got, err := p.Resolve(ref)
		if err == nil || !strings.Contains(err.Error(), want) || canary.ErrorCode(err) != canary.EINVALID {
			t.Errorf("Resolve(%s) = %q, %v; want an invalid error containing %q", ref, got, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), "server-token-value") || strings.Contains(err.Error(), "outside-value")) {
			t.Errorf("error shows a value: %v", err)
		}
	}
	if got := red.Redact("posting to https://hooks.example/abc with pd-key-1234."); got != "posting to [redacted] with [redacted]." {
		t.Errorf("Redact = %q", got)
	}
	var none secrets.Policy
	if err := none.Check("env:CANARY_SECRET_SLACK"); err == nil || !strings.Contains(err.Error(), "--secret-env") {
		t.Errorf("zero policy: %v", err)
	}
}

// TestKubernetesPolicy: the operator's policy allows secret:NAME/KEY and
// refuses its own environment and files.
func TestKubernetesPolicy(t *testing.T) {
	p := &secrets.Policy{Kubernetes: true}
	if err := p.Check("secret:prom/token"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []canary.SecretRef{"env:KUBERNETES_SERVICE_HOST", "file:/var/run/secrets/kubernetes.io/serviceaccount/token"} {
		if err := p.Check(ref); err == nil || !strings.Contains(err.Error(), "only Kubernetes Secrets in the rollout's own namespace") {
			t.Errorf("Check(%s) = %v", ref, err)
		}
	}
}

// TestCheckPlan names every field holding a refused reference, the
// webhook URL written as a reference included, as an invalid plan.
func TestCheckPlan(t *testing.T) {
	p, err := plan.Parse("p.yaml", []byte(`apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: 1m}, {weight: 100}]
  analysis: {metrics: {prometheus: {address: "http://127.0.0.1:9090", bearerToken: "file:/var/run/secrets/kubernetes.io/serviceaccount/token"}}}
  rules: [{metric: errorRate, above: 5%, for: 1m, action: rollback-immediate}]
  notify:
    - {audience: eng, slack: {webhookURL: "env:CANARY_SECRET_SLACK"}, "on": [all]}
    - {audience: ops, webhook: {url: "env:CANARY_TOKENS"}, "on": [all]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(secrets.Refs(p)); n != 3 {
		t.Fatalf("Refs found %d references, want 3: %v", n, secrets.Refs(p))
	}
	err = (&secrets.Policy{EnvPrefixes: []string{secrets.DefaultEnvPrefix}}).CheckPlan(p)
	var list plan.ErrorList
	if !errors.As(err, &list) || len(list) != 2 || canary.ErrorCode(err) != canary.EINVALID {
		t.Fatalf("CheckPlan = %v, want 2 errors", err)
	}
	if list[0].Path != "spec.analysis.metrics.prometheus.bearerToken" || list[1].Path != "spec.notify[1].webhook.url" {
		t.Errorf("paths: %q, %q", list[0].Path, list[1].Path)
	}
}
