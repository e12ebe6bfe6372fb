// Package istio is a canary.TrafficRouter for Istio: it splits traffic
// between a stable and a canary destination by the destination weights of
// a VirtualService's HTTP routes (networking.istio.io/v1).
//
// Every method is absolute: it reads the VirtualService, computes the
// weights from its argument alone (stable 100-w, canary w), writes it only
// when they differ (with optimistic concurrency, retried on conflict) and
// reads it back to confirm. Only the HTTP routes that send traffic to the
// stable destination (or those the plan names) are changed; every other
// route, match, header operation and destination is left as it is.
// Replaying a call changes nothing. That cycle is kube.TrafficObject's;
// this package says how a call's state is written into a VirtualService
// (build) and where its weights are (splits).
//
// What each method means here:
//
//   - SetWeight(w) sets the stable destination to 100-w and the canary to
//     w in each managed route, adding the canary destination (with the
//     stable's port and header operations) when it is missing.
//     SetWeight(0) keeps the canary destination at weight 0: the gradual
//     rollback's drain.
//   - Promote sends all traffic to the canary destination (stable 0,
//     canary 100) and marks the VirtualService with the annotation
//     canary.dev/promoted. Making the new version the stable one is the
//     deployer's next release: the route is left serving the canary.
//   - RemoveCanary after a promotion (the annotation is there) leaves the
//     canary serving everything. Otherwise (a rollback) it sets the stable
//     to 100 and deletes the canary destination.
//
// SetRoute (routes.go) adds a step's matches and mirror as HTTP routes the
// router generates before each managed route (named canary-dev-...),
// replaced on every call and removed by a plain weight, Promote and
// RemoveCanary.
package istio

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationPromoted marks a VirtualService whose canary destination was
// promoted; its value is the canary destination.
const AnnotationPromoted = kube.AnnotationPromoted

// ErrNoStableRoute is returned when no managed HTTP route of the
// VirtualService sends traffic to the stable destination.
var ErrNoStableRoute = errors.New("no http route of the virtualservice has a destination to the stable host")

// Config configures a Router.
type Config struct {
	// Client talks to the API server; its scheme must have Istio's
	// networking.istio.io/v1 types (kube.NewClient). Required.
	Client client.Client
	// Namespace of the VirtualService. Default: "default".
	Namespace string
	// Traffic names the VirtualService, its routes and the two
	// destinations (the plan's traffic.istio, defaults filled).
	Traffic canary.IstioTraffic
}

// Router sets a VirtualService's destination weights.
type Router struct {
	cfg Config
	obj *kube.TrafficObject[istionetworking.VirtualService, *istionetworking.VirtualService]
}

var _ canary.TrafficRouter = (*Router)(nil)

// New validates cfg and fills its defaults.
func New(cfg Config) (*Router, error) {
	t := &cfg.Traffic
	if t.Canary.Host == "" {
		t.Canary.Host = t.Stable.Host
	}
	switch {
	case cfg.Client == nil:
		return nil, errors.New("istio router: no kubernetes client")
	case t.VirtualService == "" || t.Stable.Host == "":
		return nil, errors.New("istio router: name the virtualService and the stable destination's host")
	case t.Canary == t.Stable:
		return nil, fmt.Errorf("istio router: stable and canary are both %s", dest(t.Stable))
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	r := &Router{cfg: cfg}
	r.obj = &kube.TrafficObject[istionetworking.VirtualService, *istionetworking.VirtualService]{Client: cfg.Client,
		Key:  types.NamespacedName{Namespace: cfg.Namespace, Name: t.VirtualService},
		Kind: "virtualservice", Desc: "virtualservice " + t.VirtualService, Backend: "destination", Promoted: dest(t.Canary),
		Build: r.build, Splits: r.splits,
		Equal: func(a, b *istionetworking.VirtualService) bool { return proto.Equal(&a.Spec, &b.Spec) }}
	return r, nil
}

// SetWeight routes weight percent of the managed routes' traffic to the
// canary destination.
func (r *Router) SetWeight(ctx context.Context, weight int) error {
	return r.obj.SetWeight(ctx, weight)
}

// Promote routes all traffic to the canary destination and marks the
// VirtualService promoted.
func (r *Router) Promote(ctx context.Context) error { return r.obj.Promote(ctx) }

// RemoveCanary deletes the canary destinations after a rollback, and keeps
// them serving everything after a promotion.
func (r *Router) RemoveCanary(ctx context.Context) error { return r.obj.RemoveCanary(ctx) }

// Weights returns the stable and canary weights of the first managed
// route; canary is -1 when the route has no canary destination.
func (r *Router) Weights(ctx context.Context) (stable, canaryWeight int, err error) {
	return r.obj.Weights(ctx)
}

// managed returns the HTTP routes the router manages: those named in the
// plan (or all) that have a destination to the stable.
func (r *Router) managed(vs *istionetworking.VirtualService) []*networking.HTTPRoute {
	var out []*networking.HTTPRoute
	for _, h := range vs.Spec.Http {
		if generated(h) {
			continue
		}
		if names := r.cfg.Traffic.Routes; len(names) > 0 && !slices.Contains(names, h.Name) {
			continue
		}
		if r.find(h.Route, r.cfg.Traffic.Stable) >= 0 {
			out = append(out, h)
		}
	}
	return out
}

// build changes vs to w: the weights of the managed routes, the generated
// routes of w's matches and mirror.
func (r *Router) build(_ context.Context, vs *istionetworking.VirtualService, s kube.Want) (*istionetworking.VirtualService, error) {
	vs.Spec.Http = slices.DeleteFunc(vs.Spec.Http, generated)
	routes := r.managed(vs)
	if len(routes) == 0 {
		return nil, r.noStable(vs)
	}
	for _, h := range routes {
		si := r.find(h.Route, r.cfg.Traffic.Stable)
		setWeight(h.Route[si], 100-s.Weight)
		ci := r.find(h.Route, r.cfg.Traffic.Canary)
		switch {
		case s.Remove && ci >= 0:
			h.Route = slices.Delete(h.Route, ci, ci+1)
		case s.Remove:
		case ci >= 0:
			setWeight(h.Route[ci], s.Weight)
		default:
			h.Route = append(h.Route, r.canaryDestination(h.Route[si], s.Weight))
		}
	}
	vs.Spec.Http = r.withGenerated(vs.Spec.Http, routes, s)
	return vs, nil
}

// splits are the managed routes.
func (r *Router) splits(vs *istionetworking.VirtualService) ([]kube.WeightSplit, error) {
	var out []kube.WeightSplit
	for _, h := range r.managed(vs) {
		s := kube.WeightSplit{Name: fmt.Sprintf("route %q", h.Name), Stable: int(h.Route[r.find(h.Route, r.cfg.Traffic.Stable)].Weight), Canary: -1}
		if ci := r.find(h.Route, r.cfg.Traffic.Canary); ci >= 0 {
			s.Canary = int(h.Route[ci].Weight)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, r.noStable(vs)
	}
	return out, nil
}

// noStable is ErrNoStableRoute naming what was looked for.
func (r *Router) noStable(vs *istionetworking.VirtualService) error {
	if names := r.cfg.Traffic.Routes; len(names) > 0 {
		return fmt.Errorf("%w %s among the routes %v of %d", ErrNoStableRoute, dest(r.cfg.Traffic.Stable), names, len(vs.Spec.Http))
	}
	return fmt.Errorf("%w %s", ErrNoStableRoute, dest(r.cfg.Traffic.Stable))
}

// canaryDestination is a destination to the canary modelled on the
// stable's (its port and header operations).
func (r *Router) canaryDestination(stable *networking.HTTPRouteDestination, weight int) *networking.HTTPRouteDestination {
	d := stable.DeepCopy()
	d.Destination.Host, d.Destination.Subset = r.cfg.Traffic.Canary.Host, r.cfg.Traffic.Canary.Subset
	d.Weight = int32(weight)
	return d
}

// find returns the index of the destination d among ds, or -1.
func (r *Router) find(ds []*networking.HTTPRouteDestination, d canary.IstioDestination) int {
	for i, x := range ds {
		if x.Destination != nil && x.Destination.Host == d.Host && x.Destination.Subset == d.Subset {
			return i
		}
	}
	return -1
}

func setWeight(d *networking.HTTPRouteDestination, w int) bool {
	if int(d.Weight) == w {
		return false
	}
	d.Weight = int32(w)
	return true
}

// dest shows a destination as host or host/subset.
func dest(d canary.IstioDestination) string {
	if d.Subset == "" {
		return d.Host
	}
	return d.Host + "/" + d.Subset
}
