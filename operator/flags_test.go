package operator_test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/kube/kubetest"
	"github.com/canary-dev/canary/operator"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// TestFeatureFlagProviders: the builtin flag provider (the default) is
// refused in the operator with a Ready=False condition saying to use the
// http provider, before any traffic moves, because its percentage would
// live in one replica's memory; the http provider moves a real flag
// service's flag with the weight.
func TestFeatureFlagProviders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		provider string
	}{
		{"default is builtin", ""},
		{"builtin", "builtin"},
		{"http", "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &flags.Memory{}
			h, err := flags.NewHandler(flags.Config{Store: store})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()

			f := newFixture(t, kubetest.Service{RPS: 400, CanaryErrors: 0.001, CanaryLatency: 0.2})
			u := examplePlan(t, "k8s/gatewayapi.yaml", f.ns, func(spec map[string]any) {
				fast("1s")(spec)
				ff := map[string]any{"name": "release_20250814"}
				if tt.provider != "" {
					ff["provider"] = tt.provider
				}
				if tt.provider == "http" {
					ff["url"] = srv.URL
				}
				spec["featureFlag"] = ff
			})
			u.SetLabels(map[string]string{testShard: "direct"})
			f.create(t, u)
			g := &notifyRig{f: f, clock: canarytest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)), rec: &recorder{},
				key: types.NamespacedName{Namespace: f.ns, Name: u.GetName()}}
			r := g.reconciler(t, nil)

			if tt.provider == "http" {
				s := g.run(t, r, "finished", func(s operator.Status) bool { return s.State != nil && s.State.Phase.Terminal() })
				if s.Phase != string(canary.PhaseSucceeded) {
					t.Fatalf("phase %s (%s), want Succeeded", s.Phase, s.Message)
				}
				fl, ok := store.Get("release_20250814")
				if !ok || !fl.Enabled || fl.RolloutPercentage != 100 {
					t.Errorf("the flag service has %+v, %v; want enabled at 100%%", fl, ok)
				}
				hist, err := store.FlagHistory(t.Context(), "release_20250814", 100)
				if err != nil {
					t.Fatal(err)
				}
				var pcts []int
				for _, c := range hist {
					pcts = append(pcts, c.After.RolloutPercentage)
				}
				slices.Sort(pcts)
				if want := []int{5, 50, 100}; !slices.Equal(pcts, want) {
					t.Errorf("flag percentages set: %v, want %v", pcts, want)
				}
				return
			}

			res, err := r.Reconcile(t.Context(), ctrl.Request{NamespacedName: g.key})
			if err != nil {
				t.Fatal(err)
			}
			if res.RequeueAfter <= 0 {
				t.Error("no retry")
			}
			_, s := f.get(t, u.GetName())
			var ready *metav1.Condition
			for i := range s.Conditions {
				if s.Conditions[i].Type == operator.ConditionReady {
					ready = &s.Conditions[i]
				}
			}
			if ready == nil || ready.Status != metav1.ConditionFalse || ready.Message != operator.ErrBuiltinFlags.Error() {
				t.Fatalf("Ready condition = %+v, want False: %v", ready, operator.ErrBuiltinFlags)
			}
			for _, want := range []string{"lost on failover", "provider: http"} {
				if !strings.Contains(ready.Message, want) {
					t.Errorf("Ready message lacks %q: %s", want, ready.Message)
				}
			}
			if ev := g.rec.with("ProvidersUnavailable"); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning") {
				t.Errorf("events %v, want one Warning ProvidersUnavailable", ev)
			}
			if len(f.log()) != 0 || s.Weight != 0 || len(store.List()) != 0 {
				t.Errorf("traffic or flags moved: routes %v, weight %d, flags %v", f.log(), s.Weight, fmt.Sprint(store.List()))
			}
		})
	}
}
