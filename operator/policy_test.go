package operator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestOperatorRefusesCommandsAndPodSecrets: an operator started without
// --allow-commands makes a Rollout with cleanup commands and env:
// secrets (the runbook example, as kubectl would apply it) Invalid, each
// field named with what to do, and moves no traffic: a Rollout can
// neither run a process in the operator's pod nor read its environment.
func TestOperatorRefusesCommandsAndPodSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, kubetest.Service{RPS: 400})
	u := examplePlan(t, "recoveryos.yaml", f.ns, func(spec map[string]any) {
		spec["hooks"] = []any{map[string]any{"name": "who", "at": "beforeRollout", "command": []any{"id"}}}
	})
	f.create(t, u)
	s := f.waitFor(t, u.GetName(), 30*time.Second, "Invalid", func(_ *unstructured.Unstructured, s operator.Status) bool {
		return s.Phase == operator.PhaseInvalid
	})
	var msg string
	for _, c := range s.Conditions {
		if c.Type == operator.ConditionValid && c.Status == metav1.ConditionFalse {
			msg = c.Message
		}
	}
	for _, want := range []string{
		"spec.hooks[0].command", "spec.cleanup[0].command", "spec.cleanup[1].command", "--allow-commands",
		"spec.notify[0].slack.webhookURL", "spec.notify[3].pagerduty.routingKey", "only Kubernetes Secrets in the rollout's own namespace",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Valid condition lacks %q:\n%s", want, msg)
		}
	}
	if len(f.log()) != 0 {
		t.Errorf("a refused rollout moved traffic: %v", f.log())
	}
}
