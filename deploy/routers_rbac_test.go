package deploy_test

import (
	"reflect"
	"testing"
)

// routerRBAC are the opt-in RBAC files of traffic.istio and
// traffic.nginxIngress, and the chart values that enable them.
var routerRBAC = []struct {
	file, value, name string
}{
	{"rbac-istio.yaml", "istioTraffic", "canary-operator-istio"},
	{"rbac-nginx-ingress.yaml", "nginxIngressTraffic", "canary-operator-nginx-ingress"},
}

// TestChartRouterTraffic: the Istio and NGINX Ingress routers' RBAC is
// opt-in: the default chart renders none of it; enabling it renders the
// rules of deploy/operator's file, bound cluster-wide, in the listed
// namespaces only, or (watchNamespace) in that namespace only; the files
// are not part of `kubectl apply -k deploy/operator` and apply cleanly on
// their own.
func TestChartRouterTraffic(t *testing.T) {
	def := render(t, nil)
	for _, rr := range routerRBAC {
		t.Run(rr.value, func(t *testing.T) {
			if has(def, "ClusterRole", rr.name) || has(def, "ClusterRoleBinding", rr.name) || has(def, "Role", rr.name) {
				t.Errorf("the default chart grants %s", rr.file)
			}
			want := nested(find(t, readObjects(t, "operator/"+rr.file), "ClusterRole", rr.name), "rules")
			objs := render(t, map[string]any{rr.value: map[string]any{"enabled": true}})
			if got := nested(find(t, objs, "ClusterRole", rr.name), "rules"); !reflect.DeepEqual(got, want) {
				t.Errorf("ClusterRole %s rules:\ngot  %v\nwant %v (deploy/operator/%s)", rr.name, got, want, rr.file)
			}
			find(t, objs, "ClusterRoleBinding", rr.name)

			objs = render(t, map[string]any{rr.value: map[string]any{"enabled": true, "namespaces": []any{"apps", "web"}}})
			if has(objs, "ClusterRoleBinding", rr.name) {
				t.Errorf("a ClusterRoleBinding for %s with namespaces", rr.value)
			}
			var nss []string
			for _, o := range objs {
				if o.GetKind() == "RoleBinding" && o.GetName() == rr.name {
					nss = append(nss, o.GetNamespace())
				}
			}
			if !reflect.DeepEqual(nss, []string{"apps", "web"}) {
				t.Errorf("%s RoleBindings in %v, want [apps web]", rr.value, nss)
			}

			objs = render(t, map[string]any{"watchNamespace": "apps", rr.value: map[string]any{"enabled": true}})
			role := find(t, objs, "Role", rr.name)
			if got := nested(role, "rules"); role.GetNamespace() != "apps" || !reflect.DeepEqual(got, want) {
				t.Errorf("with watchNamespace: Role %s in %q with rules %v, want apps and %v", rr.name, role.GetNamespace(), got, want)
			}
			if has(objs, "ClusterRole", rr.name) || has(objs, "ClusterRoleBinding", rr.name) {
				t.Errorf("with watchNamespace, %s is cluster-wide", rr.value)
			}
			assertOptIn(t, rr.file, rr.value+"'s RBAC")
		})
	}
}
