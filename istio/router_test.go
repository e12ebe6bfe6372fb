package istio_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/istio"
	"github.com/canary-dev/canary/kube/kubetest"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// subsets splits between two subsets of one host (a DestinationRule's).
var subsets = canary.IstioTraffic{VirtualService: "recoveryos",
	Stable: canary.IstioDestination{Host: "recoveryos", Subset: "stable"},
	Canary: canary.IstioDestination{Subset: "canary"}}

// hosts splits between two Services.
var hosts = canary.IstioTraffic{VirtualService: "recoveryos",
	Stable: canary.IstioDestination{Host: "recoveryos"}, Canary: canary.IstioDestination{Host: "recoveryos-canary"}}

func destination(host, subset string, weight int32) *networking.HTTPRouteDestination {
	return &networking.HTTPRouteDestination{Weight: weight,
		Destination: &networking.Destination{Host: host, Subset: subset, Port: &networking.PortSelector{Number: 80}}}
}

// newVirtualService creates what a chart would: an /admin route to
// another host that the router must never touch, and the main route to
// the stable destination (no weight: Istio's single-destination default).
func newVirtualService(t *testing.T, env *kubetest.Env, ns string, stable canary.IstioDestination) *istionetworking.VirtualService {
	t.Helper()
	vs := &istionetworking.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "recoveryos",
		Annotations: map[string]string{"team": "recovery"}}}
	vs.Spec.Hosts = []string{"recoveryos.example.com"}
	vs.Spec.Gateways = []string{"public"}
	vs.Spec.Http = []*networking.HTTPRoute{
		{Name: "admin", Match: []*networking.HTTPMatchRequest{{Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/admin"}}}},
			Route: []*networking.HTTPRouteDestination{destination("admin", "", 0)}},
		{Name: "main", Route: []*networking.HTTPRouteDestination{destination(stable.Host, stable.Subset, 0)}},
	}
	if err := env.Client.Create(context.Background(), vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func getVirtualService(t *testing.T, env *kubetest.Env, ns string) *istionetworking.VirtualService {
	t.Helper()
	var vs istionetworking.VirtualService
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "recoveryos"}, &vs); err != nil {
		t.Fatal(err)
	}
	return &vs
}

// weights shows the main route's destinations as "recoveryos/stable:80=95 recoveryos/canary:80=5".
func weights(vs *istionetworking.VirtualService) string {
	var parts []string
	for _, d := range vs.Spec.Http[1].Route {
		name := d.Destination.Host
		if d.Destination.Subset != "" {
			name += "/" + d.Destination.Subset
		}
		parts = append(parts, fmt.Sprintf("%s:%d=%d", name, d.Destination.Port.GetNumber(), d.Weight))
	}
	return strings.Join(parts, " ")
}

func newRouter(t *testing.T, tr canary.IstioTraffic) (*kubetest.Env, string, *istio.Router) {
	t.Helper()
	crds, err := kubetest.IstioCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env := kubetest.Shared(t, kubetest.Options{CRDPaths: []string{crds}})
	ns := env.Namespace(t)
	r, err := istio.New(istio.Config{Client: env.Client, Namespace: ns, Traffic: tr})
	if err != nil {
		t.Fatal(err)
	}
	return env, ns, r
}

// untouched fails t when the /admin route or the annotations other than
// the router's changed.
func untouched(t *testing.T, what string, got, orig *istionetworking.VirtualService) {
	t.Helper()
	if !proto.Equal(got.Spec.Http[0], orig.Spec.Http[0]) {
		t.Errorf("%s changed the admin route: %v", what, got.Spec.Http[0])
	}
	if got.Annotations["team"] != "recovery" || len(got.Spec.Hosts) != 1 || len(got.Spec.Gateways) != 1 {
		t.Errorf("%s changed the annotations, hosts or gateways: %v %v %v", what, got.Annotations, got.Spec.Hosts, got.Spec.Gateways)
	}
}

// TestLifecycle: kubetest.RouterLifecycle's calls on the main route,
// with stable and canary as subsets of one host and as two hosts; the
// /admin route, hosts, gateways and other annotations never change, the
// canary destination has the stable's port and Weights reads what was
// set.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	for name, tr := range map[string]canary.IstioTraffic{"subsets": subsets, "hosts": hosts} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, ns, r := newRouter(t, tr)
			orig := newVirtualService(t, env, ns, tr.Stable)
			canaryHost := tr.Canary.Host
			if canaryHost == "" {
				canaryHost = tr.Stable.Host
			}
			kubetest.RouterLifecycle(t, r, func(t *testing.T) kubetest.Observed {
				vs := getVirtualService(t, env, ns)
				untouched(t, "a call", vs, orig)
				o := kubetest.Observed{Canary: -1, Promoted: vs.Annotations[istio.AnnotationPromoted] != "", Version: vs.ResourceVersion}
				for _, d := range vs.Spec.Http[1].Route {
					switch x := d.Destination; {
					case x.Port.GetNumber() != 80:
						t.Errorf("destination %v without the stable's port", x)
					case x.Host == tr.Stable.Host && x.Subset == tr.Stable.Subset:
						o.Stable = int(d.Weight)
					case x.Host == canaryHost && x.Subset == tr.Canary.Subset:
						o.Canary = int(d.Weight)
					}
				}
				if s, c, err := r.Weights(t.Context()); err != nil || s != o.Stable || c != o.Canary {
					t.Errorf("Weights = %d, %d, %v; the virtualservice has %s", s, c, err, o)
				}
				return o
			})
		})
	}
}

// TestNamedRoutes: with routes named, a route to the stable that is not
// named is left alone.
func TestNamedRoutes(t *testing.T) {
	t.Parallel()
	tr := hosts
	tr.Routes = []string{"main"}
	env, ns, r := newRouter(t, tr)
	vs := newVirtualService(t, env, ns, hosts.Stable)
	vs.Spec.Http = append(vs.Spec.Http, &networking.HTTPRoute{Name: "legacy", Route: []*networking.HTTPRouteDestination{destination("recoveryos", "", 0)}})
	if err := env.Client.Update(t.Context(), vs); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	got := getVirtualService(t, env, ns)
	if w := weights(got); w != "recoveryos:80=90 recoveryos-canary:80=10" {
		t.Errorf("main route: %s", w)
	}
	if n := len(got.Spec.Http[2].Route); n != 1 || got.Spec.Http[2].Route[0].Weight != 0 {
		t.Errorf("the legacy route, not named, changed: %v", got.Spec.Http[2])
	}
	tr.Routes = []string{"nothing"}
	other, _ := istio.New(istio.Config{Client: env.Client, Namespace: ns, Traffic: tr})
	if err := other.SetWeight(t.Context(), 10); !errors.Is(err, istio.ErrNoStableRoute) || !strings.Contains(err.Error(), "[nothing]") {
		t.Errorf("SetWeight with no named route to the stable: %v, want ErrNoStableRoute naming the routes", err)
	}
}

func TestMissingVirtualService(t *testing.T) {
	t.Parallel()
	_, _, r := newRouter(t, hosts)
	if err := r.SetWeight(t.Context(), 5); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("SetWeight without a virtualservice: %v, want not found", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	var c client.Client = kubetest.Uncalled{}
	kubetest.RefusesConfigs(t, func(cfg istio.Config) error { _, err := istio.New(cfg); return err }, map[string]istio.Config{
		"no client":                     {Traffic: hosts},
		"no virtualservice":             {Client: c, Traffic: canary.IstioTraffic{Stable: hosts.Stable, Canary: hosts.Canary}},
		"same destination":              {Client: c, Traffic: canary.IstioTraffic{VirtualService: "v", Stable: hosts.Stable, Canary: hosts.Stable}},
		"canary without host or subset": {Client: c, Traffic: canary.IstioTraffic{VirtualService: "v", Stable: hosts.Stable}},
	})
}
