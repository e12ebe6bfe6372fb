package operator_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// racingClient lets another writer change the Rollout just before each
// status write, as a second operator instance or a kubectl edit would.
type racingClient struct {
	client.Client
	race func()
}

func (c racingClient) Status() client.SubResourceWriter {
	return racingWriter{c.Client.Status(), c.race}
}

type racingWriter struct {
	client.SubResourceWriter
	race func()
}

func (w racingWriter) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	if w.race != nil {
		w.race()
	}
	return w.SubResourceWriter.Update(ctx, obj, opts...)
}

// TestConflictNeverActs calls Reconcile directly: when the status write
// that would record an action loses to another write, the reconcile
// requeues without acting; the next one acts exactly once.
func TestConflictNeverActs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2})
	u := examplePlan(t, "k8s/gatewayapi.yaml", f.ns, fast("1h"))
	u.SetLabels(map[string]string{testShard: "direct"}) // the package's operator leaves it alone
	f.create(t, u)
	key := types.NamespacedName{Namespace: f.ns, Name: u.GetName()}

	racing := true
	bump := func() {
		if !racing {
			return
		}
		other := &unstructured.Unstructured{}
		other.SetGroupVersionKind(operator.GVK)
		if err := f.env.Client.Get(context.Background(), key, other); err != nil {
			t.Error(err)
			return
		}
		other.SetAnnotations(map[string]string{"example.com/touched": time.Now().String()})
		if err := f.env.Client.Update(context.Background(), other); err != nil {
			t.Error(err)
		}
	}
	cfg := operator.Config{Client: racingClient{f.env.Client, bump}}
	inject()(&cfg)
	r, err := operator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		res, err := r.Reconcile(t.Context(), ctrl.Request{NamespacedName: key})
		if err != nil || res.RequeueAfter <= 0 {
			t.Fatalf("Reconcile on a conflict = %+v, %v; want a requeue", res, err)
		}
	}
	if got := f.log(); len(got) != 0 {
		t.Fatalf("acted despite losing the status write: %v", got)
	}
	if _, s := f.get(t, u.GetName()); s.State != nil {
		t.Fatalf("a status was written: %+v", s)
	}

	racing = false
	for i := 0; i < 50 && len(f.log()) == 0; i++ {
		if _, err := r.Reconcile(t.Context(), ctrl.Request{NamespacedName: key}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Reconcile(t.Context(), ctrl.Request{NamespacedName: key}); err != nil {
		t.Fatal(err)
	}
	want := []string{"w5 recoveryos=95 recoveryos-canary=5"}
	if got := f.log(); !slices.Equal(got, want) {
		t.Errorf("router calls = %q, want %q", got, want)
	}
	if _, s := f.get(t, u.GetName()); s.Weight != 5 || s.Phase != "Progressing" {
		t.Errorf("status: phase %s weight %d, want Progressing at 5%%", s.Phase, s.Weight)
	}
}
