package operator_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"
)

// TestSlowReceiverDoesNotHoldUpOthers runs an operator with the default
// --max-concurrent-reconciles: rollout A notifies a webhook receiver that
// never answers (with a notification timeout of an hour, so its reconcile
// hangs in the send), and rollout B, created once A's send is hanging, is
// still promoted while A's send is still in flight. With one reconcile at
// a time B would wait for A's receiver.
func TestSlowReceiverDoesNotHoldUpOthers(t *testing.T) {
	t.Parallel()
	var inflight atomic.Int32
	arrived := make(chan struct{}, 1)
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) }) // runs first: srv.Close waits for the handlers

	healthy := kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}
	fa, fb := newFixture(t, healthy), newFixture(t, healthy)
	const shard = "concurrency"
	mgr, err := operator.NewManager(fa.env.Config, operator.ManagerOptions{MetricsAddr: "0", Selector: testShard + "=" + shard,
		Configure: func(cfg *operator.Config) {
			inject()(cfg)
			cfg.NotifyTimeout = time.Hour
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("operator: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })

	a := examplePlan(t, "k8s/gatewayapi.yaml", fa.ns, func(spec map[string]any) {
		fast("1s")(spec)
		spec["notify"] = []any{map[string]any{"audience": "ops", "webhook": map[string]any{"url": srv.URL}}}
	})
	a.SetLabels(map[string]string{testShard: shard})
	fa.create(t, a)
	select {
	case <-arrived:
	case <-time.After(60 * time.Second):
		t.Fatal("rollout A sent no notification")
	}

	b := examplePlan(t, "k8s/gatewayapi.yaml", fb.ns, fast("1s"))
	b.SetLabels(map[string]string{testShard: shard})
	fb.create(t, b)
	s := fb.waitFor(t, b.GetName(), 60*time.Second, "finished", phaseIs(canary.PhaseSucceeded, canary.PhaseRolledBack, canary.PhaseFailed, canary.PhasePaused))
	if s.Phase != string(canary.PhaseSucceeded) {
		t.Fatalf("rollout B: phase %s (%s), want Succeeded", s.Phase, s.Message)
	}
	if n := inflight.Load(); n < 1 {
		t.Errorf("rollout A's hanging sends in flight when B finished: %d, want its reconcile still in the send", n)
	}
}
