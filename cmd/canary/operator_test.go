package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestOperatorCmd runs `canary operator` against a test API server with
// the CRD installed: it serves its probes and reconciles a Rollout (here
// an invalid one, which needs no traffic provider) until stopped.
func TestOperatorCmd(t *testing.T) {
	env := kubetest.Start(t, kubetest.Options{})
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join("..", "..", "deploy", "operator", "crd.yaml")}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probes := ln.Addr().String()
	_ = ln.Close()

	ctx, cancel := context.WithCancel(t.Context())
	cmd := newOperatorCmd()
	cmd.SetArgs([]string{"--kubeconfig", kc, "--metrics-bind-address", "0", "--health-probe-bind-address", probes})
	cmd.SetOut(t.Output())
	cmd.SetErr(t.Output())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("canary operator: %v", err)
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + probes + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz on %s: %v", probes, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "canary.dev/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": "broken", "namespace": "default"},
		"spec":     map[string]any{"version": "v2"},
	}}
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	for {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(operator.GVK)
		if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: "default", Name: "broken"}, got); err != nil {
			t.Fatal(err)
		}
		if phase, _, _ := unstructured.NestedString(got.Object, "status", "phase"); phase == operator.PhaseInvalid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout's status is %v, want phase Invalid", got.Object["status"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
