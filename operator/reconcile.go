package operator

import (
	"context"
	"encoding/json"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/plan"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// rollout is one reconcile's view of a Rollout.
type rollout struct {
	obj    *unstructured.Unstructured
	status Status
	plan   *canary.Plan
	// stale is set when a write failed: obj is not the stored object and
	// nothing more may be written in this reconcile.
	stale bool
	// dropped counts notifications dropped from a full queue.
	dropped int
}

// Reconcile does one step of a rollout, then sends the notifications
// its status holds that are due.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(GVK)
	if err := r.cfg.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetRollout(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ro := &rollout{obj: obj}
	if err := DecodeStatus(obj, &ro.status); err != nil {
		log.Error(err, "unreadable status; starting over")
		ro.status = Status{}
	}
	if obj.GetDeletionTimestamp() != nil {
		return r.finalize(ctx, ro)
	}
	if err := r.ensureFinalizer(ctx, ro); err != nil {
		return requeueOn(err)
	}
	res, err := r.step(ctx, ro)
	log.V(1).Info("reconciled", "phase", ro.status.Phase, "step", ro.status.Step, "weight", ro.status.Weight,
		"requeueAfter", res.RequeueAfter.String())
	if err != nil || ro.stale || ro.plan == nil || len(ro.status.Notifications) == 0 {
		return res, err
	}
	next, err := r.deliver(ctx, ro)
	if err != nil {
		if ctx.Err() != nil {
			return res, nil // stopping: the next reconcile sends them again
		}
		return requeueOn(err)
	}
	if !next.IsZero() {
		d := max(next.Sub(r.cfg.Clock.Now()), time.Millisecond)
		if res.RequeueAfter <= 0 || d < res.RequeueAfter {
			res.RequeueAfter = d
		}
	}
	return res, nil
}

// step runs the engine once on the rollout and acts at most once.
func (r *Reconciler) step(ctx context.Context, ro *rollout) (ctrl.Result, error) {
	obj := ro.obj
	now := r.cfg.Clock.Now()

	p, perr := PlanOf(obj)
	if perr == nil {
		perr = r.admit(p)
	}
	if perr != nil {
		return r.invalid(ctx, ro, perr)
	}
	ro.plan = p

	// A command whose write landed but whose annotation removal did not:
	// remove it, never apply it twice.
	cmdText := obj.GetAnnotations()[AnnotationCommand]
	if cmdText != "" && cmdText == ro.status.LastCommand {
		return r.dropCommand(ctx, ro)
	}

	var st canary.State
	if ro.status.State != nil {
		st = *ro.status.State
	} else {
		st = engine.New(p, now)
	}

	if cmdText != "" {
		return r.command(ctx, ro, st, cmdText, now)
	}
	if ro.status.LastCommand != "" {
		ro.status.LastCommand = "" // its annotation is gone
	}

	if ro.status.State != nil && ro.status.WakeAt != nil && now.Before(ro.status.WakeAt.Time) &&
		ro.status.ObservedGeneration == obj.GetGeneration() && ro.status.LastCommand == "" {
		return ctrl.Result{RequeueAfter: ro.status.WakeAt.Sub(now)}, nil
	}
	if ro.status.State != nil && st.Phase.Terminal() && ro.status.ObservedGeneration == obj.GetGeneration() {
		return ctrl.Result{}, nil
	}

	return r.advance(ctx, ro, st, now)
}

// advance measures what the engine asks for, stores its decision, then
// executes at most one action and stores its result.
func (r *Reconciler) advance(ctx context.Context, ro *rollout, st canary.State, now time.Time) (ctrl.Result, error) {
	p := ro.plan
	exec, err := r.executor(ctx, ro.obj, p)
	if err != nil {
		return r.notReady(ctx, ro, err)
	}
	var obs []canary.Observation
	if qs := engine.Queries(p, st, now); len(qs) > 0 {
		obs = exec.Measure(ctx, qs)
	}
	out := engine.Next(p, st, engine.Input{Now: now, Observations: obs})
	if err := r.write(ctx, ro, out); err != nil {
		return requeueOn(err)
	}
	if len(out.Actions) == 0 {
		return r.after(out), nil
	}
	// The state with the action outstanding is stored: act once.
	res := exec.Do(ctx, out.State, out.Actions[0])
	out = engine.Next(p, out.State, engine.Input{Now: r.cfg.Clock.Now(), Results: []canary.ActionResult{res}})
	if err := r.write(ctx, ro, out); err != nil {
		return requeueOn(err)
	}
	return r.after(out), nil
}

// after is the reconcile result for an engine output.
func (r *Reconciler) after(out engine.Output) ctrl.Result {
	if len(out.Actions) > 0 {
		return ctrl.Result{RequeueAfter: time.Millisecond}
	}
	if out.WakeAt.IsZero() {
		return ctrl.Result{}
	}
	d := out.WakeAt.Sub(r.cfg.Clock.Now())
	if d <= 0 {
		d = time.Millisecond
	}
	return ctrl.Result{RequeueAfter: d}
}

// requeueOn turns a conflict into a requeue and passes other errors on.
func requeueOn(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}
	return ctrl.Result{}, err
}

// PlanOf decodes, validates and defaults a Rollout's plan: its apiVersion,
// kind, name, namespace, labels and spec, strictly, as `canary run` reads
// a plan file.
func PlanOf(obj *unstructured.Unstructured) (*canary.Plan, error) {
	md := map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()}
	if l := obj.GetLabels(); len(l) > 0 {
		md["labels"] = l
	}
	doc := map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "metadata": md, "spec": obj.Object["spec"]}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return plan.Parse(obj.GetName(), b)
}
