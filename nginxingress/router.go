// Package nginxingress is a canary.TrafficRouter for the NGINX Ingress
// controller (ingress-nginx): it splits traffic with a canary Ingress, a
// second Ingress for the same hosts and paths as the stable one that
// sends to the canary Service and carries the annotations
// nginx.ingress.kubernetes.io/canary: "true" and canary-weight.
//
// The stable Ingress is only read, never written. The canary Ingress is
// the router's own: it is created with the annotation canary.dev/canary-of
// naming the stable Ingress, and an existing Ingress of that name without
// it is refused rather than taken over. Its spec is derived from the
// stable Ingress on every call (class, TLS, and the rules' paths whose
// backend is the stable Service, with the canary Service instead), so a
// change to the stable Ingress reaches the canary at the next step.
// Annotations other than the router's are left as they are.
//
// Every method is absolute: it computes the canary Ingress from its
// argument alone, writes it only when it differs (retried on conflict)
// and reads it back to confirm. Replaying a call changes nothing.
//
//   - SetWeight(w) sets canary-weight to w (0 keeps the canary Ingress
//     at weight 0: the gradual rollback's drain).
//   - Promote sets canary-weight to 100 and marks the canary Ingress
//     canary.dev/promoted: the canary serves everything until the next
//     release makes the new version the stable one.
//   - RemoveCanary after a promotion leaves the canary Ingress serving;
//     otherwise (a rollback) it deletes the canary Ingress.
//   - SetRoute (routes.go) also sets a step's header or cookie match as
//     the canary-by-header(-value/-pattern) and canary-by-cookie
//     annotations; a canary Ingress cannot mirror.
package nginxingress

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/canary-dev/canary"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The annotations the router sets on the canary Ingress.
const (
	// AnnotationCanary marks an Ingress as ingress-nginx's canary of the
	// Ingress with the same host and path.
	AnnotationCanary = "nginx.ingress.kubernetes.io/canary"
	// AnnotationWeight is the percentage of requests sent to the canary.
	AnnotationWeight = "nginx.ingress.kubernetes.io/canary-weight"
	// AnnotationCanaryOf names the stable Ingress of a canary Ingress the
	// router created; the router never writes an Ingress without it.
	AnnotationCanaryOf = "canary.dev/canary-of"
	// AnnotationPromoted marks a canary Ingress that was promoted; its
	// value is the canary Service.
	AnnotationPromoted = "canary.dev/promoted"
)

// ErrNoStableBackend is returned when no path of the stable Ingress sends
// traffic to the stable Service.
var ErrNoStableBackend = errors.New("no path of the stable ingress has the stable service as its backend")

// ErrNotOurs is returned when the canary Ingress exists but was not
// created by canary.
var ErrNotOurs = errors.New("the canary ingress exists but was not created by canary")

// Config configures a Router.
type Config struct {
	// Client talks to the API server (kube.NewClient). Required.
	Client client.Client
	// Namespace of both Ingresses and Services. Default: "default".
	Namespace string
	// Traffic names the Ingresses and Services (the plan's
	// traffic.nginxIngress). CanaryIngress defaults to Ingress+"-canary".
	Traffic canary.NGINXIngressTraffic
}

// Router keeps a canary Ingress for ingress-nginx.
type Router struct {
	cfg Config
}

var _ canary.TrafficRouter = (*Router)(nil)

// New validates cfg and fills its defaults.
func New(cfg Config) (*Router, error) {
	t := &cfg.Traffic
	if t.CanaryIngress == "" && t.Ingress != "" {
		t.CanaryIngress = t.Ingress + "-canary"
	}
	switch {
	case cfg.Client == nil:
		return nil, errors.New("nginxIngress router: no kubernetes client")
	case t.Ingress == "" || t.StableService == "" || t.CanaryService == "":
		return nil, errors.New("nginxIngress router: name the ingress, the stableService and the canaryService")
	case t.StableService == t.CanaryService:
		return nil, fmt.Errorf("nginxIngress router: stable and canary are both service %q", t.StableService)
	case t.CanaryIngress == t.Ingress:
		return nil, fmt.Errorf("nginxIngress router: the canary ingress is the stable one (%q)", t.Ingress)
	case t.Port < 0 || t.Port > 65535:
		return nil, fmt.Errorf("nginxIngress router: %d is not a port", t.Port)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	return &Router{cfg: cfg}, nil
}

// state is what one call wants the canary Ingress to be.
type state struct {
	weight   int
	remove   bool // delete the canary Ingress
	promoted bool
	// matches are the requests sent to the canary whatever the weight
	// (SetRoute): as canary-by-header(-value/-pattern) and
	// canary-by-cookie annotations.
	matches []canary.Match
}

// SetWeight sends weight percent of the stable Ingress's traffic to the
// canary Service.
func (r *Router) SetWeight(ctx context.Context, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("set weight %d%%: not a percentage", weight)
	}
	if err := r.apply(ctx, func(*networkingv1.Ingress) state { return state{weight: weight} }); err != nil {
		return fmt.Errorf("set weight %d%% on canary ingress %s: %w", weight, r.cfg.Traffic.CanaryIngress, err)
	}
	return nil
}

// Promote sends all traffic to the canary Service and marks the canary
// Ingress promoted.
func (r *Router) Promote(ctx context.Context) error {
	if err := r.apply(ctx, func(*networkingv1.Ingress) state { return state{weight: 100, promoted: true} }); err != nil {
		return fmt.Errorf("promote on canary ingress %s: %w", r.cfg.Traffic.CanaryIngress, err)
	}
	return nil
}

// RemoveCanary deletes the canary Ingress after a rollback, and keeps it
// serving everything after a promotion.
func (r *Router) RemoveCanary(ctx context.Context) error {
	err := r.apply(ctx, func(cur *networkingv1.Ingress) state {
		if cur != nil && cur.Annotations[AnnotationPromoted] != "" {
			return state{weight: 100, promoted: true}
		}
		return state{remove: true}
	})
	if err != nil {
		return fmt.Errorf("remove canary ingress %s: %w", r.cfg.Traffic.CanaryIngress, err)
	}
	return nil
}

// Weight returns the canary Ingress's canary-weight, or -1 when there is
// no canary Ingress.
func (r *Router) Weight(ctx context.Context) (int, error) {
	cur, err := r.canary(ctx)
	if err != nil || cur == nil {
		return -1, err
	}
	return strconv.Atoi(cur.Annotations[AnnotationWeight])
}

// apply brings the canary Ingress to the state want computes from the
// current one (nil when there is none), then reads it back and checks it.
func (r *Router) apply(ctx context.Context, want func(*networkingv1.Ingress) state) error {
	var s state
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := r.canary(ctx)
		if err != nil {
			return err
		}
		s = want(cur)
		if s.remove {
			return r.delete(ctx, cur)
		}
		stable, err := r.stable(ctx)
		if err != nil {
			return err
		}
		next, err := r.desired(stable, cur, s)
		if err != nil || next == nil {
			return err
		}
		if cur == nil {
			return r.cfg.Client.Create(ctx, next)
		}
		return r.cfg.Client.Update(ctx, next)
	})
	if err != nil {
		return err
	}
	cur, err := r.canary(ctx)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	return r.verify(cur, s)
}

// delete removes the canary Ingress, if there is one.
func (r *Router) delete(ctx context.Context, cur *networkingv1.Ingress) error {
	if cur == nil {
		return nil
	}
	err := r.cfg.Client.Delete(ctx, cur, client.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// stable reads the stable Ingress.
func (r *Router) stable(ctx context.Context) (*networkingv1.Ingress, error) {
	var in networkingv1.Ingress
	key := types.NamespacedName{Namespace: r.cfg.Namespace, Name: r.cfg.Traffic.Ingress}
	if err := r.cfg.Client.Get(ctx, key, &in); err != nil {
		return nil, fmt.Errorf("get the stable ingress %s/%s: %w", key.Namespace, key.Name, err)
	}
	return &in, nil
}

// canary reads the canary Ingress: nil when there is none, ErrNotOurs
// when it is not the router's.
func (r *Router) canary(ctx context.Context) (*networkingv1.Ingress, error) {
	var in networkingv1.Ingress
	key := types.NamespacedName{Namespace: r.cfg.Namespace, Name: r.cfg.Traffic.CanaryIngress}
	err := r.cfg.Client.Get(ctx, key, &in)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get ingress %s/%s: %w", key.Namespace, key.Name, err)
	case in.Annotations[AnnotationCanaryOf] != r.cfg.Traffic.Ingress:
		return nil, fmt.Errorf("%w (%s/%s has no annotation %s=%s): rename traffic.nginxIngress.canaryIngress or delete that ingress",
			ErrNotOurs, key.Namespace, key.Name, AnnotationCanaryOf, r.cfg.Traffic.Ingress)
	}
	return &in, nil
}

// desired returns the canary Ingress in state s, derived from the stable
// Ingress and the current canary (nil: create it), or nil when cur is
// already in that state.
func (r *Router) desired(stable, cur *networkingv1.Ingress, s state) (*networkingv1.Ingress, error) {
	spec, err := r.canarySpec(stable)
	if err != nil {
		return nil, err
	}
	next := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.Namespace, Name: r.cfg.Traffic.CanaryIngress,
		Labels: stable.Labels}}
	if cur != nil {
		next = cur.DeepCopy()
	}
	before := next.DeepCopy()
	next.Spec = spec
	ann := map[string]string{AnnotationCanaryOf: r.cfg.Traffic.Ingress, AnnotationCanary: "true", AnnotationWeight: strconv.Itoa(s.weight)}
	for k, v := range ann {
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, k, v)
	}
	for _, k := range matchAnnotations {
		delete(next.Annotations, k)
	}
	for k, v := range matchAnnotationsOf(s.matches) {
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, k, v)
	}
	if s.promoted {
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, AnnotationPromoted, r.cfg.Traffic.CanaryService)
	} else {
		delete(next.Annotations, AnnotationPromoted)
	}
	if cur != nil && equality.Semantic.DeepEqual(before, next) {
		return nil, nil
	}
	return next, nil
}

// canarySpec is the stable Ingress's spec with only the backends to the
// stable Service, sent to the canary Service instead.
func (r *Router) canarySpec(stable *networkingv1.Ingress) (networkingv1.IngressSpec, error) {
	src := stable.Spec.DeepCopy()
	spec := networkingv1.IngressSpec{IngressClassName: src.IngressClassName, TLS: src.TLS}
	if b := src.DefaultBackend; b != nil && r.isStable(*b) {
		spec.DefaultBackend = r.canaryBackend(*b)
	}
	for _, rule := range src.Rules {
		if rule.HTTP == nil {
			continue
		}
		var paths []networkingv1.HTTPIngressPath
		for _, p := range rule.HTTP.Paths {
			if r.isStable(p.Backend) {
				p.Backend = *r.canaryBackend(p.Backend)
				paths = append(paths, p)
			}
		}
		if len(paths) > 0 {
			spec.Rules = append(spec.Rules, networkingv1.IngressRule{Host: rule.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}})
		}
	}
	if spec.DefaultBackend == nil && len(spec.Rules) == 0 {
		return spec, fmt.Errorf("%w %s (ingress %s)", ErrNoStableBackend, r.cfg.Traffic.StableService, stable.Name)
	}
	return spec, nil
}

func (r *Router) isStable(b networkingv1.IngressBackend) bool {
	return b.Service != nil && b.Service.Name == r.cfg.Traffic.StableService
}

// canaryBackend is the stable backend b sent to the canary Service (on
// the configured port, or b's).
func (r *Router) canaryBackend(b networkingv1.IngressBackend) *networkingv1.IngressBackend {
	svc := *b.Service
	svc.Name = r.cfg.Traffic.CanaryService
	if p := r.cfg.Traffic.Port; p > 0 {
		svc.Port = networkingv1.ServiceBackendPort{Number: int32(p)}
	}
	return &networkingv1.IngressBackend{Service: &svc}
}

// verify checks that the canary Ingress read back (nil: none) is in state
// s.
func (r *Router) verify(cur *networkingv1.Ingress, s state) error {
	switch {
	case s.remove && cur != nil:
		return errors.New("the canary ingress is still there after the delete")
	case s.remove:
		return nil
	case cur == nil:
		return errors.New("no canary ingress after the update")
	}
	a := cur.Annotations
	if a[AnnotationCanary] != "true" || a[AnnotationWeight] != strconv.Itoa(s.weight) {
		return fmt.Errorf("annotations %s=%q, %s=%q after the update, want \"true\" and \"%d\"",
			AnnotationCanary, a[AnnotationCanary], AnnotationWeight, a[AnnotationWeight], s.weight)
	}
	if has := a[AnnotationPromoted] != ""; has != s.promoted {
		return fmt.Errorf("annotation %s present=%t after the update, want %t", AnnotationPromoted, has, s.promoted)
	}
	want := matchAnnotationsOf(s.matches)
	for _, k := range matchAnnotations {
		if a[k] != want[k] {
			return fmt.Errorf("annotation %s is %q after the update, want %q", k, a[k], want[k])
		}
	}
	return nil
}
