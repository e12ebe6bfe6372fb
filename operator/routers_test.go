package operator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	networking "istio.io/api/networking/v1alpha3"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRouterTrafficRBAC: traffic.istio and traffic.nginxIngress through
// the operator's DefaultRouter. As deploy/operator's service account with
// rbac.yaml only, building the router fails naming the missing verbs and
// the opt-in file to apply; bound (in the rollout's namespace) to the
// ClusterRole the opt-in file ships, the router runs a step with a match
// (and a mirror, for Istio), a whole rollback cycle (5%, 0%, remove) and a
// promotion on the real objects, so the shipped verbs are enough.
func TestRouterTrafficRBAC(t *testing.T) {
	t.Parallel()
	env := operatorEnv(t)
	applyManifests(t, env)
	istioCRDs(t, env)
	tests := []struct {
		name, file, missing string
		traffic             canary.Traffic
		create              func(t *testing.T, ns string)
		route               canary.Route // a step's match (and mirror), through the executor's ApplyRoute
	}{
		{"istio", "rbac-istio.yaml", "may not get, update virtualservices.networking.istio.io",
			canary.Traffic{Istio: &canary.IstioTraffic{VirtualService: "web",
				Stable: canary.IstioDestination{Host: "web"}, Canary: canary.IstioDestination{Host: "web-canary"}}},
			func(t *testing.T, ns string) {
				vs := &istionetworking.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
				vs.Spec.Http = []*networking.HTTPRoute{{Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "web"}}}}}
				if err := env.Client.Create(t.Context(), vs); err != nil {
					t.Fatal(err)
				}
			},
			canary.Route{Weight: 5, Matches: []canary.Match{{Header: &canary.HeaderMatch{Name: "X-Beta", Exact: "1"}}}, MirrorPercent: 10}},
		{"nginxIngress", "rbac-nginx-ingress.yaml", "may not get, create, update, delete ingresses.networking.k8s.io",
			canary.Traffic{NGINXIngress: &canary.NGINXIngressTraffic{Ingress: "web", StableService: "web", CanaryService: "web-canary"}},
			func(t *testing.T, ns string) {
				in := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
					Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
				if err := env.Client.Create(t.Context(), in); err != nil {
					t.Fatal(err)
				}
			},
			canary.Route{Weight: 5, Matches: []canary.Match{{Cookie: &canary.CookieMatch{Name: "beta", Value: "always"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := env.Namespace(t)
			tt.create(t, ns)
			p := &canary.Plan{Metadata: canary.Metadata{Name: "web", Namespace: ns}, Spec: canary.Spec{Traffic: tt.traffic}}

			_, c := impersonate(t, env, operatorUser)
			_, err := operator.DefaultRouter(t.Context(), c, p)
			if err == nil || !strings.Contains(err.Error(), tt.missing+" in namespace "+ns) || !strings.Contains(err.Error(), tt.file) {
				t.Fatalf("DefaultRouter with rbac.yaml only: %v, want it to say %q and name %s", err, tt.missing, tt.file)
			}

			user := "system:serviceaccount:canary-system:canary-operator-with-" + strings.ToLower(tt.name)
			bindShipped(t, env, ns, user, tt.file)
			_, c = impersonate(t, env, user)
			r, err := operator.DefaultRouter(t.Context(), c, p)
			if err != nil {
				t.Fatalf("DefaultRouter with %s bound: %v", tt.file, err)
			}
			ctx := t.Context()
			for _, call := range []func(context.Context) error{
				func(c context.Context) error { return canary.ApplyRoute(c, r, tt.route) },
				func(c context.Context) error { return r.SetWeight(c, 5) },
				func(c context.Context) error { return r.SetWeight(c, 0) },
				r.RemoveCanary,
				func(c context.Context) error { return r.SetWeight(c, 100) },
				r.Promote, r.RemoveCanary,
			} {
				if err := call(ctx); err != nil {
					t.Fatalf("with %s bound: %v", tt.file, err)
				}
			}
		})
	}
}

// bindShipped creates the ClusterRole of deploy/operator/file and binds
// it, with rbac.yaml's ClusterRole, to user in ns.
func bindShipped(t *testing.T, env *kubetest.Env, ns, user, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "operator", file))
	if err != nil {
		t.Fatal(err)
	}
	role := ""
	for _, o := range decodeYAML(t, data) {
		if o.GetKind() == "ClusterRole" {
			if err := env.Client.Create(context.Background(), o); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			role = o.GetName()
		}
	}
	if role == "" {
		t.Fatalf("%s has no ClusterRole", file)
	}
	sa := strings.Split(user, ":")
	subj := []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: sa[2], Name: sa[3]}}
	createRBAC(t, env, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "test-base"}, Subjects: subj,
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "canary-operator"}})
	createRBAC(t, env, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: role}, Subjects: subj,
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role}})
}

// TestRouterKeepsRouteSetter: the operator's wrapping of the Istio and
// NGINX Ingress routers (RBAC hints) keeps SetRoute, so a plan with
// matches or a mirror reaches the router.
func TestRouterKeepsRouteSetter(t *testing.T) {
	t.Parallel()
	env := operatorEnv(t)
	ns := env.Namespace(t)
	for _, tr := range []canary.Traffic{
		{Istio: &canary.IstioTraffic{VirtualService: "web", Stable: canary.IstioDestination{Host: "web"}, Canary: canary.IstioDestination{Host: "web-canary"}}},
		{NGINXIngress: &canary.NGINXIngressTraffic{Ingress: "web", StableService: "web", CanaryService: "web-canary"}},
	} {
		p := &canary.Plan{Metadata: canary.Metadata{Name: "web", Namespace: ns}, Spec: canary.Spec{Traffic: tr}}
		r, err := operator.DefaultRouter(t.Context(), env.Client, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.(canary.RouteSetter); !ok {
			t.Errorf("traffic.%s: the operator's router %T does not set routes", tr.Provider(), r)
		}
	}
}
