package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
)

// replicasPlan shares 10 pods between two Deployments along the runbook's
// steps.
const replicasPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web, namespace: %s}
spec:
  version: v2
  traffic:
    replicas: {stableDeployment: web, canaryDeployment: web-canary, readyTimeout: 5s}
  steps:
    - {weight: 5, hold: 30m}
    - {weight: 10, hold: 30m}
    - {weight: 25, hold: 30m}
    - {weight: 50, hold: 30m}
    - {weight: 100}
  analysis:
    interval: 1m
    minRequests: 10
    metrics: {prometheus: {address: "http://127.0.0.1:9"}}
  rules:
    - {metric: errorRate, above: 5%%, for: 2m, action: rollback-immediate, urgency: critical}
`

// TestReplicasTraffic wires a plan with traffic.replicas as canary run
// does (plan file → wire → the replica router) and drives it through the
// runbook's steps on a real API server, on a stepped clock, with metrics
// that see the canary's share of ready pods: the Deployments' replicas
// follow each step (10 pods: 1 canary pod at 5% and 10%, 3, 5, 10, then
// the stable runs the canary's template on all 10 and the canary goes to
// 0), and a faulty canary is scaled to 0 with the stable back at 10.
func TestReplicasTraffic(t *testing.T) {
	env, kc := kubeEnv(t, false)
	for _, tc := range []struct {
		name      string
		errors    float64
		phase     canary.Phase
		wantPods  []string
		wantImage string
	}{
		{"healthy", 0.001, canary.PhaseSucceeded,
			[]string{"9/1", "7/3", "5/5", "0/10", "10/10", "10/0"}, "app:v2"},
		{"faulty", 0.2, canary.PhaseRolledBack,
			[]string{"9/1", "10/0"}, "app:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			kubetest.CreateDeployment(t, env.Client, ns, "web", "web", "app:v1", 10)
			kubetest.CreateDeployment(t, env.Client, ns, "web", "web-canary", "app:v2", 0)
			kubetest.PlayDeploymentController(ctx, env.Client, ns, 20*time.Millisecond, nil)

			file := filepath.Join(t.TempDir(), "plan.yaml")
			if err := os.WriteFile(file, fmt.Appendf(nil, replicasPlan, ns), 0o600); err != nil {
				t.Fatal(err)
			}
			p, err := plan.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			pv, err := wire(ctx, p, wireOptions{kubeconfig: kc})
			if err != nil {
				t.Fatal(err)
			}
			defer pv.Close()

			var pods []string
			record := func() {
				s, c := replicasOf(t, env, ns, "web"), replicasOf(t, env, ns, "web-canary")
				pods = append(pods, fmt.Sprintf("%d/%d", s, c))
			}
			canaryShare := func(context.Context) (int, error) {
				s, c := replicasOf(t, env, ns, "web"), replicasOf(t, env, ns, "web-canary")
				if s+c == 0 {
					return 0, nil
				}
				return int(100 * c / (s + c)), nil
			}
			clock := canarytest.NewClock(time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC))
			rt := &kubetest.Router{Inner: pv.Router, After: func(action string, err error) {
				if err == nil {
					record()
				}
			}}
			r, err := runner.New(runner.Config{Plan: p, Router: rt,
				Metrics: kubetest.Metrics(kubetest.Service{RPS: 400, CanaryErrors: tc.errors, CanaryLatency: 0.2}, canaryShare),
				Checks:  &canarytest.Checker{}, Store: &canarytest.Store{}, Clock: clock, StopWhenPaused: true, CallTimeout: 10 * time.Second},
				engine.New(p, clock.Now()))
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Phase != tc.phase {
				t.Fatalf("phase %s (%s), want %s", st.Phase, st.PauseReason, tc.phase)
			}
			pods = slices.Compact(pods)
			if !slices.Equal(pods, tc.wantPods) {
				t.Errorf("stable/canary replicas after each action %v, want %v", pods, tc.wantPods)
			}
			var d appsv1.Deployment
			if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &d); err != nil {
				t.Fatal(err)
			}
			if img := d.Spec.Template.Spec.Containers[0].Image; img != tc.wantImage {
				t.Errorf("stable runs %s, want %s", img, tc.wantImage)
			}
		})
	}
}

func replicasOf(t *testing.T, env *kubetest.Env, ns, name string) int32 {
	t.Helper()
	var d appsv1.Deployment
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}
