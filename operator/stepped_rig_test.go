package operator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// steppedRig is one Rollout in a test namespace driven through Reconcile
// on a stepped clock: what helmRig and replicasRig share.
type steppedRig struct {
	env   *kubetest.Env
	ns    string
	clock *canarytest.Clock
	rec   *recorder
	r     *operator.Reconciler
	key   types.NamespacedName
}

// newSteppedRig is a rig in a new namespace of env, its clock at
// 2030-01-01 12:00 UTC; r and key are the caller's to set.
func newSteppedRig(t *testing.T, env *kubetest.Env) steppedRig {
	t.Helper()
	return steppedRig{env: env, ns: env.Namespace(t), clock: canarytest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)), rec: &recorder{}}
}

// impersonate returns a copy of env's config acting as user and a client
// on it.
func impersonate(t *testing.T, env *kubetest.Env, user string) (*rest.Config, client.Client) {
	t.Helper()
	rc := rest.CopyConfig(env.Config)
	rc.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := kube.NewClient(rc)
	if err != nil {
		t.Fatal(err)
	}
	return rc, c
}

func (g *steppedRig) status(t *testing.T) operator.Status {
	t.Helper()
	f := &fixture{env: g.env, ns: g.ns}
	_, s := f.get(t, g.key.Name)
	return s
}

// run reconciles, moving the clock to each requested wake-up, until the
// rollout is finished.
func (g *steppedRig) run(t *testing.T) operator.Status {
	t.Helper()
	for range 1000 {
		res, err := g.r.Reconcile(t.Context(), ctrl.Request{NamespacedName: g.key})
		if err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		s := g.status(t)
		if s.State != nil && s.State.Phase.Terminal() || s.Phase == string(canary.PhasePaused) {
			return s
		}
		if res.RequeueAfter <= 0 {
			t.Fatalf("not finished and no requeue: phase %s: %s", s.Phase, s.Message)
		}
		g.clock.After(res.RequeueAfter)
	}
	t.Fatal("not finished after 1000 reconciles")
	return operator.Status{}
}

// assertFinished checks the events of a rollout run to its end: one
// named lastEvent ("Promoted", "RolledBack"), no ActionFailed.
func (g *steppedRig) assertFinished(t *testing.T, lastEvent string) {
	t.Helper()
	if len(g.rec.with(lastEvent)) == 0 {
		t.Errorf("no %s event; events:\n%s", lastEvent, g.rec.all())
	}
	if f := g.rec.with("ActionFailed"); len(f) > 0 {
		t.Errorf("actions failed with the shipped RBAC: %v", f)
	}
}

// assertRefused reconciles once, as a reconciler lacking RBAC, and checks
// the rollout waits for it: retried, not Ready, the condition and a
// Warning Event saying want and naming grantFile (where to grant it), the
// status not moved. It returns the status.
func (g *steppedRig) assertRefused(t *testing.T, want, grantFile string) operator.Status {
	t.Helper()
	res, err := g.r.Reconcile(t.Context(), ctrl.Request{NamespacedName: g.key})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if res.RequeueAfter <= 0 {
		t.Error("a rollout waiting for RBAC is not retried")
	}
	s := g.status(t)
	ready := condition(s, operator.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, want) || !strings.Contains(ready.Message, grantFile) {
		t.Fatalf("Ready condition = %+v; want False saying %q and where to grant it", ready, want)
	}
	if ev := g.rec.with("ProvidersUnavailable"); len(ev) == 0 || !strings.Contains(ev[0], want) || !strings.HasPrefix(ev[0], "Warning ") {
		t.Errorf("ProvidersUnavailable events = %v, want a Warning saying %q", ev, want)
	}
	if s.Weight != 0 || s.State != nil {
		t.Errorf("status moved without providers: weight %d, state %+v", s.Weight, s.State)
	}
	return s
}
