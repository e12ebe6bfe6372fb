package deploy_test

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/canary-dev/canary/kube/kubetest"

	authv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// helmRules are deploy/operator/rbac-helm.yaml's ClusterRole rules.
func helmRules(t *testing.T) any {
	t.Helper()
	return nested(find(t, readObjects(t, "operator/rbac-helm.yaml"), "ClusterRole", "canary-operator-helm"), "rules")
}

func has(objs []*unstructured.Unstructured, kind, name string) bool {
	return slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind && o.GetName() == name })
}

// TestChartHelmTraffic: traffic.helm's RBAC is opt-in. By default the
// chart renders none of it and no --helm-chart-dir; helmTraffic.enabled
// adds rbac-helm.yaml's rules, bound cluster-wide or, with namespaces,
// only there, plus extraRules, the flag and the charts' volume.
func TestChartHelmTraffic(t *testing.T) {
	objs := render(t, nil)
	if has(objs, "ClusterRole", "canary-operator-helm") || has(objs, "ClusterRoleBinding", "canary-operator-helm") {
		t.Error("the default chart grants Helm's RBAC")
	}
	if args := container(t, find(t, objs, "Deployment", ""))["args"].([]any); slices.ContainsFunc(args, func(a any) bool {
		return strings.HasPrefix(a.(string), "--helm-chart-dir")
	}) {
		t.Errorf("default args %v have --helm-chart-dir", args)
	}

	objs = render(t, map[string]any{"helmTraffic": map[string]any{"enabled": true}})
	if got, want := nested(find(t, objs, "ClusterRole", "canary-operator-helm"), "rules"), helmRules(t); !reflect.DeepEqual(got, want) {
		t.Errorf("helm ClusterRole rules:\ngot  %v\nwant %v (deploy/operator/rbac-helm.yaml)", got, want)
	}
	crb := find(t, objs, "ClusterRoleBinding", "canary-operator-helm")
	if subj := nested(crb, "subjects").([]any); subj[0].(map[string]any)["name"] != "canary-operator" || subj[0].(map[string]any)["namespace"] != "canary-system" {
		t.Errorf("helm ClusterRoleBinding subjects = %v", subj)
	}
	d := find(t, objs, "Deployment", "canary-operator")
	if args := container(t, d)["args"].([]any); !slices.Contains(args, any("--helm-chart-dir=/charts")) {
		t.Errorf("args %v lack --helm-chart-dir=/charts", args)
	}
	if v := nested(d, "spec", "template", "spec", "volumes"); v != nil {
		t.Errorf("volumes %v without helmTraffic.volume", v)
	}

	extra := map[string]any{"apiGroups": []any{"gateway.networking.k8s.io"}, "resources": []any{"httproutes"}, "verbs": []any{"get", "create", "patch", "delete"}}
	objs = render(t, map[string]any{"helmTraffic": map[string]any{"enabled": true, "namespaces": []any{"apps", "web"},
		"extraRules": []any{extra}, "chartDir": "/srv/charts", "volume": map[string]any{"configMap": map[string]any{"name": "charts"}}}})
	if has(objs, "ClusterRoleBinding", "canary-operator-helm") {
		t.Error("a ClusterRoleBinding for Helm with helmTraffic.namespaces")
	}
	var nss []string
	for _, o := range objs {
		if o.GetKind() == "RoleBinding" && o.GetName() == "canary-operator-helm" {
			nss = append(nss, o.GetNamespace())
		}
	}
	if !slices.Equal(nss, []string{"apps", "web"}) {
		t.Errorf("helm RoleBindings in %v, want [apps web]", nss)
	}
	rules := nested(find(t, objs, "ClusterRole", "canary-operator-helm"), "rules").([]any)
	if want := append(slices.Clone(helmRules(t).([]any)), any(extra)); !reflect.DeepEqual(rules, want) {
		t.Errorf("rules with extraRules:\ngot  %v\nwant %v", rules, want)
	}
	d = find(t, objs, "Deployment", "canary-operator")
	c := container(t, d)
	if !slices.Contains(c["args"].([]any), any("--helm-chart-dir=/srv/charts")) {
		t.Errorf("args %v lack --helm-chart-dir=/srv/charts", c["args"])
	}
	if m := c["volumeMounts"]; !reflect.DeepEqual(m, []any{map[string]any{"name": "charts", "mountPath": "/srv/charts", "readOnly": true}}) {
		t.Errorf("volumeMounts = %v", m)
	}
	if v := nested(d, "spec", "template", "spec", "volumes"); !reflect.DeepEqual(v, []any{map[string]any{"name": "charts", "configMap": map[string]any{"name": "charts"}}}) {
		t.Errorf("volumes = %v", v)
	}
}

// TestRBACHelmOptIn: rbac-helm.yaml is not part of `kubectl apply -k
// deploy/operator` and applies cleanly on its own.
func TestRBACHelmOptIn(t *testing.T) {
	assertOptIn(t, "rbac-helm.yaml", "Helm's RBAC")
}

// assertOptIn checks that deploy/operator/file is not part of `kubectl
// apply -k deploy/operator` (what must stay opt-in) and that it applies
// cleanly on its own.
func assertOptIn(t *testing.T, file, what string) {
	t.Helper()
	data, err := os.ReadFile("operator/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), file) {
		t.Errorf("kustomization.yaml applies %s: %s must stay opt-in", file, what)
	}
	env := kubetest.Shared(t, kubetest.Options{})
	for _, o := range readObjects(t, "operator/"+file) {
		if err := env.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestChartInstallHelmTraffic installs the chart with Helm traffic in one
// namespace and asks the API server's authorizer what the operator's
// service account may do: Helm's release Secrets and the chart's objects
// there, nothing more elsewhere.
func TestChartInstallHelmTraffic(t *testing.T) {
	env := kubetest.Shared(t, kubetest.Options{})
	ns, apps := env.Namespace(t), env.Namespace(t)
	installChart(t, env, "helmed", ns, true, map[string]any{"helmTraffic": map[string]any{"enabled": true, "namespaces": []any{apps}}})
	assertAccess(t, env, "system:serviceaccount:"+ns+":helmed-operator", []access{
		{authv1.ResourceAttributes{Namespace: apps, Verb: "list", Resource: "secrets"}, true},
		{authv1.ResourceAttributes{Namespace: apps, Verb: "delete", Resource: "secrets"}, true},
		{authv1.ResourceAttributes{Namespace: apps, Verb: "patch", Group: "apps", Resource: "deployments"}, true},
		{authv1.ResourceAttributes{Namespace: "elsewhere", Verb: "list", Resource: "secrets"}, false},
		{authv1.ResourceAttributes{Namespace: "elsewhere", Verb: "get", Resource: "secrets"}, true}, // secret:NAME/KEY
		{authv1.ResourceAttributes{Namespace: "elsewhere", Verb: "patch", Group: "apps", Resource: "deployments"}, false},
		{authv1.ResourceAttributes{Namespace: apps, Verb: "watch", Resource: "secrets"}, false},
	})
}
