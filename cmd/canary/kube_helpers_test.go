package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/canary-dev/canary/kube/kubetest"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// kubeEnv starts a test API server for t, with the Rollout CRD
// (deploy/operator/crd.yaml) installed when crd is set, and returns it
// with a kubeconfig file for it.
func kubeEnv(t *testing.T, crd bool) (*kubetest.Env, string) {
	t.Helper()
	env := kubetest.Start(t, kubetest.Options{})
	if crd {
		if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{
			Paths: []string{filepath.Join("..", "..", "deploy", "operator", "crd.yaml")}, ErrorIfPathMissing: true}); err != nil {
			t.Fatal(err)
		}
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return env, kc
}
