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
// Replaying a call changes nothing.
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
	"maps"
	"slices"

	"github.com/canary-dev/canary"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationPromoted marks a VirtualService whose canary destination was
// promoted; its value is the canary destination.
const AnnotationPromoted = "canary.dev/promoted"

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
	return &Router{cfg: cfg}, nil
}

// state is what one call wants the VirtualService to look like.
type state struct {
	weight   int  // canary weight
	remove   bool // delete the canary destinations (stable 100)
	promoted bool // the annotation is present
	// matches and mirror are the requests sent to the canary whatever
	// the weight, and the share of GET and HEAD requests copied to it
	// (routes the router generates; SetRoute).
	matches []canary.Match
	mirror  int
}

// SetWeight routes weight percent of the managed routes' traffic to the
// canary destination.
func (r *Router) SetWeight(ctx context.Context, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("set weight %d%%: not a percentage", weight)
	}
	if err := r.apply(ctx, func(*istionetworking.VirtualService) state { return state{weight: weight} }); err != nil {
		return fmt.Errorf("set weight %d%% on virtualservice %s: %w", weight, r.cfg.Traffic.VirtualService, err)
	}
	return nil
}

// Promote routes all traffic to the canary destination and marks the
// VirtualService promoted.
func (r *Router) Promote(ctx context.Context) error {
	if err := r.apply(ctx, func(*istionetworking.VirtualService) state { return state{weight: 100, promoted: true} }); err != nil {
		return fmt.Errorf("promote on virtualservice %s: %w", r.cfg.Traffic.VirtualService, err)
	}
	return nil
}

// RemoveCanary deletes the canary destinations after a rollback, and keeps
// them serving everything after a promotion.
func (r *Router) RemoveCanary(ctx context.Context) error {
	err := r.apply(ctx, func(vs *istionetworking.VirtualService) state {
		if vs.Annotations[AnnotationPromoted] != "" {
			return state{weight: 100, promoted: true}
		}
		return state{remove: true}
	})
	if err != nil {
		return fmt.Errorf("remove canary from virtualservice %s: %w", r.cfg.Traffic.VirtualService, err)
	}
	return nil
}

// Weights returns the stable and canary weights of the first managed
// route; canary is -1 when the route has no canary destination.
func (r *Router) Weights(ctx context.Context) (stable, canaryWeight int, err error) {
	vs, err := r.get(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, h := range r.managed(vs) {
		si := r.find(h.Route, r.cfg.Traffic.Stable)
		stable, canaryWeight = int(h.Route[si].Weight), -1
		if ci := r.find(h.Route, r.cfg.Traffic.Canary); ci >= 0 {
			canaryWeight = int(h.Route[ci].Weight)
		}
		return stable, canaryWeight, nil
	}
	return 0, 0, ErrNoStableRoute
}

// apply brings the VirtualService to the state want computes from it,
// then reads it back and checks it.
func (r *Router) apply(ctx context.Context, want func(*istionetworking.VirtualService) state) error {
	var s state
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		vs, err := r.get(ctx)
		if err != nil {
			return err
		}
		s = want(vs)
		changed, err := r.mutate(vs, s)
		if err != nil || !changed {
			return err
		}
		return r.cfg.Client.Update(ctx, vs)
	})
	if err != nil {
		return err
	}
	vs, err := r.get(ctx)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	return r.verify(vs, s)
}

func (r *Router) get(ctx context.Context) (*istionetworking.VirtualService, error) {
	var vs istionetworking.VirtualService
	key := types.NamespacedName{Namespace: r.cfg.Namespace, Name: r.cfg.Traffic.VirtualService}
	if err := r.cfg.Client.Get(ctx, key, &vs); err != nil {
		return nil, fmt.Errorf("get virtualservice %s/%s: %w", key.Namespace, key.Name, err)
	}
	return &vs, nil
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

// mutate changes vs to s in place and reports whether anything changed.
func (r *Router) mutate(vs *istionetworking.VirtualService, s state) (bool, error) {
	before := vs.DeepCopy()
	vs.Spec.Http = slices.DeleteFunc(vs.Spec.Http, generated)
	routes := r.managed(vs)
	if len(routes) == 0 {
		return false, r.noStable(vs)
	}
	for _, h := range routes {
		si := r.find(h.Route, r.cfg.Traffic.Stable)
		setWeight(h.Route[si], 100-s.weight)
		ci := r.find(h.Route, r.cfg.Traffic.Canary)
		switch {
		case s.remove && ci >= 0:
			h.Route = slices.Delete(h.Route, ci, ci+1)
		case s.remove:
		case ci >= 0:
			setWeight(h.Route[ci], s.weight)
		default:
			h.Route = append(h.Route, r.canaryDestination(h.Route[si], s.weight))
		}
	}
	vs.Spec.Http = r.withGenerated(vs.Spec.Http, routes, s)
	has := vs.Annotations[AnnotationPromoted] != ""
	switch {
	case s.promoted && !has:
		metav1.SetMetaDataAnnotation(&vs.ObjectMeta, AnnotationPromoted, dest(r.cfg.Traffic.Canary))
	case !s.promoted && has:
		delete(vs.Annotations, AnnotationPromoted)
	}
	changed := !proto.Equal(&before.Spec, &vs.Spec) || !maps.Equal(before.Annotations, vs.Annotations)
	return changed, nil
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

// verify checks that the VirtualService read back is in state s.
func (r *Router) verify(vs *istionetworking.VirtualService, s state) error {
	routes := r.managed(vs)
	if len(routes) == 0 {
		return r.noStable(vs)
	}
	for _, h := range routes {
		if got := int(h.Route[r.find(h.Route, r.cfg.Traffic.Stable)].Weight); got != 100-s.weight {
			return fmt.Errorf("route %q: stable weight is %d after the update, want %d", h.Name, got, 100-s.weight)
		}
		ci := r.find(h.Route, r.cfg.Traffic.Canary)
		switch {
		case s.remove && ci >= 0:
			return fmt.Errorf("route %q: the canary destination is still there after the update", h.Name)
		case !s.remove && ci < 0:
			return fmt.Errorf("route %q: no canary destination after the update", h.Name)
		case !s.remove && int(h.Route[ci].Weight) != s.weight:
			return fmt.Errorf("route %q: canary weight is %d after the update, want %d", h.Name, h.Route[ci].Weight, s.weight)
		}
	}
	if has := vs.Annotations[AnnotationPromoted] != ""; has != s.promoted {
		return fmt.Errorf("annotation %s present=%t after the update, want %t", AnnotationPromoted, has, s.promoted)
	}
	if changed, _ := r.mutate(vs.DeepCopy(), s); changed {
		return fmt.Errorf("the virtualservice read back differs from the one written (its match or mirror routes for %s)", routeText(s))
	}
	return nil
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
