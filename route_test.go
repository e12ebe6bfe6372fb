package canary

import (
	"net/http"
	"testing"
)

func TestMatchRequest(t *testing.T) {
	h := http.Header{"X-Beta": {"team-a"}}
	cookies := map[string]string{"beta": "always"}
	header := func(n string) (string, bool) { v := h.Values(n); return firstOf(v) }
	cookie := func(n string) (string, bool) { v, ok := cookies[n]; return v, ok }
	tests := []struct {
		name string
		m    Match
		want bool
	}{
		{"exact", Match{Header: &HeaderMatch{Name: "x-beta", Exact: "team-a"}}, true},
		{"exact other value", Match{Header: &HeaderMatch{Name: "X-Beta", Exact: "team"}}, false},
		{"prefix", Match{Header: &HeaderMatch{Name: "X-Beta", Prefix: "team-"}}, true},
		// Anchored: "team" alone must not match "team-a".
		{"regex anchored", Match{Header: &HeaderMatch{Name: "X-Beta", Regex: "team"}}, false},
		{"regex whole", Match{Header: &HeaderMatch{Name: "X-Beta", Regex: "team-[ab]"}}, true},
		{"header absent", Match{Header: &HeaderMatch{Name: "X-Other", Exact: ""}}, false},
		{"cookie presence", Match{Cookie: &CookieMatch{Name: "beta"}}, true},
		{"cookie value", Match{Cookie: &CookieMatch{Name: "beta", Value: "always"}}, true},
		{"cookie other value", Match{Cookie: &CookieMatch{Name: "beta", Value: "never"}}, false},
		{"cookie absent", Match{Cookie: &CookieMatch{Name: "alpha"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re, err := CompileMatch(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if got := MatchRequest(tt.m, re, header, cookie); got != tt.want {
				t.Errorf("MatchRequest(%s): got %v, want %v", tt.m, got, tt.want)
			}
		})
	}
}

func firstOf(v []string) (string, bool) {
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func TestStepRoute(t *testing.T) {
	s := Step{Weight: 10, Mirror: 0.25, Match: []Match{{Header: &HeaderMatch{Name: "X-Beta", Exact: "1"}}}}
	r := StepRoute(s)
	if got, want := r.String(), "10% + header X-Beta=1 + mirror 25%"; got != want {
		t.Errorf("StepRoute: got %q, want %q", got, want)
	}
	if r.Plain() || !StepRoute(Step{Weight: 5}).Plain() {
		t.Errorf("Plain: got %v for a routed step and %v for a plain one", r.Plain(), StepRoute(Step{Weight: 5}).Plain())
	}
	p := &Plan{Spec: Spec{Steps: []Step{{Weight: 5}, {Weight: 100}}}}
	if p.UsesRoutes() {
		t.Error("UsesRoutes: got true for weights only")
	}
	p.Spec.Strategy.BlueGreen = &BlueGreen{}
	if !p.UsesRoutes() {
		t.Error("UsesRoutes: got false for blue/green")
	}
}

// TestRouteSupportNamesProviders: every provider in the support table is
// one Traffic.Provider returns (a misspelt key would leave a router's
// matches refused as "weights only").
func TestRouteSupportNamesProviders(t *testing.T) {
	known := map[string]bool{}
	for _, tr := range []Traffic{{Proxy: &ProxyTraffic{}}, {Helm: &HelmTraffic{}}, {GatewayAPI: &GatewayAPITraffic{}},
		{Replicas: &ReplicasTraffic{}}, {Istio: &IstioTraffic{}}, {NGINXIngress: &NGINXIngressTraffic{}}} {
		known[tr.Provider()] = true
	}
	for prov := range routeSupport {
		if !known[prov] {
			t.Errorf("routeSupport has %q, which is no traffic provider (have %v)", prov, known)
		}
	}
	if _, ok := RouteSupportOf("helm"); ok {
		t.Error("helm: got route support, want weights only")
	}
}
