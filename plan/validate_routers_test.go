package plan

import "testing"

// toIstio swaps the base plan's proxy for the Istio router (toNGINX is in
// validate_routes_test.go).
var (
	toIstio = edit{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n",
		"    istio: {virtualService: web, stable: {host: web, subset: stable}, canary: {subset: canary}}\n"}
)

// TestRouterValidation: what the Istio and NGINX Ingress routers can
// express is accepted, what they cannot is refused naming the router.
func TestRouterValidation(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		want  []string
	}{
		{"istio: every match kind and a mirror", []edit{toIstio, firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-Beta, prefix: a}}, {cookie: {name: beta}}, {cookie: {name: b, value: x}}], mirror: 5%}\n")}, nil},
		{"istio: blue/green", []edit{toIstio, firstStep("    - {mirror: 100%, hold: 1m}\n"), {"", "  strategy: {blueGreen: {}}\n"}}, nil},
		// canary-by-header-pattern: a regex header is the one header
		// match of its step, with a cookie beside it.
		{"nginxIngress: regex header accepted", []edit{toNGINX, firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-User, regex: '.*@example[.]com'}}, {cookie: {name: beta, value: always}}]}\n")}, nil},
		{"nginxIngress: prefix refused", []edit{toNGINX, firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-Beta, prefix: a}}]}\n")},
			[]string{`plan.yaml:10:38: spec.steps[0].match[0]: NGINX Ingress (traffic.nginxIngress) cannot match a header by prefix (header X-Beta=a*); it can match a header's exact value, a header by regex or a cookie's value: change the match or the traffic provider (a match is never emulated)`}},
		{"nginxIngress: mirror refused", []edit{toNGINX, firstStep("    - {weight: 10, hold: 1m, mirror: 10%}\n")},
			[]string{`plan.yaml:10:38: spec.steps[0].mirror: NGINX Ingress (traffic.nginxIngress) cannot mirror requests: remove mirror, or use traffic.proxy, gatewayAPI or istio`}},
		{"nginxIngress: cookie value other than always", []edit{toNGINX, firstStep("    - {weight: 10, hold: 1m, match: [{cookie: {name: beta, value: yes}}]}\n")},
			[]string{`plan.yaml:10:67: spec.steps[0].match[0].cookie.value: NGINX Ingress (traffic.nginxIngress) matches a cookie only by the value always, not "yes": set the cookie to that value for the users who should see the canary`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, tt.edits...), tt.want)
		})
	}
}
