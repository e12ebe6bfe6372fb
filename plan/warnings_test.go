package plan

import (
	"reflect"
	"testing"
)

func TestWarningsBareYAML11Keys(t *testing.T) {
	data := []byte(`apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  notify:
    - audience: eng
      on: [rollbackStarted]
      slack: {webhookURL: "env:SLACK"}
    - audience: ops
      "on": [promoted]
    - audience: sre
      'On': [promoted]
      labels: {yes: "1", "no": "2"}
  steps: [{weight: 100}]
`)
	got := Warnings("plan.yaml", data)
	want := []string{
		`plan.yaml:7:7: key on: kubectl reads a bare on as a boolean (YAML 1.1), so this plan would not apply as a Rollout (write "on":)`,
		`plan.yaml:13:16: key yes: kubectl reads a bare yes as a boolean (YAML 1.1), so this plan would not apply as a Rollout (write "yes":)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings =\n%q\nwant\n%q", got, want)
	}
	if w := Warnings("bad.yaml", []byte("a: [")); w != nil {
		t.Errorf("a file that does not parse: %q, want none", w)
	}
}
