// Package gatewayapi is a canary.TrafficRouter for the Kubernetes Gateway
// API: it splits traffic between a stable and a canary Service by the
// backendRef weights of an HTTPRoute (gateway.networking.k8s.io/v1).
//
// Every method is absolute: it reads the route, computes the weights from
// its argument alone (stable 100-w, canary w), writes the route only when
// they differ (with optimistic concurrency, retried on conflict) and reads
// it back to confirm. Only the rules that send traffic to the stable
// Service are changed; every other rule, match, filter and backendRef is
// left as it is. Replaying a call changes nothing. That cycle is
// kube.TrafficObject's; this package says how a call's state is written
// into an HTTPRoute (build) and where its weights are (splits).
//
// What each method means here:
//
//   - SetWeight(w) sets the stable backendRef to 100-w and the canary to w
//     in each such rule, adding the canary backendRef (with the stable's
//     port and filters) when it is missing. SetWeight(0) keeps the canary
//     backendRef at weight 0: the gradual rollback's drain.
//   - Promote sends all traffic to the canary Service (stable 0, canary
//     100) and marks the route with the annotation canary.dev/promoted.
//     Making the new version the stable one (deploying it behind the
//     stable Service and routing back) is the deployer's next release, not
//     the router's: the route is left serving the canary Service.
//   - RemoveCanary after a promotion (the route carries the annotation)
//     leaves the canary serving everything: removing it would send users
//     back to the old version. Otherwise (a rollback) it sets the stable to
//     100 and deletes the canary backendRef, leaving the route as it was
//     before the rollout.
//
// SetRoute (routes.go) adds a step's header matches and mirror as rules the
// router generates beside each such rule (named canary-dev-...), replaced
// on every call and removed by a plain weight, Promote and RemoveCanary.
//
// The router does not wait for a gateway to program the route, but a route
// that a gateway reports as not Accepted (for the route's current
// generation) fails the call.
package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AnnotationPromoted marks a route whose canary Service was promoted; its
// value is the canary Service's name.
const AnnotationPromoted = kube.AnnotationPromoted

// ErrNoStableRule is returned when no rule of the route sends traffic to
// the stable Service: there is nothing to split.
var ErrNoStableRule = errors.New("no rule of the route has a backendRef to the stable service")

// Config configures a Router.
type Config struct {
	// Client talks to the API server; its scheme must have the Gateway API
	// v1 types (kube.NewClient). Required.
	Client client.Client
	// Namespace of the route and both Services. Default: "default".
	Namespace string
	// Traffic names the route and the Services (the plan's
	// traffic.gatewayAPI). Port is used for a canary backendRef the router
	// adds; 0 copies the stable backendRef's port.
	Traffic canary.GatewayAPITraffic
}

// Router sets an HTTPRoute's backendRef weights.
type Router struct {
	cfg Config
	obj *kube.TrafficObject[gatewayv1.HTTPRoute, *gatewayv1.HTTPRoute]
}

var _ canary.TrafficRouter = (*Router)(nil)

// New validates cfg and fills its defaults.
func New(cfg Config) (*Router, error) {
	t := cfg.Traffic
	switch {
	case cfg.Client == nil:
		return nil, errors.New("gatewayAPI router: no kubernetes client")
	case t.HTTPRoute == "" || t.StableService == "" || t.CanaryService == "":
		return nil, errors.New("gatewayAPI router: name the httpRoute, the stableService and the canaryService")
	case t.StableService == t.CanaryService:
		return nil, fmt.Errorf("gatewayAPI router: stable and canary are both service %q", t.StableService)
	case t.Port < 0 || t.Port > 65535:
		return nil, fmt.Errorf("gatewayAPI router: %d is not a port", t.Port)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	r := &Router{cfg: cfg}
	r.obj = &kube.TrafficObject[gatewayv1.HTTPRoute, *gatewayv1.HTTPRoute]{Client: cfg.Client,
		Key:  types.NamespacedName{Namespace: cfg.Namespace, Name: t.HTTPRoute},
		Kind: "httproute", Desc: "route " + t.HTTPRoute, Backend: "backendRef", Promoted: t.CanaryService,
		Build: r.build, Splits: r.splits, Verify: func(rt *gatewayv1.HTTPRoute, _ kube.Want) error { return accepted(rt) },
		Equal: func(a, b *gatewayv1.HTTPRoute) bool { return equality.Semantic.DeepEqual(a.Spec, b.Spec) }}
	return r, nil
}

// SetWeight routes weight percent of the managed rules' traffic to the
// canary Service.
func (r *Router) SetWeight(ctx context.Context, weight int) error {
	return r.obj.SetWeight(ctx, weight)
}

// Promote routes all traffic to the canary Service and marks the route
// promoted.
func (r *Router) Promote(ctx context.Context) error { return r.obj.Promote(ctx) }

// RemoveCanary deletes the canary backendRefs after a rollback, and keeps
// them serving everything after a promotion.
func (r *Router) RemoveCanary(ctx context.Context) error { return r.obj.RemoveCanary(ctx) }

// Weights returns the stable and canary weights of the first rule that
// sends traffic to the stable Service; canary is -1 when the rule has no
// canary backendRef.
func (r *Router) Weights(ctx context.Context) (stable, canaryWeight int, err error) {
	return r.obj.Weights(ctx)
}

// build changes rt to w: the weights, the generated rules of w's matches
// and mirror.
func (r *Router) build(_ context.Context, rt *gatewayv1.HTTPRoute, w kube.Want) (*gatewayv1.HTTPRoute, error) {
	rt.Spec.Rules = withoutGenerated(rt.Spec.Rules)
	r.setWeights(rt, w)
	rt.Spec.Rules = r.withGenerated(rt, w)
	return rt, checkGenerated(rt.Spec.Rules)
}

// splits are the route's rules that send traffic to the stable Service.
func (r *Router) splits(rt *gatewayv1.HTTPRoute) ([]kube.WeightSplit, error) {
	var out []kube.WeightSplit
	for ri, rule := range rt.Spec.Rules {
		si := r.find(rt, rule.BackendRefs, r.cfg.Traffic.StableService)
		if si < 0 {
			continue
		}
		s := kube.WeightSplit{Name: fmt.Sprintf("rule %d", ri), Stable: weightOf(rule.BackendRefs[si]), Canary: -1}
		if ci := r.find(rt, rule.BackendRefs, r.cfg.Traffic.CanaryService); ci >= 0 {
			s.Canary = weightOf(rule.BackendRefs[ci])
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %s", ErrNoStableRule, r.cfg.Traffic.StableService)
	}
	return out, nil
}

// setWeights sets the weights of s in every rule that sends traffic to the
// stable Service, adding or removing the canary backendRef.
func (r *Router) setWeights(rt *gatewayv1.HTTPRoute, s kube.Want) {
	for ri := range rt.Spec.Rules {
		rule := &rt.Spec.Rules[ri]
		si := r.find(rt, rule.BackendRefs, r.cfg.Traffic.StableService)
		if si < 0 {
			continue
		}
		setWeight(&rule.BackendRefs[si], 100-s.Weight)
		switch ci := r.find(rt, rule.BackendRefs, r.cfg.Traffic.CanaryService); {
		case s.Remove:
			rule.BackendRefs = slices.DeleteFunc(rule.BackendRefs, func(b gatewayv1.HTTPBackendRef) bool {
				return r.matches(rt, b, r.cfg.Traffic.CanaryService)
			})
		case ci >= 0:
			setWeight(&rule.BackendRefs[ci], s.Weight)
		default:
			rule.BackendRefs = append(rule.BackendRefs, r.canaryRef(rule.BackendRefs[si], s.Weight))
		}
	}
}

// canaryRef is a backendRef to the canary Service modelled on the stable's.
func (r *Router) canaryRef(stable gatewayv1.HTTPBackendRef, weight int) gatewayv1.HTTPBackendRef {
	ref := *stable.DeepCopy()
	ref.Name = gatewayv1.ObjectName(r.cfg.Traffic.CanaryService)
	if p := r.cfg.Traffic.Port; p > 0 {
		port := gatewayv1.PortNumber(p)
		ref.Port = &port
	}
	w := int32(weight)
	ref.Weight = &w
	return ref
}

// accepted fails when a gateway reports the route's current generation as
// not accepted.
func accepted(rt *gatewayv1.HTTPRoute) error {
	var refused []string
	for _, p := range rt.Status.Parents {
		c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
		if c != nil && c.Status == metav1.ConditionFalse && c.ObservedGeneration >= rt.Generation {
			refused = append(refused, fmt.Sprintf("%s: %s: %s", p.ParentRef.Name, c.Reason, c.Message))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("the route is not accepted by %s", strings.Join(refused, "; "))
	}
	return nil
}

// find returns the index of the backendRef to Service name, or -1.
func (r *Router) find(rt *gatewayv1.HTTPRoute, refs []gatewayv1.HTTPBackendRef, name string) int {
	for i, b := range refs {
		if r.matches(rt, b, name) {
			return i
		}
	}
	return -1
}

// matches reports whether b refers to the Service name in the route's
// namespace.
func (r *Router) matches(rt *gatewayv1.HTTPRoute, b gatewayv1.HTTPBackendRef, name string) bool {
	ref := b.BackendObjectReference
	return string(ref.Name) == name &&
		(ref.Group == nil || *ref.Group == "") &&
		(ref.Kind == nil || *ref.Kind == "Service") &&
		(ref.Namespace == nil || string(*ref.Namespace) == rt.Namespace)
}

// weightOf is a backendRef's weight, with the Gateway API default of 1.
func weightOf(b gatewayv1.HTTPBackendRef) int {
	if b.Weight == nil {
		return 1
	}
	return int(*b.Weight)
}

func setWeight(b *gatewayv1.HTTPBackendRef, w int) bool {
	if b.Weight != nil && int(*b.Weight) == w {
		return false
	}
	v := int32(w)
	b.Weight = &v
	return true
}
