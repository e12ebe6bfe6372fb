package kube

import (
	"context"
	"fmt"
	"maps"

	"github.com/canary-dev/canary"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationPromoted marks the object of a traffic router whose canary was
// promoted; its value names the canary (TrafficObject.Promoted).
const AnnotationPromoted = "canary.dev/promoted"

// Want is what one call of a traffic router wants its object to be.
type Want struct {
	// Weight is the canary's share of requests, percent.
	Weight int
	// Remove takes the canary out (stable 100): a rollback's end.
	Remove bool
	// Promoted: the object carries AnnotationPromoted.
	Promoted bool
	// Matches are the requests sent to the canary whatever the weight, and
	// Mirror the percentage of GET and HEAD requests copied to it
	// (canary.Route).
	Matches []canary.Match
	Mirror  int
}

// String shows what w routes, for messages: "10% + header X-Beta=1".
func (w Want) String() string {
	return canary.Route{Weight: w.Weight, Matches: w.Matches, MirrorPercent: w.Mirror}.String()
}

// WeightSplit is one place of a router's object where traffic is split
// between the stable and the canary: an HTTPRoute rule, a VirtualService
// HTTP route, a canary Ingress.
type WeightSplit struct {
	// Name says which in messages: `rule 1`, `route "main"`.
	Name string
	// Stable and Canary are the two weights; Canary is -1 when the split
	// has no canary backend.
	Stable, Canary int
}

// TrafficObject is the part every Kubernetes traffic router shares: it
// brings one object (T; P is *T) to the state a call wants, computed from
// the call's arguments and the object alone, writes it only when it
// differs (update with optimistic concurrency, retried on conflict; create
// and delete for an object the router owns), reads it back and checks it
// (each split's weights, the promotion mark, and that computing the state
// again from what was read back changes nothing). A replayed call writes
// nothing. What is the router's own is in the function fields: how a Want
// is written into its object type and where its splits are.
type TrafficObject[T any, P interface {
	*T
	client.Object
}] struct {
	// Client talks to the API server. Required.
	Client client.Client
	// Key names the object.
	Key types.NamespacedName
	// Kind names the object's type in messages ("httproute").
	Kind string
	// Desc names the object in messages ("route recoveryos").
	Desc string
	// Backend names a split's canary side in messages ("backendRef").
	Backend string
	// Promoted is AnnotationPromoted's value on a promoted object.
	Promoted string
	// Owned: the router creates the object (Build gets nil when it does not
	// exist) and deletes it for a Want with Remove.
	Owned bool
	// Check, when set, refuses an existing object the router may not
	// write.
	Check func(P) error
	// Build changes obj, the current object (nil: absent and Owned), to w
	// and returns the object to write (obj or a new one), without the
	// promotion mark: TrafficObject sets it.
	Build func(ctx context.Context, obj P, w Want) (P, error)
	// Equal reports whether a and b have the same spec.
	Equal func(a, b P) bool
	// Splits lists the object's splits; an error when it has none.
	Splits func(P) ([]WeightSplit, error)
	// Verify, when set, checks more of the object read back.
	Verify func(P, Want) error
}

// SetWeight routes weight percent to the canary.
func (o *TrafficObject[T, P]) SetWeight(ctx context.Context, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("set weight %d%%: not a percentage", weight)
	}
	if err := o.apply(ctx, func(P) Want { return Want{Weight: weight} }); err != nil {
		return fmt.Errorf("set weight %d%% on %s: %w", weight, o.Desc, err)
	}
	return nil
}

// SetRoute routes rt's weight to the canary, and its matches and mirror
// as the router writes them (Build).
func (o *TrafficObject[T, P]) SetRoute(ctx context.Context, rt canary.Route) error {
	if rt.Weight < 0 || rt.Weight > 100 || rt.MirrorPercent < 0 || rt.MirrorPercent > 100 {
		return fmt.Errorf("set route %s: not a percentage", rt)
	}
	w := Want{Weight: rt.Weight, Matches: rt.Matches, Mirror: rt.MirrorPercent}
	if err := o.apply(ctx, func(P) Want { return w }); err != nil {
		return fmt.Errorf("set route %s on %s: %w", rt, o.Desc, err)
	}
	return nil
}

// Promote routes everything to the canary and marks the object promoted.
func (o *TrafficObject[T, P]) Promote(ctx context.Context) error {
	if err := o.apply(ctx, func(P) Want { return Want{Weight: 100, Promoted: true} }); err != nil {
		return fmt.Errorf("promote on %s: %w", o.Desc, err)
	}
	return nil
}

// RemoveCanary takes the canary out after a rollback, and keeps it serving
// everything after a promotion (the object is marked promoted).
func (o *TrafficObject[T, P]) RemoveCanary(ctx context.Context) error {
	err := o.apply(ctx, func(cur P) Want {
		if cur != nil && cur.GetAnnotations()[AnnotationPromoted] != "" {
			return Want{Weight: 100, Promoted: true}
		}
		return Want{Remove: true}
	})
	if err != nil {
		return fmt.Errorf("remove canary from %s: %w", o.Desc, err)
	}
	return nil
}

// Weights returns the first split's weights.
func (o *TrafficObject[T, P]) Weights(ctx context.Context) (stable, canaryWeight int, err error) {
	obj, err := o.Get(ctx)
	if err != nil {
		return 0, 0, err
	}
	if obj == nil {
		return 0, -1, nil
	}
	splits, err := o.Splits(obj)
	if err != nil {
		return 0, 0, err
	}
	return splits[0].Stable, splits[0].Canary, nil
}

// Get reads the object: nil when it does not exist and is Owned.
func (o *TrafficObject[T, P]) Get(ctx context.Context) (P, error) {
	obj := P(new(T))
	err := o.Client.Get(ctx, o.Key, obj)
	switch {
	case o.Owned && apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get %s %s: %w", o.Kind, o.Key, err)
	case o.Check != nil:
		if err := o.Check(obj); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// apply brings the object to the state want computes from the current one
// (nil when Owned and absent), then reads it back and checks it.
func (o *TrafficObject[T, P]) apply(ctx context.Context, want func(P) Want) error {
	var w Want
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := o.Get(ctx)
		if err != nil {
			return err
		}
		w = want(cur)
		if w.Remove && o.Owned {
			return o.delete(ctx, cur)
		}
		next, changed, err := o.build(ctx, cur, w)
		switch {
		case err != nil || !changed:
			return err
		case cur == nil:
			return o.Client.Create(ctx, next)
		}
		return o.Client.Update(ctx, next)
	})
	if err != nil {
		return err
	}
	cur, err := o.Get(ctx)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	return o.verify(ctx, cur, w)
}

// build returns cur (left unchanged) brought to w, and whether that
// differs from cur (always when cur is nil).
func (o *TrafficObject[T, P]) build(ctx context.Context, cur P, w Want) (P, bool, error) {
	var before P
	if cur != nil {
		before = cur.DeepCopyObject().(P)
		cur = cur.DeepCopyObject().(P)
	}
	next, err := o.Build(ctx, cur, w)
	if err != nil {
		return nil, false, err
	}
	a := next.GetAnnotations()
	switch has := a[AnnotationPromoted] != ""; {
	case w.Promoted && !has:
		if a == nil {
			a = map[string]string{}
		}
		a[AnnotationPromoted] = o.Promoted
		next.SetAnnotations(a)
	case !w.Promoted && has:
		delete(a, AnnotationPromoted)
	}
	changed := before == nil || !o.Equal(before, next) || !maps.Equal(before.GetAnnotations(), next.GetAnnotations())
	return next, changed, nil
}

// delete removes the Owned object, if there is one.
func (o *TrafficObject[T, P]) delete(ctx context.Context, cur P) error {
	if cur == nil {
		return nil
	}
	uid, rv := cur.GetUID(), cur.GetResourceVersion()
	err := o.Client.Delete(ctx, cur, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// verify checks that the object read back (nil: none) is in state w.
func (o *TrafficObject[T, P]) verify(ctx context.Context, cur P, w Want) error {
	switch {
	case w.Remove && o.Owned && cur != nil:
		return fmt.Errorf("the %s is still there after the delete", o.Kind)
	case w.Remove && o.Owned:
		return nil
	case cur == nil:
		return fmt.Errorf("no %s after the update", o.Kind)
	}
	splits, err := o.Splits(cur)
	if err != nil {
		return err
	}
	for _, s := range splits {
		if err := s.check(w, o.Backend); err != nil {
			return err
		}
	}
	if has := cur.GetAnnotations()[AnnotationPromoted] != ""; has != w.Promoted {
		return fmt.Errorf("annotation %s present=%t after the update, want %t", AnnotationPromoted, has, w.Promoted)
	}
	if o.Verify != nil {
		if err := o.Verify(cur, w); err != nil {
			return err
		}
	}
	if _, changed, err := o.build(ctx, cur, w); err != nil {
		return err
	} else if changed {
		return fmt.Errorf("the %s read back differs from the one written for %s", o.Kind, w)
	}
	return nil
}

// check fails when s is not split as w wants.
func (s WeightSplit) check(w Want, backend string) error {
	switch {
	case s.Stable != 100-w.Weight:
		return fmt.Errorf("%s: stable weight is %d after the update, want %d", s.Name, s.Stable, 100-w.Weight)
	case w.Remove && s.Canary >= 0:
		return fmt.Errorf("%s: the canary %s is still there after the update", s.Name, backend)
	case !w.Remove && s.Canary < 0:
		return fmt.Errorf("%s: no canary %s after the update", s.Name, backend)
	case !w.Remove && s.Canary != w.Weight:
		return fmt.Errorf("%s: canary weight is %d after the update, want %d", s.Name, s.Canary, w.Weight)
	}
	return nil
}
