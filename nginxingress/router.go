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
// and reads it back to confirm. Replaying a call changes nothing. That
// cycle is kube.TrafficObject's; this package says how a call's state is
// written into the canary Ingress (build) and read from it (splits,
// verify).
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
	"github.com/canary-dev/canary/kube"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
	AnnotationPromoted = kube.AnnotationPromoted
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
	obj *kube.TrafficObject[networkingv1.Ingress, *networkingv1.Ingress]
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
	r := &Router{cfg: cfg}
	r.obj = &kube.TrafficObject[networkingv1.Ingress, *networkingv1.Ingress]{Client: cfg.Client,
		Key:  types.NamespacedName{Namespace: cfg.Namespace, Name: t.CanaryIngress},
		Kind: "ingress", Desc: "canary ingress " + t.CanaryIngress, Backend: "ingress", Promoted: t.CanaryService,
		Owned: true, Check: r.ours, Build: r.build, Splits: splits, Verify: verify,
		Equal: func(a, b *networkingv1.Ingress) bool { return equality.Semantic.DeepEqual(a.Spec, b.Spec) }}
	return r, nil
}

// SetWeight sends weight percent of the stable Ingress's traffic to the
// canary Service.
func (r *Router) SetWeight(ctx context.Context, weight int) error {
	return r.obj.SetWeight(ctx, weight)
}

// Promote sends all traffic to the canary Service and marks the canary
// Ingress promoted.
func (r *Router) Promote(ctx context.Context) error { return r.obj.Promote(ctx) }

// RemoveCanary deletes the canary Ingress after a rollback, and keeps it
// serving everything after a promotion.
func (r *Router) RemoveCanary(ctx context.Context) error { return r.obj.RemoveCanary(ctx) }

// Weight returns the canary Ingress's canary-weight, or -1 when there is
// no canary Ingress.
func (r *Router) Weight(ctx context.Context) (int, error) {
	_, w, err := r.obj.Weights(ctx)
	return w, err
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

// ours fails with ErrNotOurs for an Ingress of the canary's name that
// the router did not create.
func (r *Router) ours(in *networkingv1.Ingress) error {
	if in.Annotations[AnnotationCanaryOf] != r.cfg.Traffic.Ingress {
		return fmt.Errorf("%w (%s/%s has no annotation %s=%s): rename traffic.nginxIngress.canaryIngress or delete that ingress",
			ErrNotOurs, in.Namespace, in.Name, AnnotationCanaryOf, r.cfg.Traffic.Ingress)
	}
	return nil
}

// build returns the canary Ingress cur (nil: create it) in state w,
// derived from the stable Ingress.
func (r *Router) build(ctx context.Context, cur *networkingv1.Ingress, w kube.Want) (*networkingv1.Ingress, error) {
	stable, err := r.stable(ctx)
	if err != nil {
		return nil, err
	}
	spec, err := r.canarySpec(stable)
	if err != nil {
		return nil, err
	}
	next := cur
	if next == nil {
		next = &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.Namespace, Name: r.cfg.Traffic.CanaryIngress,
			Labels: stable.Labels}}
	}
	next.Spec = spec
	ann := map[string]string{AnnotationCanaryOf: r.cfg.Traffic.Ingress, AnnotationCanary: "true", AnnotationWeight: strconv.Itoa(w.Weight)}
	for k, v := range ann {
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, k, v)
	}
	for _, k := range matchAnnotations {
		delete(next.Annotations, k)
	}
	for k, v := range matchAnnotationsOf(w.Matches) {
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, k, v)
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

// splits is the canary Ingress's one split: canary-weight.
func splits(in *networkingv1.Ingress) ([]kube.WeightSplit, error) {
	w, err := strconv.Atoi(in.Annotations[AnnotationWeight])
	if err != nil {
		return nil, fmt.Errorf("annotation %s: %w", AnnotationWeight, err)
	}
	return []kube.WeightSplit{{Name: "canary ingress " + in.Name, Stable: 100 - w, Canary: w}}, nil
}

// verify checks the canary Ingress's annotations read back.
func verify(in *networkingv1.Ingress, w kube.Want) error {
	a := in.Annotations
	if a[AnnotationCanary] != "true" {
		return fmt.Errorf("annotation %s=%q after the update, want \"true\"", AnnotationCanary, a[AnnotationCanary])
	}
	want := matchAnnotationsOf(w.Matches)
	for _, k := range matchAnnotations {
		if a[k] != want[k] {
			return fmt.Errorf("annotation %s is %q after the update, want %q", k, a[k], want[k])
		}
	}
	return nil
}
