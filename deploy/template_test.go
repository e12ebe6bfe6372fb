package deploy_test

import (
	"slices"
	"testing"

	"github.com/canary-dev/canary/kube/kubetest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestChartTemplateApplies applies `helm template --include-crds` output
// (default values, the release "tmpl" in a namespace of its own) to the
// API server with server-side apply, as `helm template | kubectl apply -f -`
// would: every object applies, the CRD is established, and the Deployment
// the API server stored runs non-root with a read-only root filesystem, no
// privilege escalation and no capabilities, with resources and both probes
// set.
func TestChartTemplateApplies(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ns := env.Namespace(t)
	objs := renderAs(t, "tmpl", ns, nil)
	for _, o := range objs {
		err := env.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
			client.FieldOwner("kubectl"), client.ForceOwnership)
		if err != nil {
			t.Errorf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	get := func(o *unstructured.Unstructured) *unstructured.Unstructured {
		t.Helper()
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := env.Client.Get(t.Context(), types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}, got); err != nil {
			t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
		return got
	}
	for _, o := range objs {
		get(o)
	}
	crd := get(find(t, objs, "CustomResourceDefinition", "rollouts.canary.dev"))
	conds, _ := nested(crd, "status", "conditions").([]any)
	if !slices.ContainsFunc(conds, func(c any) bool {
		m := c.(map[string]any)
		return m["type"] == "Established" && m["status"] == "True"
	}) {
		t.Errorf("CRD not established: %v", conds)
	}
	// One version, served and stored (README.md "Upgrade": the conversion
	// policy); storedVersions is what the API server has written objects as.
	versions, _ := nested(crd, "spec", "versions").([]any)
	if len(versions) != 1 || versions[0].(map[string]any)["name"] != "v1alpha1" ||
		versions[0].(map[string]any)["served"] != true || versions[0].(map[string]any)["storage"] != true {
		t.Errorf("CRD versions %v, want v1alpha1 alone, served and stored", versions)
	}
	if sv := nested(crd, "status", "storedVersions"); !slices.Equal(sv.([]any), []any{"v1alpha1"}) {
		t.Errorf("storedVersions %v, want [v1alpha1]", sv)
	}

	d := get(find(t, objs, "Deployment", "tmpl-operator"))
	if nested(d, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Errorf("pod securityContext %v: want runAsNonRoot", nested(d, "spec", "template", "spec", "securityContext"))
	}
	c := container(t, d)
	sc, _ := c["securityContext"].(map[string]any)
	caps, _ := sc["capabilities"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || !slices.Equal(caps["drop"].([]any), []any{"ALL"}) {
		t.Errorf("container securityContext %v: want a read-only root filesystem, no privilege escalation, all capabilities dropped", sc)
	}
	res, _ := c["resources"].(map[string]any)
	if res["requests"] == nil || res["limits"] == nil {
		t.Errorf("resources %v: want requests and limits", res)
	}
	for _, p := range []string{"livenessProbe", "readinessProbe"} {
		if _, ok := c[p].(map[string]any)["httpGet"]; !ok {
			t.Errorf("%s = %v: want an HTTP probe", p, c[p])
		}
	}
	if c["image"] != "ghcr.io/canary-dev/canary:"+chartAppVersion(t) {
		t.Errorf("image %v, want the published image at the chart's appVersion", c["image"])
	}
}
