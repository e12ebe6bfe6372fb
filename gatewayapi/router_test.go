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

func TestSetWeight(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t)
	orig := newRoute(t, env, ns)
	ctx := t.Context()
	tests := []struct {
		weight int
		want   string
	}{
		{5, "recoveryos:80=95 recoveryos-canary:80=5"},
		{10, "recoveryos:80=90 recoveryos-canary:80=10"},
		{50, "recoveryos:80=50 recoveryos-canary:80=50"},
		{100, "recoveryos:80=0 recoveryos-canary:80=100"},
		// Weight 0 keeps the canary backendRef: a gradual rollback drains.
		{0, "recoveryos:80=100 recoveryos-canary:80=0"},
		{25, "recoveryos:80=75 recoveryos-canary:80=25"},
	}
	for _, tt := range tests {
		if err := r.SetWeight(ctx, tt.weight); err != nil {
			t.Fatalf("SetWeight(%d): %v", tt.weight, err)
		}
		rt := getRoute(t, env, ns)
		if got := weights(rt); got != tt.want {
			t.Errorf("SetWeight(%d): route has %s, want %s", tt.weight, got, tt.want)
		}
		if !equality.Semantic.DeepEqual(rt.Spec.Rules[0], orig.Spec.Rules[0]) {
			t.Errorf("SetWeight(%d) changed the /admin rule: %+v", tt.weight, rt.Spec.Rules[0])
		}
	}
	// A replay writes nothing.
	before := getRoute(t, env, ns).ResourceVersion
	if err := r.SetWeight(ctx, 25); err != nil {
		t.Fatal(err)
	}
	if after := getRoute(t, env, ns).ResourceVersion; after != before {
		t.Errorf("replaying SetWeight(25) wrote the route (resourceVersion %s -> %s)", before, after)
	}
	if s, c, err := r.Weights(ctx); err != nil || s != 75 || c != 25 {
		t.Errorf("Weights = %d, %d, %v; want 75, 25", s, c, err)
	}
}

func TestRemoveCanaryAfterRollback(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t)
	orig := newRoute(t, env, ns)
	ctx := t.Context()
	for _, w := range []int{5, 0} {
		if err := r.SetWeight(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second call is a replay
		if err := r.RemoveCanary(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rt := getRoute(t, env, ns)
	if got, want := weights(rt), "recoveryos:80=100"; got != want {
		t.Errorf("after RemoveCanary: %s, want %s", got, want)
	}
	if !equality.Semantic.DeepEqual(rt.Spec.Rules[0], orig.Spec.Rules[0]) {
		t.Error("RemoveCanary changed the /admin rule")
	}
}

func TestPromoteLeavesCanaryServing(t *testing.T) {
	t.Parallel()
	env, ns, r := newRouter(t)
	newRoute(t, env, ns)
	ctx := t.Context()
	for _, call := range []func(context.Context) error{
		func(c context.Context) error { return r.SetWeight(c, 100) }, r.Promote, r.Promote, r.RemoveCanary, r.RemoveCanary,
	} {
		if err := call(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rt := getRoute(t, env, ns)
	if got, want := weights(rt), "recoveryos:80=0 recoveryos-canary:80=100"; got != want {
		t.Errorf("after promotion: %s, want %s", got, want)
	}
	if rt.Annotations[gatewayapi.AnnotationPromoted] != "recoveryos-canary" {
		t.Errorf("annotations %v, want %s=recoveryos-canary", rt.Annotations, gatewayapi.AnnotationPromoted)
	}
	// The next rollout's first step clears the promotion mark.
	if err := r.SetWeight(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if _, ok := getRoute(t, env, ns).Annotations[gatewayapi.AnnotationPromoted]; ok {
		t.Error("SetWeight kept the promotion mark")
	}
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
	var c client.Client = fakeClient{}
	tests := []struct {
		name string
		cfg  gatewayapi.Config
	}{
		{"no client", gatewayapi.Config{Traffic: traffic}},
		{"no route", gatewayapi.Config{Client: c, Traffic: canary.GatewayAPITraffic{StableService: "a", CanaryService: "b"}}},
		{"same services", gatewayapi.Config{Client: c, Traffic: canary.GatewayAPITraffic{HTTPRoute: "r", StableService: "a", CanaryService: "a"}}},
		{"bad port", gatewayapi.Config{Client: c, Traffic: canary.GatewayAPITraffic{HTTPRoute: "r", StableService: "a", CanaryService: "b", Port: 70000}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gatewayapi.New(tt.cfg); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

// fakeClient only satisfies the type for validation tests; it is never
// called.
type fakeClient struct{ client.Client }
