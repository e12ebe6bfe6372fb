package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// kubeCtlPlan is a Rollout whose first step holds for an hour, so it
// stays Progressing while the commands act on it.
const kubeCtlPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: %s}
spec:
  version: v2
  traffic:
    gatewayAPI: {httpRoute: web, stableService: web, canaryService: web-canary}
  steps:
    - {weight: 5, hold: 1h}
    - {weight: 100}
  analysis:
    interval: 1s
    minRequests: 10
    metrics: {prometheus: {address: "http://127.0.0.1:9"}}
  rules:
    - {metric: errorRate, above: 5%%, for: 1s, action: rollback-immediate, urgency: critical}
`

// TestCtlKube drives Rollout resources with the client commands' --kube
// mode against a real API server and a real operator (with an in-memory
// router and healthy metrics): get and describe read the status; pause,
// resume and abort go through the command annotation and report what the
// operator did; a refused command exits 2 with the operator's reason; a
// command nobody takes times out with exit 5 and stays queued.
func TestCtlKube(t *testing.T) {
	env, kc := kubeEnv(t, true)
	const ns, unwatched = "ctl", "nobody"
	router := &canarytest.Router{}
	mgr, err := operator.NewManager(env.Config, operator.ManagerOptions{MetricsAddr: "0", Namespace: ns,
		Configure: func(cfg *operator.Config) {
			cfg.Router = func(context.Context, *canary.Plan) (canary.TrafficRouter, error) { return router, nil }
			cfg.Metrics = func(context.Context, *canary.Plan) (canary.MetricSource, error) {
				return canarytest.Metrics(func(q canary.Query) (canary.Measurement, error) {
					return canary.Measurement{Value: 0.001, Samples: 1000}, nil
				}), nil
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("operator manager: %v", err)
		}
	})
	for _, n := range []string{ns, unwatched} {
		if err := env.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(fmt.Appendf(nil, kubeCtlPlan, n), &obj); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(t.Context(), &unstructured.Unstructured{Object: obj}); err != nil {
			t.Fatal(err)
		}
	}

	e := &ctlEnv{t: t, dir: t.TempDir(), env: map[string]string{}}
	kube := []string{"--kubeconfig", kc, "-n", ns}
	kubeWait(t, "the rollout at 5%", func() bool {
		return strings.Contains(e.ok(append([]string{"get", "web"}, kube...)...), "Progressing")
	})
	has(t, e.ok(append([]string{"get"}, kube...)...), "ctl/web", "v2", "Progressing", "1/2", "5%")
	has(t, e.ok(append([]string{"describe", "web"}, kube...)...), "web", "5%", "Notifications:  unavailable")

	out := e.ok(append([]string{"pause", "web", "--reason", "checking the dashboards"}, kube...)...)
	has(t, out, "ctl/web: pause done; now Paused")
	if st := kubeStatus(t, env, ns); st.State == nil || st.State.Phase != canary.PhasePaused || st.State.PauseReason == "" {
		t.Fatalf("status after pause: %+v", st.State)
	}
	has(t, e.fails(2, append([]string{"pause", "web"}, kube...)...), "pause")
	has(t, e.ok(append([]string{"resume", "web"}, kube...)...), "resume done; now Progressing at step 1 (5%)")
	has(t, e.fails(2, append([]string{"resume", "web"}, kube...)...), "resume")

	// Nobody reconciles the other namespace: the command waits, times out
	// and stays in the annotation for the operator to apply later.
	errs := e.fails(5, "pause", "web", "--kubeconfig", kc, "-n", unwatched, "--wait", "1s")
	has(t, errs, "has not taken the command", `"pause"`)
	has(t, e.fails(2, "pause", "web", "--kubeconfig", kc, "-n", unwatched), "still waiting")
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(operator.GVK)
	if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: unwatched, Name: "web"}, obj); err != nil {
		t.Fatal(err)
	}
	if got := obj.GetAnnotations()[operator.AnnotationCommand]; got != "pause" {
		t.Errorf("queued command annotation = %q, want pause", got)
	}

	has(t, e.ok(append([]string{"abort", "web", "--immediate", "--reason", "bad"}, kube...)...), "abort --immediate done")
	kubeWait(t, "the rollback", func() bool {
		st := kubeStatus(t, env, ns)
		return st.State != nil && st.State.Phase == canary.PhaseRolledBack
	})
	if router.Weight() != 0 {
		t.Errorf("canary weight after the rollback = %d, want 0 (router log %v)", router.Weight(), router.Log())
	}
	has(t, e.ok(append([]string{"get", "--phase", "RolledBack"}, kube...)...), "ctl/web", "RolledBack")
	has(t, e.fails(2, append([]string{"get", "missing"}, kube...)...), "not found")
}

func kubeStatus(t *testing.T, env *kubetest.Env, ns string) operator.Status {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(operator.GVK)
	if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "web"}, obj); err != nil {
		t.Fatal(err)
	}
	return statusOf(obj)
}

func kubeWait(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 60s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
