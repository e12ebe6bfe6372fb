package kube

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/canary-dev/canary"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationTotalReplicas, on the canary Deployment, records the total
// number of pods a ReplicaRouter shares out between the two Deployments,
// so a restarted runner keeps using the total it started with.
const AnnotationTotalReplicas = "canary.dev/total-replicas"

// ErrNotReady is wrapped by ReplicaRouter errors when a Deployment did not
// become ready in time; the engine retries the action.
var ErrNotReady = errors.New("deployment not ready")

// ReplicaConfig configures a ReplicaRouter.
type ReplicaConfig struct {
	// Client talks to the API server (NewClient). Required.
	Client client.Client
	// Namespace of both Deployments. Default: "default".
	Namespace string
	// Stable and Canary name the two Deployments. Their pods must be
	// selected by the one Service clients use, so that each pod gets about
	// the same share of requests. Required.
	Stable, Canary string
	// Replicas is the total number of pods shared out. Default: the sum of
	// both Deployments' spec.replicas at the first SetWeight (usually the
	// stable's, with the canary at 0), recorded on the canary Deployment
	// (AnnotationTotalReplicas).
	Replicas int32
	// ReadyTimeout is how long SetWeight and Promote wait for new pods to
	// be ready before scaling the other Deployment down; when it runs out
	// the call fails with ErrNotReady and the engine retries it. Default:
	// 20s. Keep it below the runner's call timeout.
	ReadyTimeout time.Duration
	// PollInterval is how often readiness is checked. Default: 250ms.
	PollInterval time.Duration
}

// ReplicaRouter approximates a canary weight without a gateway or proxy:
// the canary Deployment gets the share of Replicas nearest the weight (at
// least one pod for any weight above 0) and the stable the rest (at least
// one pod below 100), so with a Service selecting both, the canary serves
// about canary pods / all pods of the requests. With 4 pods, weights 5, 10,
// 25 and 50 give 1, 1, 1 and 2 canary pods: 25%, 25%, 25% and 50% of
// requests. It is approximate by nature; use Gateway API or the built-in
// proxy for exact weights.
//
// Growing the canary scales it up first and scales the stable down only
// once the new canary pods are ready. Shrinking it (a rollback) scales the
// stable up and then removes canary pods at once, without waiting: a
// defective canary is worse than a short dip in capacity.
//
// Promote copies the canary's pod spec (images, env, volumes…) into the
// stable Deployment's template, keeping the stable's labels and selector,
// scales the stable to the total and waits for it to be ready; RemoveCanary
// then scales the canary to 0 (the Deployment itself stays: it belongs to
// whoever created it).
type ReplicaRouter struct {
	cfg ReplicaConfig
}

var _ canary.TrafficRouter = (*ReplicaRouter)(nil)

// NewReplicaRouter validates cfg and fills its defaults.
func NewReplicaRouter(cfg ReplicaConfig) (*ReplicaRouter, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("replica router: no kubernetes client")
	case cfg.Stable == "" || cfg.Canary == "":
		return nil, errors.New("replica router: name the stable and the canary Deployments")
	case cfg.Stable == cfg.Canary:
		return nil, fmt.Errorf("replica router: stable and canary are both Deployment %q", cfg.Stable)
	case cfg.Replicas < 0:
		return nil, fmt.Errorf("replica router: replicas %d is negative", cfg.Replicas)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 20 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	return &ReplicaRouter{cfg: cfg}, nil
}

// Split returns how many of total pods the canary and the stable get at
// weight percent: the canary's share is rounded to the nearest pod, at
// least one when weight > 0, and the stable keeps at least one when
// weight < 100 (so with total 1 both run one pod).
func Split(total int32, weight int) (canaryPods, stablePods int32) {
	switch {
	case weight <= 0:
		return 0, total
	case weight >= 100:
		return total, 0
	}
	c := int32(math.Round(float64(total) * float64(weight) / 100))
	c = max(c, 1)
	s := max(total-c, 1)
	if c+s > total && total >= 2 {
		c = total - 1
	}
	return c, s
}

// SetWeight scales the two Deployments to the split nearest weight.
func (r *ReplicaRouter) SetWeight(ctx context.Context, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("set weight %d%%: not a percentage", weight)
	}
	total, err := r.total(ctx)
	if err != nil {
		return fmt.Errorf("set weight %d%%: %w", weight, err)
	}
	c, s := Split(total, weight)
	if err := r.scalePair(ctx, c, s); err != nil {
		return fmt.Errorf("set weight %d%% (%d canary, %d stable pods): %w", weight, c, s, err)
	}
	return nil
}

// scalePair scales the canary to c and the stable to s. When the stable
// shrinks, the canary is scaled and ready first, so capacity holds; when
// it does not (a rollback), the canary loses its pods at once.
func (r *ReplicaRouter) scalePair(ctx context.Context, c, s int32) error {
	st, err := r.get(ctx, r.cfg.Stable)
	if err != nil {
		return err
	}
	if s < replicas(st) {
		if err := r.scale(ctx, r.cfg.Canary, c); err != nil {
			return err
		}
		if err := r.waitReady(ctx, r.cfg.Canary, c); err != nil {
			return err
		}
		return r.scale(ctx, r.cfg.Stable, s)
	}
	if err := r.scale(ctx, r.cfg.Stable, s); err != nil {
		return err
	}
	return r.scale(ctx, r.cfg.Canary, c)
}

// Promote makes the stable Deployment run the canary's pod spec on all
// the pods, and waits until it is ready.
func (r *ReplicaRouter) Promote(ctx context.Context) error {
	total, err := r.total(ctx)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	can, err := r.get(ctx, r.cfg.Canary)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	key := types.NamespacedName{Namespace: r.cfg.Namespace, Name: r.cfg.Stable}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var st appsv1.Deployment
		if err := r.cfg.Client.Get(ctx, key, &st); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(st.Spec.Template.Spec, can.Spec.Template.Spec) && replicas(&st) == total {
			return nil
		}
		st.Spec.Template.Spec = *can.Spec.Template.Spec.DeepCopy()
		st.Spec.Replicas = &total
		return r.cfg.Client.Update(ctx, &st)
	})
	if err != nil {
		return fmt.Errorf("promote: copy the pod spec of deployment %s to %s: %w", r.cfg.Canary, r.cfg.Stable, err)
	}
	if err := r.waitReady(ctx, r.cfg.Stable, total); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	st, err := r.get(ctx, r.cfg.Stable)
	if err != nil {
		return fmt.Errorf("promote: read back: %w", err)
	}
	if !equality.Semantic.DeepEqual(st.Spec.Template.Spec, can.Spec.Template.Spec) || replicas(st) != total {
		return fmt.Errorf("promote: deployment %s does not run the canary's pod spec on %d pods after the update", r.cfg.Stable, total)
	}
	return nil
}

// RemoveCanary gives the stable all the pods and scales the canary to 0.
// After a promotion the stable already runs the new version; after a
// rollback it runs the old one.
func (r *ReplicaRouter) RemoveCanary(ctx context.Context) error {
	total, err := r.total(ctx)
	if err != nil {
		return fmt.Errorf("remove canary: %w", err)
	}
	if err := r.scalePair(ctx, 0, total); err != nil {
		return fmt.Errorf("remove canary: %w", err)
	}
	return nil
}

// total returns the number of pods to share out, recording it on the
// canary Deployment the first time.
func (r *ReplicaRouter) total(ctx context.Context) (int32, error) {
	if r.cfg.Replicas > 0 {
		return r.cfg.Replicas, nil
	}
	can, err := r.get(ctx, r.cfg.Canary)
	if err != nil {
		return 0, err
	}
	if v, ok := can.Annotations[AnnotationTotalReplicas]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("deployment %s: annotation %s=%q is not a positive number", r.cfg.Canary, AnnotationTotalReplicas, v)
		}
		return int32(n), nil
	}
	st, err := r.get(ctx, r.cfg.Stable)
	if err != nil {
		return 0, err
	}
	total := replicas(st) + replicas(can)
	if total < 1 {
		return 0, fmt.Errorf("deployments %s and %s have no replicas to share out", r.cfg.Stable, r.cfg.Canary)
	}
	patch := client.MergeFrom(can.DeepCopy())
	if can.Annotations == nil {
		can.Annotations = map[string]string{}
	}
	can.Annotations[AnnotationTotalReplicas] = strconv.Itoa(int(total))
	if err := r.cfg.Client.Patch(ctx, can, patch); err != nil {
		return 0, fmt.Errorf("record the total of %d replicas on deployment %s: %w", total, r.cfg.Canary, err)
	}
	return total, nil
}

func (r *ReplicaRouter) get(ctx context.Context, name string) (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	if err := r.cfg.Client.Get(ctx, types.NamespacedName{Namespace: r.cfg.Namespace, Name: name}, &d); err != nil {
		return nil, fmt.Errorf("get deployment %s/%s: %w", r.cfg.Namespace, name, err)
	}
	return &d, nil
}

// scale sets a Deployment's spec.replicas to n (when it differs) and reads
// it back.
func (r *ReplicaRouter) scale(ctx context.Context, name string, n int32) error {
	d, err := r.get(ctx, name)
	if err != nil {
		return err
	}
	if replicas(d) != n {
		patch := client.MergeFrom(d.DeepCopy())
		d.Spec.Replicas = &n
		if err := r.cfg.Client.Patch(ctx, d, patch); err != nil {
			return fmt.Errorf("scale deployment %s to %d: %w", name, n, err)
		}
	}
	d, err = r.get(ctx, name)
	if err != nil {
		return err
	}
	if got := replicas(d); got != n {
		return fmt.Errorf("deployment %s has %d replicas after scaling to %d", name, got, n)
	}
	return nil
}

// waitReady waits until Deployment name has observed its spec and has at
// least n updated, ready replicas.
func (r *ReplicaRouter) waitReady(ctx context.Context, name string, n int32) error {
	deadline := time.Now().Add(r.cfg.ReadyTimeout)
	for {
		d, err := r.get(ctx, name)
		if err != nil {
			return err
		}
		s := d.Status
		if s.ObservedGeneration >= d.Generation && s.ReadyReplicas >= n && s.UpdatedReplicas >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: deployment %s has %d of %d replicas ready and updated after %s",
				ErrNotReady, name, min(s.ReadyReplicas, s.UpdatedReplicas), n, r.cfg.ReadyTimeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: deployment %s: %d of %d replicas ready: %w", ErrNotReady, name, s.ReadyReplicas, n, ctx.Err())
		case <-time.After(r.cfg.PollInterval):
		}
	}
}

// replicas is spec.replicas with Kubernetes' default of 1.
func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}
