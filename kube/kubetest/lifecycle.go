package kubetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/canary-dev/canary"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Observed is what a router's object says after a call.
type Observed struct {
	// Stable and Canary are the weights; Canary is -1 when there is no
	// canary backend (or no canary Ingress: Stable is then 100).
	Stable, Canary int
	// Promoted: the object carries the promotion mark.
	Promoted bool
	// Version is the object's resourceVersion ("" when there is none).
	Version string
}

// RouterLifecycle drives r through the calls a rollout makes and checks
// what observe reads from the cluster after each: the weights 5, 10, 50,
// 100, 0 (a gradual rollback's drain keeps the canary at 0) and 25; a
// rollback's removal (the canary taken out); a promotion (100, Promote)
// after which RemoveCanary leaves the canary serving, marked; the next
// rollout's first weight clearing the mark. Every call is made twice: the
// replay must leave the resourceVersion as it was. observe may check more
// (what the router must never change) with t.Errorf.
func RouterLifecycle(t *testing.T, r canary.TrafficRouter, observe func(t *testing.T) Observed) {
	t.Helper()
	weight := func(w int) func(context.Context) error {
		return func(ctx context.Context) error { return r.SetWeight(ctx, w) }
	}
	steps := []struct {
		name string
		call func(context.Context) error
		want Observed
	}{
		{"SetWeight(5)", weight(5), Observed{Stable: 95, Canary: 5}},
		{"SetWeight(10)", weight(10), Observed{Stable: 90, Canary: 10}},
		{"SetWeight(50)", weight(50), Observed{Stable: 50, Canary: 50}},
		{"SetWeight(100)", weight(100), Observed{Stable: 0, Canary: 100}},
		{"SetWeight(0)", weight(0), Observed{Stable: 100, Canary: 0}},
		{"SetWeight(25)", weight(25), Observed{Stable: 75, Canary: 25}},
		{"SetWeight(0)", weight(0), Observed{Stable: 100, Canary: 0}},
		{"RemoveCanary after a rollback", r.RemoveCanary, Observed{Stable: 100, Canary: -1}},
		{"SetWeight(100)", weight(100), Observed{Stable: 0, Canary: 100}},
		{"Promote", r.Promote, Observed{Stable: 0, Canary: 100, Promoted: true}},
		{"RemoveCanary after a promotion", r.RemoveCanary, Observed{Stable: 0, Canary: 100, Promoted: true}},
		{"SetWeight(5) of the next rollout", weight(5), Observed{Stable: 95, Canary: 5}},
	}
	ctx := t.Context()
	for _, st := range steps {
		if err := st.call(ctx); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := observe(t)
		if g := withoutVersion(got); g != st.want {
			t.Errorf("after %s: %s, want %s", st.name, g, st.want)
		}
		if err := st.call(ctx); err != nil {
			t.Fatalf("replaying %s: %v", st.name, err)
		}
		if again := observe(t); again.Version != got.Version {
			t.Errorf("replaying %s wrote the object (resourceVersion %s -> %s)", st.name, got.Version, again.Version)
		}
	}
}

func withoutVersion(o Observed) Observed {
	o.Version = ""
	return o
}

func (o Observed) String() string {
	s := fmt.Sprintf("stable %d, canary %d", o.Stable, o.Canary)
	if o.Canary < 0 {
		s = fmt.Sprintf("stable %d, no canary", o.Stable)
	}
	if o.Promoted {
		s += ", promoted"
	}
	return s
}

// Uncalled is a client.Client for tests of a constructor's validation: it
// only satisfies the type, and any call panics.
type Uncalled struct{ client.Client }

// RefusesConfigs fails t for every named config that build accepts (build
// is a router's New).
func RefusesConfigs[C any](t *testing.T, build func(C) error, configs map[string]C) {
	t.Helper()
	for name, cfg := range configs {
		if err := build(cfg); err == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
}
