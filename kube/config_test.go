package kube_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/kube/kubetest"

	corev1 "k8s.io/api/core/v1"
)

func TestRESTConfigFromKubeconfig(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path, env string
	}{
		{"explicit path", path, ""},
		{"KUBECONFIG", "", path},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			cfg, err := kube.RESTConfig(tt.path, "")
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Timeout != kube.DefaultTimeout || cfg.QPS != kube.DefaultQPS {
				t.Errorf("timeout %s, qps %v: want the defaults", cfg.Timeout, cfg.QPS)
			}
			c, err := kube.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var nss corev1.NamespaceList
			if err := c.List(t.Context(), &nss); err != nil || len(nss.Items) == 0 {
				t.Fatalf("list namespaces through the loaded config: %d, %v", len(nss.Items), err)
			}
		})
	}
}

func TestRESTConfigMissingFile(t *testing.T) {
	_, err := kube.RESTConfig(filepath.Join(t.TempDir(), "nope"), "")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("RESTConfig of a missing file: %v, want an error naming it", err)
	}
}
