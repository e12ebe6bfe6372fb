package plan

import (
	"testing"

	canary "github.com/canary-dev/canary"
)

// TestMirrorBodiesValidation: strategy.mirrorBodies is a binary size up
// to 1MiB, needs a mirroring step, and only the built-in proxy takes it:
// Gateway API and Istio are refused by name (they would mirror every
// method whatever the size), as are routers that cannot mirror at all.
func TestMirrorBodiesValidation(t *testing.T) {
	mirror := firstStep("    - {mirror: 100%, hold: 1m}\n")
	opt := func(size string) edit { return edit{"", "  strategy: {mirrorBodies: " + size + "}\n"} }
	tests := []struct {
		name  string
		edits []edit
		want  []string
	}{
		{"proxy: 64KiB", []edit{mirror, opt("64KiB")}, nil},
		{"proxy: 1MiB with blue/green", []edit{mirror, {"", "  strategy: {blueGreen: {}, mirrorBodies: 1MiB}\n"}}, nil},
		{"too large", []edit{mirror, opt("2MiB")},
			[]string{`plan.yaml:18:28: spec.strategy.mirrorBodies: 2MiB is too large: each mirrored body is held in memory until sent; write at most 1MiB, e.g. 64KiB`}},
		{"decimal unit", []edit{mirror, opt("64KB")},
			[]string{`plan.yaml:18:28: spec.strategy.mirrorBodies: "64KB" is not a size: write a whole number and KiB or MiB up to 1024MiB, e.g. 64KiB (a bare number is bytes)`}},
		{"no step mirrors", []edit{opt("64KiB")},
			[]string{`plan.yaml:19:28: spec.strategy.mirrorBodies: no step mirrors requests, so mirrorBodies has no effect: remove it, or add mirror to a step`}},
		{"gateway refused naming it", []edit{toGateway, mirror, opt("64KiB")},
			[]string{`plan.yaml:16:28: spec.strategy.mirrorBodies: Gateway API (traffic.gatewayAPI) cannot mirror only bodies up to a size (it would copy requests of every method whatever their body's size): remove mirrorBodies (GET and HEAD are mirrored), or use traffic.proxy`}},
		{"istio refused naming it", []edit{toIstio, mirror, opt("64KiB")},
			[]string{`plan.yaml:16:28: spec.strategy.mirrorBodies: Istio (traffic.istio) cannot mirror only bodies up to a size (it would copy requests of every method whatever their body's size): remove mirrorBodies (GET and HEAD are mirrored), or use traffic.proxy`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, tt.edits...), tt.want)
		})
	}
	for _, r := range []string{"gatewayAPI", "istio", "nginxIngress", "helm"} {
		if s, _ := canary.RouteSupportOf(r); s.MirrorBodies {
			t.Errorf("%s claims to bound mirrored bodies", r)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]canary.ByteSize{"64KiB": 64 << 10, "1MiB": 1 << 20, "512": 512, "0": 0} {
		got, err := canary.ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		if s := want.String(); want != 0 && s != in {
			t.Errorf("%d.String() = %q, want %q", want, s, in)
		}
	}
	for _, in := range []string{"64KB", "1.5MiB", "-1", "64 KiB", "", "KiB", "2048MiB"} {
		if _, err := canary.ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) succeeded, want an error", in)
		}
	}
}
