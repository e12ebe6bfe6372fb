package plan

import (
	"strings"
	"testing"
)

// basePlan is the smallest valid plan; test cases edit it.
const basePlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata:
  name: demo
spec:
  version: v2
  traffic:
    proxy:
      stable: http://127.0.0.1:9001
      canary: http://127.0.0.1:9002
  steps:
    - weight: 10
      hold: 1m
    - weight: 100
  rules:
    - metric: errorRate
      above: 1%
      action: rollback-gradual
`

// edit is one replacement in a plan text.
type edit struct{ old, new string }

// with applies edits to basePlan; each old text must occur exactly once.
// An edit with an empty old appends new to the plan.
func with(t *testing.T, edits ...edit) string {
	t.Helper()
	s := basePlan
	for _, e := range edits {
		if e.old == "" {
			s += e.new
			continue
		}
		if n := strings.Count(s, e.old); n != 1 {
			t.Fatalf("edit %q: found %d times in the plan, want 1", e.old, n)
		}
		s = strings.Replace(s, e.old, e.new, 1)
	}
	return s
}

// errorLines parses data and returns its errors, one string each.
func errorLines(t *testing.T, data string) []string {
	t.Helper()
	_, err := Parse("plan.yaml", []byte(data))
	if err == nil {
		return nil
	}
	list, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("Parse returned %T (%v), want ErrorList", err, err)
	}
	lines := make([]string, len(list))
	for i, e := range list {
		lines[i] = e.Error()
	}
	return lines
}

// checkErrors compares got with want, line by line.
func checkErrors(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// checkPlan parses data and compares its errors with want; on a mismatch
// it shows where each error points in the source.
func checkPlan(t *testing.T, data string, want []string) {
	t.Helper()
	got := errorLines(t, data)
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	checkErrors(t, got, want)
	_, err := Parse("plan.yaml", []byte(data))
	if list, ok := err.(ErrorList); ok {
		src := strings.Split(data, "\n")
		for _, e := range list {
			if e.Line > 0 && e.Line <= len(src) {
				t.Logf("%d:%d %s\n%s\n%s^", e.Line, e.Col, e.Path, src[e.Line-1], strings.Repeat(" ", max(e.Col-1, 0)))
			}
		}
	}
}
