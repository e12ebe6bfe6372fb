package kube_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/kube/kubetest"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		total          int32
		weight         int
		canary, stable int32
	}{
		{4, 0, 0, 4},
		{4, 5, 1, 3}, // nearest is 0 pods, but a canary at 5% must run
		{4, 10, 1, 3},
		{4, 25, 1, 3},
		{4, 50, 2, 2},
		{4, 90, 3, 1}, // nearest is 4, but the stable keeps a pod below 100%
		{4, 100, 4, 0},
		{10, 5, 1, 9},
		{10, 25, 3, 7}, // 2.5 rounds up
		{10, 50, 5, 5},
		{1, 5, 1, 1}, // one pod cannot be shared: both run one
		{1, 100, 1, 0},
	}
	for _, tt := range tests {
		c, s := kube.Split(tt.total, tt.weight)
		if c != tt.canary || s != tt.stable {
			t.Errorf("Split(%d, %d%%) = %d canary, %d stable; want %d, %d", tt.total, tt.weight, c, s, tt.canary, tt.stable)
		}
	}
}

// deployment creates a Deployment of n pods running image.
func deployment(t *testing.T, env *kubetest.Env, ns, name, image string, n int32) {
	t.Helper()
	kubetest.CreateDeployment(t, env.Client, ns, "recoveryos", name, image, n)
}

func pods(t *testing.T, env *kubetest.Env, ns string) string {
	t.Helper()
	get := func(name string) *appsv1.Deployment {
		var d appsv1.Deployment
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	s, c := get("stable"), get("canary")
	return fmt.Sprintf("stable %d×%s canary %d×%s", *s.Spec.Replicas, s.Spec.Template.Spec.Containers[0].Image,
		*c.Spec.Replicas, c.Spec.Template.Spec.Containers[0].Image)
}

func newReplicaRouter(t *testing.T, env *kubetest.Env, ns string) *kube.ReplicaRouter {
	t.Helper()
	r, err := kube.NewReplicaRouter(kube.ReplicaConfig{Client: env.Client, Namespace: ns, Stable: "stable", Canary: "canary",
		ReadyTimeout: 5 * time.Second, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReplicasFollowWeights(t *testing.T) {
	t.Parallel()
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	deployment(t, env, ns, "stable", "recoveryos:v0.9.0", 4)
	deployment(t, env, ns, "canary", "recoveryos:v1.0.0-elite", 0)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kubetest.PlayDeploymentController(ctx, env.Client, ns, 20*time.Millisecond, nil)
	r := newReplicaRouter(t, env, ns)

	steps := []struct {
		call func(context.Context) error
		name string
		want string
	}{
		{func(c context.Context) error { return r.SetWeight(c, 5) }, "w5", "stable 3×recoveryos:v0.9.0 canary 1×recoveryos:v1.0.0-elite"},
		{func(c context.Context) error { return r.SetWeight(c, 10) }, "w10", "stable 3×recoveryos:v0.9.0 canary 1×recoveryos:v1.0.0-elite"},
		{func(c context.Context) error { return r.SetWeight(c, 25) }, "w25", "stable 3×recoveryos:v0.9.0 canary 1×recoveryos:v1.0.0-elite"},
		{func(c context.Context) error { return r.SetWeight(c, 50) }, "w50", "stable 2×recoveryos:v0.9.0 canary 2×recoveryos:v1.0.0-elite"},
		{func(c context.Context) error { return r.SetWeight(c, 100) }, "w100", "stable 0×recoveryos:v0.9.0 canary 4×recoveryos:v1.0.0-elite"},
		{r.Promote, "promote", "stable 4×recoveryos:v1.0.0-elite canary 4×recoveryos:v1.0.0-elite"},
		{r.Promote, "promote again", "stable 4×recoveryos:v1.0.0-elite canary 4×recoveryos:v1.0.0-elite"},
		{r.RemoveCanary, "removeCanary", "stable 4×recoveryos:v1.0.0-elite canary 0×recoveryos:v1.0.0-elite"},
	}
	for _, s := range steps {
		if err := s.call(t.Context()); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := pods(t, env, ns); got != s.want {
			t.Errorf("after %s: %s, want %s", s.name, got, s.want)
		}
	}
}

func TestReplicaRollback(t *testing.T) {
	t.Parallel()
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	deployment(t, env, ns, "stable", "recoveryos:v0.9.0", 10)
	deployment(t, env, ns, "canary", "recoveryos:v1.0.0-elite", 0)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kubetest.PlayDeploymentController(ctx, env.Client, ns, 20*time.Millisecond, nil)
	r := newReplicaRouter(t, env, ns)
	for _, w := range []int{5, 25, 0} {
		if err := r.SetWeight(t.Context(), w); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RemoveCanary(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := pods(t, env, ns), "stable 10×recoveryos:v0.9.0 canary 0×recoveryos:v1.0.0-elite"; got != want {
		t.Errorf("after the rollback: %s, want %s", got, want)
	}
}

// TestStableWaitsForCanaryPods: without ready canary pods (no kubelet runs
// them here), the stable is not scaled down and the call fails with
// ErrNotReady, so the engine retries it.
func TestStableWaitsForCanaryPods(t *testing.T) {
	t.Parallel()
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	deployment(t, env, ns, "stable", "recoveryos:v0.9.0", 4)
	deployment(t, env, ns, "canary", "recoveryos:v1.0.0-elite", 0)
	r, err := kube.NewReplicaRouter(kube.ReplicaConfig{Client: env.Client, Namespace: ns, Stable: "stable", Canary: "canary",
		ReadyTimeout: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(t.Context(), 50); !errors.Is(err, kube.ErrNotReady) {
		t.Fatalf("SetWeight(50) with no ready canary pods: %v, want ErrNotReady", err)
	}
	if got, want := pods(t, env, ns), "stable 4×recoveryos:v0.9.0 canary 2×recoveryos:v1.0.0-elite"; got != want {
		t.Errorf("%s, want %s (the stable keeps its pods)", got, want)
	}
	// Once the pods are ready, the retried call completes.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kubetest.PlayDeploymentController(ctx, env.Client, ns, 20*time.Millisecond, nil)
	if err := r.SetWeight(t.Context(), 50); err != nil {
		t.Fatal(err)
	}
	if got, want := pods(t, env, ns), "stable 2×recoveryos:v0.9.0 canary 2×recoveryos:v1.0.0-elite"; got != want {
		t.Errorf("after the retry: %s, want %s", got, want)
	}
}
