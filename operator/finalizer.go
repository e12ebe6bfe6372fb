package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/executor"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Finalizer holds a deleted Rollout until the operator has sent its
// traffic back to stable (weight 0 through the router) when it was
// deleted mid-rollout. Remove it by hand to delete a Rollout whose router
// cannot be reached, leaving the route as it is.
const Finalizer = "canary.dev/restore-traffic"

// ensureFinalizer adds the Finalizer to a live Rollout (fenced by its
// resourceVersion).
func (r *Reconciler) ensureFinalizer(ctx context.Context, ro *rollout) error {
	if controllerutil.ContainsFinalizer(ro.obj, Finalizer) {
		return nil
	}
	controllerutil.AddFinalizer(ro.obj, Finalizer)
	if err := r.cfg.Client.Update(ctx, ro.obj); err != nil {
		ro.stale = true
		return err
	}
	return nil
}

// finalize handles a deleted Rollout: mid-rollout (not finished, canary
// weight above 0) it sends all traffic back to stable and records it,
// then it lets the deletion finish by removing the Finalizer.
func (r *Reconciler) finalize(ctx context.Context, ro *rollout) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ro.obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	st := ro.status.State
	if st != nil && !st.Phase.Terminal() && st.Weight > 0 {
		p, err := PlanOf(ro.obj)
		if err == nil {
			var exec *executor.Executor
			if exec, err = r.executor(ctx, ro.obj, p); err == nil {
				err = exec.SetRoute(ctx, canary.Route{})
			}
		}
		if err != nil {
			msg := fmt.Sprintf("deleted mid-rollout at %d%%: could not send traffic back to stable, retrying (remove the finalizer %s to delete it anyway, leaving the route as it is): %v",
				st.Weight, Finalizer, err)
			r.event(ro.obj, corev1.EventTypeWarning, "RestoreTrafficFailed", msg)
			return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
		}
		msg := fmt.Sprintf("deleted mid-rollout at step %d (%d%%): all traffic sent back to stable (canary weight 0)", st.Step+1, st.Weight)
		ro.status.Weight = 0
		ro.status.Message = msg
		if err := r.writeStatus(ctx, ro); err != nil {
			return requeueOn(err)
		}
		r.event(ro.obj, corev1.EventTypeNormal, "TrafficRestored", msg)
	}
	controllerutil.RemoveFinalizer(ro.obj, Finalizer)
	if err := r.cfg.Client.Update(ctx, ro.obj); err != nil {
		ro.stale = true
		return requeueOn(err)
	}
	r.forgetRollout(ro.obj.GetNamespace(), ro.obj.GetName())
	return ctrl.Result{}, nil
}
