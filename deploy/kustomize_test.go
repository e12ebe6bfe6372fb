package deploy_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/canary-dev/canary/kube/kubetest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestKustomizationApplies applies deploy/operator as `kubectl apply -k`
// does (its kustomization only lists resources, checked here, so that is
// the files in order) with server-side apply, twice
// (apply is idempotent), and checks every object is in the API server.
func TestKustomizationApplies(t *testing.T) {
	data, err := os.ReadFile("operator/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(func(yield func(string) bool) {
		for key := range k {
			if !yield(key) {
				return
			}
		}
	}); !reflect.DeepEqual(keys, []string{"resources"}) {
		t.Fatalf("kustomization.yaml has %v; this test applies only its resources: extend it", keys)
	}
	var objs []*unstructured.Unstructured
	for _, r := range k["resources"].([]any) {
		objs = append(objs, readObjects(t, filepath.Join("operator", r.(string)))...)
	}
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
