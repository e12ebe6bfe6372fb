package deploy_test

import (
	"testing"

	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/release"

	"helm.sh/helm/v3/pkg/chart/loader"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kustomize is `kubectl kustomize deploy/operator` (kustomize as a
// library, as kubectl runs it).
func kustomize(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	out, err := release.InstallManifest("operator", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, "kustomize deploy/operator", out)
}

// TestKustomizationApplies applies deploy/operator as `kubectl apply -k`
// does (kustomize, then server-side apply of every object), twice (apply is
// idempotent), and checks every object is in the API server.
func TestKustomizationApplies(t *testing.T) {
	objs := kustomize(t)
	if len(objs) < 9 {
		t.Fatalf("got %d objects, want the namespace, CRD, RBAC, Deployment and Service", len(objs))
	}
	env := kubetest.Shared(t, kubetest.Options{})
	for range 2 {
		for _, o := range objs {
			err := env.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
				client.FieldOwner("kubectl"), client.ForceOwnership)
			if err != nil {
				t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
	}
	for _, o := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}, got); err != nil {
			t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestKustomizationImage: kustomize sets the published image at the
// chart's appVersion, so `kubectl apply -k deploy/operator` and
// `helm install` of the same commit run the same release (hack/release.sh
// sets both to the release it builds).
func TestKustomizationImage(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	want := ch.Values["image"].(map[string]any)["repository"].(string) + ":" + ch.Metadata.AppVersion
	if got := container(t, find(t, kustomize(t), "Deployment", "canary-operator"))["image"]; got != want {
		t.Errorf("kustomize image %v, want %s (the chart's repository and appVersion)", got, want)
	}
	out, err := release.InstallManifest("operator", "registry.example/canary", "v2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	d := find(t, decodeObjects(t, "install manifest", out), "Deployment", "canary-operator")
	if got := container(t, d)["image"]; got != "registry.example/canary:v2.0.0" {
		t.Errorf("install manifest image %v, want registry.example/canary:v2.0.0", got)
	}
}

// chartAppVersion is Chart.yaml's appVersion.
func chartAppVersion(t *testing.T) string {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch.Metadata.AppVersion
}
