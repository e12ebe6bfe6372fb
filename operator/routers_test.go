package operator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
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

// istioCRDs installs Istio's CRDs on env once for the package's tests.
func istioCRDs(t *testing.T, env *kubetest.Env) {
	t.Helper()
	istioOnce.Do(func() {
		crds, err := kubetest.IstioCRDs()
		if err == nil {
			_, err = envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{crds}})
		}
		istioOnce.err = err
	})
	if istioOnce.err != nil {
		t.Fatal(istioOnce.err)
	}
}

var istioOnce struct {
	sync.Once
	err error
}

// meshRig runs an example plan of a mesh or ingress router through
// Reconcile on a stepped clock, with the operator's DefaultRouter on the
// real objects (wrapped to pass matches on and to record the object after
// each call) and the analysis measuring the canary's share that the object
// really gives it.
type meshRig struct {
	steppedRig
	log []string // "w25 <the object after the call>" for each call that succeeded
}

// routerCase is one router's objects as a chart would create them, and
// how the test reads them.
type routerCase struct {
	example string                        // examples/ file of the plan
	object  func(ns string) client.Object // what the chart creates
	// show is the router's object as one line; share is the canary's
	// percentage of requests that object gives it (the weight, or 5 for
	// the beta testers a match sends at weight 0).
	show  func(ctx context.Context, env *kubetest.Env, ns string) (string, error)
	share func(ctx context.Context, env *kubetest.Env, ns string) (int, error)
}

func newMeshRig(t *testing.T, rc routerCase, svc kubetest.Service) *meshRig {
	t.Helper()
	env := operatorEnv(t)
	g := &meshRig{steppedRig: newSteppedRig(t, env)}
	istioCRDs(t, env)
	if err := env.Client.Create(t.Context(), rc.object(g.ns)); err != nil {
		t.Fatal(err)
	}
	var err error
	g.r, err = operator.New(operator.Config{Client: env.Client, Clock: g.clock, Recorder: g.rec, CallTimeout: 30 * time.Second,
		Router: func(ctx context.Context, p *canary.Plan) (canary.TrafficRouter, error) {
			inner, err := operator.DefaultRouter(ctx, env.Client, p)
			if err != nil {
				return nil, err
			}
			return &kubetest.RouteRouter{Router: kubetest.Router{Inner: inner, After: func(action string, err error) {
				if err == nil {
					obj, err := rc.show(context.Background(), env, g.ns)
					if err != nil {
						t.Errorf("read the router's object: %v", err)
					}
					g.log = append(g.log, action+" | "+obj)
				}
			}}}, nil
		},
		Metrics: func(context.Context, *canary.Plan) (canary.MetricSource, error) {
			return kubetest.Metrics(svc, func(ctx context.Context) (int, error) { return rc.share(ctx, env, g.ns) }), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	u := examplePlan(t, rc.example, g.ns, nil)
	u.SetLabels(map[string]string{testShard: "direct"})
	if err := env.Client.Create(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	g.key = types.NamespacedName{Namespace: g.ns, Name: u.GetName()}
	return g
}

// istioCase is examples/k8s/istio.yaml's VirtualService recoveryos: an
// /admin route the router must leave alone and the main route to the
// stable subset.
var istioCase = routerCase{example: "k8s/istio.yaml",
	object: func(ns string) client.Object { return meshVirtualService(ns) },
	show: func(ctx context.Context, env *kubetest.Env, ns string) (string, error) {
		vs, err := getVirtualService(ctx, env, ns)
		if err != nil {
			return "", err
		}
		var routes []string
		for _, h := range vs.Spec.Http[1:] { // [0] is /admin
			var ds []string
			for _, d := range h.Route {
				ds = append(ds, fmt.Sprintf("%s/%s=%d", d.Destination.Host, d.Destination.Subset, d.Weight))
			}
			r := h.Name + " " + strings.Join(ds, ",")
			for _, m := range h.Match {
				for k, v := range m.Headers {
					r += " if " + k + "=" + v.GetExact()
				}
			}
			if h.Mirror != nil {
				r += fmt.Sprintf(" mirror %s/%s %g%%", h.Mirror.Host, h.Mirror.Subset, h.MirrorPercentage.GetValue())
			}
			routes = append(routes, r)
		}
		if p := vs.Annotations[canaryPromoted]; p != "" {
			routes = append(routes, "promoted="+p)
		}
		return strings.Join(routes, "; "), nil
	},
	share: func(ctx context.Context, env *kubetest.Env, ns string) (int, error) {
		vs, err := getVirtualService(ctx, env, ns)
		if err != nil {
			return 0, err
		}
		w, match := 0, false
		for _, h := range vs.Spec.Http {
			match = match || strings.HasPrefix(h.Name, "canary-dev-match-")
			for _, d := range h.Route {
				if h.Name == "main" && d.Destination.Subset == "canary" {
					w = int(d.Weight)
				}
			}
		}
		return shareOf(w, match), nil
	},
}

// canaryPromoted is the routers' promotion mark.
const canaryPromoted = "canary.dev/promoted"

// shareOf is the canary's share of requests at weight w: 5% (the beta
// testers) when a match sends them at weight 0.
func shareOf(w int, match bool) int {
	if w == 0 && match {
		return 5
	}
	return w
}

func meshVirtualService(ns string) *istionetworking.VirtualService {
	vs := &istionetworking.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "recoveryos"}}
	vs.Spec.Hosts = []string{"recoveryos.example.com"}
	vs.Spec.Http = []*networking.HTTPRoute{
		{Name: "admin", Match: []*networking.HTTPMatchRequest{{Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/admin"}}}},
			Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "admin"}}}},
		{Name: "main", Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "recoveryos", Subset: "stable"}}}},
	}
	return vs
}

func getVirtualService(ctx context.Context, env *kubetest.Env, ns string) (*istionetworking.VirtualService, error) {
	var vs istionetworking.VirtualService
	err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "recoveryos"}, &vs)
	return &vs, err
}

// nginxCase is examples/k8s/nginx-ingress.yaml's stable Ingress
// recoveryos (never written) and the canary Ingress the router keeps.
var nginxCase = routerCase{example: "k8s/nginx-ingress.yaml",
	object: func(ns string) client.Object { return meshIngress(ns) },
	show: func(ctx context.Context, env *kubetest.Env, ns string) (string, error) {
		in, err := getIngress(ctx, env, ns, "recoveryos-canary")
		if in == nil || err != nil {
			return "no canary ingress", err
		}
		var parts []string
		for k, v := range in.Annotations {
			if k, ok := strings.CutPrefix(k, "nginx.ingress.kubernetes.io/"); ok {
				parts = append(parts, k+"="+v)
			}
		}
		sort.Strings(parts)
		if p := in.Annotations[canaryPromoted]; p != "" {
			parts = append(parts, "promoted="+p)
		}
		return strings.Join(parts, " "), nil
	},
	share: func(ctx context.Context, env *kubetest.Env, ns string) (int, error) {
		in, err := getIngress(ctx, env, ns, "recoveryos-canary")
		if in == nil || err != nil {
			return 0, err
		}
		var w int
		if _, err := fmt.Sscan(in.Annotations["nginx.ingress.kubernetes.io/canary-weight"], &w); err != nil {
			return 0, err
		}
		_, match := in.Annotations["nginx.ingress.kubernetes.io/canary-by-header"]
		return shareOf(w, match), nil
	},
}

func meshIngress(ns string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "recoveryos"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "recoveryos.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: "recoveryos", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
}

// getIngress reads Ingress name: nil when there is none.
func getIngress(ctx context.Context, env *kubetest.Env, ns, name string) (*networkingv1.Ingress, error) {
	var in networkingv1.Ingress
	err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &in)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return &in, err
}

// TestMeshRolloutsStepped runs examples/k8s/istio.yaml and
// nginx-ingress.yaml through Reconcile on a stepped clock against the real
// VirtualService and Ingresses: a healthy canary goes through the match
// step (header X-Beta, plus a 10% mirror on Istio and the cookie on NGINX)
// and the weights 10, 25, 50, 100 and is promoted; a slow one breaks
// "latencyP95 above 600ms for 1m" at the match step and is rolled back
// gradually (weight 0, drain, removal). What is asserted is the object
// after each router call and at the end: after a rollback the
// VirtualService is the one the chart created and the canary Ingress is
// gone; after a promotion the canary serves everything, marked promoted,
// without generated routes or match annotations.
func TestMeshRolloutsStepped(t *testing.T) {
	t.Parallel()
	healthy := kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}
	slow := kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.9}
	tests := []struct {
		name      string
		rc        routerCase
		svc       kubetest.Service
		phase     canary.Phase
		log       []string
		lastEvent string
	}{
		{"istio promoted", istioCase, healthy, canary.PhaseSucceeded, []string{
			"route 0% + header X-Beta=1 + mirror 10% | canary-dev-match-main recoveryos/canary=100 if x-beta=1; " +
				"canary-dev-mirror-main recoveryos/stable=100,recoveryos/canary=0 mirror recoveryos/canary 10%; main recoveryos/stable=100,recoveryos/canary=0",
			"route 10% + header X-Beta=1 | canary-dev-match-main recoveryos/canary=100 if x-beta=1; main recoveryos/stable=90,recoveryos/canary=10",
			"w25 | main recoveryos/stable=75,recoveryos/canary=25",
			"w50 | main recoveryos/stable=50,recoveryos/canary=50",
			"w100 | main recoveryos/stable=0,recoveryos/canary=100",
			"promote | main recoveryos/stable=0,recoveryos/canary=100; promoted=recoveryos/canary",
			"removeCanary | main recoveryos/stable=0,recoveryos/canary=100; promoted=recoveryos/canary",
		}, "Promoted"},
		{"istio rolled back", istioCase, slow, canary.PhaseRolledBack, []string{
			"route 0% + header X-Beta=1 + mirror 10% | canary-dev-match-main recoveryos/canary=100 if x-beta=1; " +
				"canary-dev-mirror-main recoveryos/stable=100,recoveryos/canary=0 mirror recoveryos/canary 10%; main recoveryos/stable=100,recoveryos/canary=0",
			"w0 | main recoveryos/stable=100,recoveryos/canary=0",
			"removeCanary | main recoveryos/stable=100",
		}, "RolledBack"},
		{"nginx promoted", nginxCase, healthy, canary.PhaseSucceeded, []string{
			"route 0% + header X-Beta=1 + cookie beta=always | canary-by-cookie=beta canary-by-header-value=1 canary-by-header=X-Beta canary-weight=0 canary=true",
			"w10 | canary-weight=10 canary=true",
			"w25 | canary-weight=25 canary=true",
			"w50 | canary-weight=50 canary=true",
			"w100 | canary-weight=100 canary=true",
			"promote | canary-weight=100 canary=true promoted=recoveryos-canary",
			"removeCanary | canary-weight=100 canary=true promoted=recoveryos-canary",
		}, "Promoted"},
		{"nginx rolled back", nginxCase, slow, canary.PhaseRolledBack, []string{
			"route 0% + header X-Beta=1 + cookie beta=always | canary-by-cookie=beta canary-by-header-value=1 canary-by-header=X-Beta canary-weight=0 canary=true",
			"w0 | canary-weight=0 canary=true",
			"removeCanary | no canary ingress",
		}, "RolledBack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newMeshRig(t, tt.rc, tt.svc)
			s := g.run(t)
			if canary.Phase(s.Phase) != tt.phase {
				t.Fatalf("phase %s (%s), want %s; events:\n%s", s.Phase, s.Message, tt.phase, g.rec.all())
			}
			if !slices.Equal(g.log, tt.log) {
				t.Errorf("object after each router call:\ngot  %q\nwant %q", g.log, tt.log)
			}
			g.assertFinished(t, tt.lastEvent)
			g.assertClean(t, tt.rc, tt.phase)
		})
	}
}

// assertClean checks the objects at the end of a rollout.
func (g *meshRig) assertClean(t *testing.T, rc routerCase, phase canary.Phase) {
	t.Helper()
	ctx := t.Context()
	if rc.example == istioCase.example {
		vs, err := getVirtualService(ctx, g.env, g.ns)
		if err != nil {
			t.Fatal(err)
		}
		// The chart's VirtualService, the stable's weight set: 100 after a
		// rollback, 0 beside the canary's 100 after a promotion.
		want := meshVirtualService(g.ns)
		want.Spec.Http[1].Route[0].Weight = 100
		if phase == canary.PhaseSucceeded {
			want.Spec.Http[1].Route = []*networking.HTTPRouteDestination{
				{Destination: &networking.Destination{Host: "recoveryos", Subset: "stable"}},
				{Destination: &networking.Destination{Host: "recoveryos", Subset: "canary"}, Weight: 100}}
		}
		if !proto.Equal(&vs.Spec, &want.Spec) {
			t.Errorf("virtualservice at the end:\n%v\nwant\n%v", &vs.Spec, &want.Spec)
		}
		return
	}
	stable, err := getIngress(ctx, g.env, g.ns, "recoveryos")
	if err != nil || stable.Generation != 1 || len(stable.Annotations) != 0 {
		t.Errorf("the stable ingress was written: %v, generation %d, annotations %v", err, stable.Generation, stable.Annotations)
	}
	c, err := getIngress(ctx, g.env, g.ns, "recoveryos-canary")
	switch {
	case err != nil:
		t.Fatal(err)
	case phase == canary.PhaseRolledBack && c != nil:
		t.Errorf("the canary ingress is still there after the rollback: %v", c.Annotations)
	case phase == canary.PhaseSucceeded && (c == nil || c.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "recoveryos-canary"):
		t.Errorf("after the promotion the canary ingress does not send to recoveryos-canary: %v", c)
	}
}
