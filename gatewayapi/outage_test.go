package gatewayapi_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/kube/kubetest"
)

// TestAPIServerStopsMidRollout stops the real kube-apiserver just before
// the 25% step: the weight change fails and is retried, the rollout holds
// at 10% and pauses with the reason once the action timeout runs out, and
// after the API server is back and the rollout resumed it continues at
// 25% — no step skipped, none repeated.
func TestAPIServerStopsMidRollout(t *testing.T) {
	t.Parallel()
	env := kubetest.Start(t, kubetest.Options{GatewayAPI: true, Restartable: true})
	ro := newRollout(t, env)
	ro.plan.Spec.ActionTimeout = canary.Duration(60e9) // 1m of plan time
	healthy := kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2}

	var once sync.Once
	attempts := 0
	ro.rec.Before = func(action string) {
		if action != "w25" {
			return
		}
		attempts++
		once.Do(func() {
			if err := env.StopAPIServer(); err != nil {
				t.Errorf("stop the API server: %v", err)
			}
		})
	}
	st, err := ro.runner(t, healthy, engine.New(ro.plan, t0)).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != canary.PhasePaused || st.Weight != 10 || !strings.Contains(st.PauseReason, "set canary weight to 25% has failed for") {
		t.Fatalf("after the outage: phase %s at weight %d, reason %q; want Paused at 10 with the failing action", st.Phase, st.Weight, st.PauseReason)
	}
	if len(st.Outstanding) == 0 || st.Outstanding[0].Kind != canary.ActSetWeight || st.Outstanding[0].Weight != 25 {
		t.Fatalf("outstanding actions %+v, want set weight 25 kept", st.Outstanding)
	}
	if attempts < 2 {
		t.Errorf("set weight 25 was tried %d times, want retries before the pause", attempts)
	}
	t.Logf("paused after %d attempts: %s", attempts, st.PauseReason)

	if err := env.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if got := weights(getRoute(t, env, ro.ns)); got != "recoveryos:80=90 recoveryos-canary:80=10" {
		t.Fatalf("route after the outage: %s, want it held at 90/10", got)
	}
	out, err := engine.Control(ro.plan, st, engine.Command{Kind: engine.CmdResume, Actor: "test"}, ro.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err = ro.runner(t, healthy, out.State).Run(t.Context())
	if err != nil || st.Phase != canary.PhaseSucceeded {
		t.Fatalf("after resuming: %s (%s), %v; want Succeeded", st.Phase, st.PauseReason, err)
	}
	want := []string{"w5", "w10", "w25", "w50", "w100", "promote", "removeCanary"}
	if got := ro.rec.Log(); !slices.Equal(got, want) {
		t.Errorf("successful router calls %v, want %v", got, want)
	}
}
