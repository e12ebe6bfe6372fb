package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateWarnings: a bare on: key is valid for canary but a warning
// (kubectl would read it as true); the shipped example plans have none.
func TestValidateWarnings(t *testing.T) {
	examples, _ := filepath.Glob("../../examples/*.yaml")
	k8s, _ := filepath.Glob("../../examples/k8s/*.yaml")
	examples = append(examples, k8s...)
	if len(examples) < 4 {
		t.Fatalf("found only %d example plans", len(examples))
	}
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), append([]string{"validate"}, examples...), &stdout, &stderr); code != 0 {
		t.Fatalf("validate examples: exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "warning") {
		t.Errorf("the examples have warnings:\n%s", stderr.String())
	}

	plan := filepath.Join(t.TempDir(), "bare-on.yaml")
	os.WriteFile(plan, []byte(`apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 50, hold: 1m}, {weight: 100}]
  rules: [{metric: errorRate, above: 5%, for: 1m, action: rollback-immediate}]
  notify:
    - audience: eng
      on: [rolledBack]
      webhook: {url: "http://127.0.0.1:9/hook"}
`), 0o644)
	stdout.Reset()
	stderr.Reset()
	if code := Main(t.Context(), []string{"validate", plan}, &stdout, &stderr); code != 0 {
		t.Fatalf("validate: exit %d: %s", code, stderr.String())
	}
	want := "warning: " + plan + `:11:7: key on: kubectl reads a bare on as a boolean (YAML 1.1), so this plan would not apply as a Rollout (write "on":)`
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stdout.String(), "ok") {
		t.Errorf("stdout %q, stderr %q; want ok and %q", stdout.String(), stderr.String(), want)
	}
}
