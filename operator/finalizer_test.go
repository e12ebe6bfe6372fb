package operator_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/operator"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
)

// TestDeleteMidRolloutRestoresTraffic: a Rollout carries the finalizer;
// deleted at 5% it sends all traffic back to stable through the router,
// records it as an Event, and only then goes away.
func TestDeleteMidRolloutRestoresTraffic(t *testing.T) {
	t.Parallel()
	g := newNotifyRig(t, nil)
	r := g.reconciler(t, nil)
	g.run(t, r, "at 5%", func(s operator.Status) bool { return s.Weight == 5 && s.Phase == string(canary.PhaseProgressing) })
	u, _ := g.f.get(t, g.key.Name)
	if !slices.Contains(u.GetFinalizers(), operator.Finalizer) {
		t.Fatalf("finalizers = %v, want %s", u.GetFinalizers(), operator.Finalizer)
	}
	if err := g.f.env.Client.Delete(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(t.Context(), ctrl.Request{NamespacedName: g.key}); err != nil {
		t.Fatal(err)
	}
	gone := &unstructured.Unstructured{}
	gone.SetGroupVersionKind(operator.GVK)
	if err := g.f.env.Client.Get(t.Context(), g.key, gone); !apierrors.IsNotFound(err) {
		t.Fatalf("after the reconcile the Rollout is still there (%v): finalizers %v", err, gone.GetFinalizers())
	}
	want := []string{"w5 recoveryos=95 recoveryos-canary=5", "w0 recoveryos=100 recoveryos-canary=0"}
	if got := g.f.log(); !slices.Equal(got, want) {
		t.Errorf("route after each call:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if ev := g.rec.with("TrafficRestored"); len(ev) != 1 || !strings.Contains(ev[0], "deleted mid-rollout at step 1 (5%)") {
		t.Errorf("TrafficRestored events: %q", ev)
	}
}
