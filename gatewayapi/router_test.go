package gatewayapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/gatewayapi"
	"github.com/canary-dev/canary/kube/kubetest"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var traffic = canary.GatewayAPITraffic{HTTPRoute: "recoveryos", StableService: "recoveryos", CanaryService: "recoveryos-canary", Port: 80}

func ptr[T any](v T) *T { return &v }

func backend(name string, port int32, weight *int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: ptr(gatewayv1.PortNumber(port))},
		Weight:                 weight}}
}

// newRoute creates the route a chart would: the main rule to the stable
// Service (no weight: the Gateway API default of 1), and an /admin rule to
// another Service that the router must never touch.
func newRoute(t *testing.T, env *kubetest.Env, ns string) *gatewayv1.HTTPRoute {
	t.Helper()
	rt := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "recoveryos"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public"}}},
			Rules: []gatewayv1.HTTPRouteRule{
				{
					Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
						Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("/admin")}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{backend("admin", 8080, nil)},
				},
				{BackendRefs: []gatewayv1.HTTPBackendRef{backend("recoveryos", 80, nil)}},
			},
		},
	}
	if err := env.Client.Create(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	return rt
}

func getRoute(t *testing.T, env *kubetest.Env, ns string) *gatewayv1.HTTPRoute {
	t.Helper()
	var rt gatewayv1.HTTPRoute
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "recoveryos"}, &rt); err != nil {
		t.Fatal(err)
	}
	return &rt
}

// weights shows the main rule's backendRefs as "recoveryos:80=95 recoveryos-canary:80=5".
func weights(rt *gatewayv1.HTTPRoute) string {
	var parts []string
	for _, b := range rt.Spec.Rules[1].BackendRefs {
		w := "nil"
		if b.Weight != nil {
			w = fmt.Sprint(*b.Weight)
		}
		parts = append(parts, fmt.Sprintf("%s:%d=%s", b.Name, *b.Port, w))
	}
	return strings.Join(parts, " ")
}

func newRouter(t *testing.T) (*kubetest.Env, string, *gatewayapi.Router) {
	t.Helper()
	env := kubetest.Shared(t, kubetest.Options{GatewayAPI: true})
	ns := env.Namespace(t)
	r, err := gatewayapi.New(gatewayapi.Config{Client: env.Client, Namespace: ns, Traffic: traffic})
	if err != nil {
		t.Fatal(err)
	}
	return env, ns, r
}

// TestLifecycle: kubetest.RouterLifecycle's calls on the route's main
// rule; the /admin rule never changes and Weights reads what was set.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t)
	orig := newRoute(t, env, ns)
	kubetest.RouterLifecycle(t, r, func(t *testing.T) kubetest.Observed {
		rt := getRoute(t, env, ns)
		if !equality.Semantic.DeepEqual(rt.Spec.Rules[0], orig.Spec.Rules[0]) {
			t.Errorf("the /admin rule changed: %+v", rt.Spec.Rules[0])
		}
		o := kubetest.Observed{Canary: -1, Promoted: rt.Annotations[gatewayapi.AnnotationPromoted] == "recoveryos-canary", Version: rt.ResourceVersion}
		for _, b := range rt.Spec.Rules[1].BackendRefs {
			switch {
			case *b.Port != 80 || b.Weight == nil:
				t.Errorf("backendRef %s:%d weight %v, want port 80 and a weight", b.Name, *b.Port, b.Weight)
			case b.Name == "recoveryos":
				o.Stable = int(*b.Weight)
			case b.Name == "recoveryos-canary":
				o.Canary = int(*b.Weight)
			}
		}
		if s, c, err := r.Weights(t.Context()); err != nil || s != o.Stable || c != o.Canary {
			t.Errorf("Weights = %d, %d, %v; the route has %s", s, c, err, o)
		}
		return o
	})
}

func TestNoStableRule(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t)
	rt := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "recoveryos"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{backend("other", 80, nil)}}}}}
	if err := env.Client.Create(t.Context(), rt); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(t.Context(), 5); !errors.Is(err, gatewayapi.ErrNoStableRule) {
		t.Fatalf("SetWeight on a route without the stable service: %v, want ErrNoStableRule", err)
	}
}

func TestMissingRoute(t *testing.T) {
	t.Parallel()
	_, _, r := newRouter(t)
	err := r.SetWeight(t.Context(), 5)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("SetWeight without a route: %v, want not found", err)
	}
}

// TestRouteNotAccepted: a gateway that refuses the route's current
// generation means the weights are not in effect; the call fails (and the
// engine retries, then pauses).
func TestRouteNotAccepted(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t)
	rt := newRoute(t, env, ns)
	ctx := t.Context()
	if err := r.SetWeight(ctx, 5); err != nil {
		t.Fatal(err)
	}
	rt = getRoute(t, env, ns)
	status := gatewayv1.RouteParentStatus{ParentRef: gatewayv1.ParentReference{Name: "public"}, ControllerName: "example.com/gateway"}
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: string(gatewayv1.RouteConditionAccepted),
		Status: metav1.ConditionFalse, Reason: "NotAllowedByListeners", Message: "no listener allows it", ObservedGeneration: rt.Generation})
	rt.Status.Parents = []gatewayv1.RouteParentStatus{status}
	if err := env.Client.Status().Update(ctx, rt); err != nil {
		t.Fatal(err)
	}
	err := r.SetWeight(ctx, 5)
	if err == nil || !strings.Contains(err.Error(), "not accepted by public: NotAllowedByListeners") {
		t.Fatalf("SetWeight on a refused route: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	var c client.Client = kubetest.Uncalled{}
	kubetest.RefusesConfigs(t, func(cfg gatewayapi.Config) error { _, err := gatewayapi.New(cfg); return err }, map[string]gatewayapi.Config{
		"no client":     {Traffic: traffic},
		"no route":      {Client: c, Traffic: canary.GatewayAPITraffic{StableService: "a", CanaryService: "b"}},
		"same services": {Client: c, Traffic: canary.GatewayAPITraffic{HTTPRoute: "r", StableService: "a", CanaryService: "a"}},
		"bad port":      {Client: c, Traffic: canary.GatewayAPITraffic{HTTPRoute: "r", StableService: "a", CanaryService: "b", Port: 70000}},
	})
}
