package plan

import "testing"

// Edits that swap the base plan's proxy for another router.
var (
	toGateway = edit{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    gatewayAPI: {httpRoute: web, stableService: web, canaryService: web-canary}\n"}
	toNGINX   = edit{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    nginxIngress: {ingress: web, stableService: web, canaryService: web-canary}\n"}
	toHelm    = edit{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    helm: {release: web, chart: ./chart}\n"}
	// firstStep replaces the base plan's first step.
	firstStep = func(s string) edit { return edit{"    - weight: 10\n      hold: 1m\n", s} }
)

// routeCases break the base plan with matches, mirrors and the blue/green
// strategy; each error names the field, and a router's missing feature
// names the router.
var routeCases = []struct {
	name  string
	edits []edit
	want  []string
}{
	{"valid: A/B header step then weights", []edit{firstStep("    - match: [{header: {name: X-Beta, exact: \"1\"}}]\n      hold: 1m\n    - {weight: 10, hold: 1m, match: [{cookie: {name: beta}}], mirror: 20%}\n")}, nil},
	{"valid: blue/green on the proxy", []edit{firstStep("    - {mirror: 100%, hold: 1m}\n"), {"", "  strategy: {blueGreen: {preview: 127.0.0.1:8081, scaleDownDelay: 2m}}\n"}}, nil},
	{"valid: gateway header regex and mirror", []edit{toGateway, firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-Beta, regex: \"a|b\"}}], mirror: 5%}\n")}, nil},
	{"weight 0 without match or mirror", []edit{firstStep("    - {weight: 0, hold: 1m}\n")},
		[]string{`plan.yaml:12:16: spec.steps[0].weight: 0 is not a weight: write the canary's share of traffic in percent, 1 to 100 (no % sign; 0 only with match or mirror)`}},
	{"repeated weight without match", []edit{firstStep("    - {weight: 10, hold: 1m}\n    - {weight: 10, hold: 1m}\n")},
		[]string{`plan.yaml:13:16: spec.steps[1].weight: 10 does not exceed the previous step's 10: weights must increase, e.g. 5, 10, 25, 50, 100 (a step may repeat the weight only with match or mirror)`}},
	{"match entry empty", []edit{firstStep("    - {weight: 10, hold: 1m, match: [{}]}\n")},
		[]string{`plan.yaml:12:38: spec.steps[0].match[0]: set exactly one of header or cookie, e.g. {header: {name: X-Beta, exact: "1"}}`}},
	{"header with two values", []edit{firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-Beta, exact: a, prefix: b}}]}\n")},
		[]string{`plan.yaml:12:47: spec.steps[0].match[0].header: set exactly one of exact, regex or prefix (a non-empty value), e.g. exact: "1"`}},
	{"bad regex", []edit{firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-Beta, regex: \"a(\"}}]}\n")},
		[]string{"plan.yaml:12:69: spec.steps[0].match[0].header.regex: \"a(\" is not a regular expression: missing closing ): `^(?:a()$` (RE2 syntax, matched against the whole value)"}},
	{"mirror not whole", []edit{firstStep("    - {weight: 10, hold: 1m, mirror: 0.5%}\n")},
		[]string{`plan.yaml:12:38: spec.steps[0].mirror: 0.5% is not a mirror share: write a whole percentage, 1% to 100%, e.g. 10%`}},
	{"100 step with match", []edit{{"    - weight: 100\n", "    - {weight: 100, match: [{cookie: {name: beta}}]}\n"}},
		[]string{`plan.yaml:14:7: spec.steps[1]: the 100 step sends every request to the new version: remove its match and mirror`}},
	{"gateway: cookie refused naming the router", []edit{toGateway, firstStep("    - {weight: 10, hold: 1m, match: [{cookie: {name: beta}}]}\n")},
		[]string{`plan.yaml:10:38: spec.steps[0].match[0]: Gateway API (traffic.gatewayAPI) cannot match a cookie's presence (cookie beta); it can match a header's exact value or a header by regex: change the match or the traffic provider (a match is never emulated)`}},
	{"gateway: header prefix refused", []edit{toGateway, firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-Beta, prefix: a}}]}\n")},
		[]string{`plan.yaml:10:38: spec.steps[0].match[0]: Gateway API (traffic.gatewayAPI) cannot match a header by prefix (header X-Beta=a*); it can match a header's exact value or a header by regex: change the match or the traffic provider (a match is never emulated)`}},
	{"helm: match and mirror refused", []edit{toHelm, firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-Beta, exact: a}}], mirror: 10%}\n")},
		[]string{`plan.yaml:10:38: spec.steps[0].match[0]: traffic.helm only sets weights: it cannot send requests to the canary by header or cookie; use traffic.proxy, gatewayAPI, istio or nginxIngress for matches (a match is never emulated)`,
			`plan.yaml:10:83: spec.steps[0].mirror: traffic.helm cannot mirror requests: remove mirror, or use traffic.proxy, gatewayAPI or istio`}},
	{"nginx: cookie value always, one header", []edit{toNGINX, firstStep("    - {weight: 10, hold: 1m, match: [{header: {name: X-Beta, exact: a}}, {cookie: {name: beta, value: always}}]}\n")}, nil},
	{"nginx: cookie presence, prefix, two headers, mirror refused", []edit{toNGINX, firstStep("    - {weight: 10, hold: 1m, match: [{cookie: {name: beta}}, {header: {name: X-A, prefix: a}}, {header: {name: X-B, exact: b}}], mirror: 10%}\n")},
		[]string{`plan.yaml:10:37: spec.steps[0].match: NGINX Ingress (traffic.nginxIngress) can match at most 1 header per step, not 2: keep one`,
			`plan.yaml:10:47: spec.steps[0].match[0].cookie.value: NGINX Ingress (traffic.nginxIngress) matches a cookie only by value: write value: always`,
			`plan.yaml:10:62: spec.steps[0].match[1]: NGINX Ingress (traffic.nginxIngress) cannot match a header by prefix (header X-A=a*); it can match a header's exact value, a header by regex or a cookie's value: change the match or the traffic provider (a match is never emulated)`,
			`plan.yaml:10:138: spec.steps[0].mirror: NGINX Ingress (traffic.nginxIngress) cannot mirror requests: remove mirror, or use traffic.proxy, gatewayAPI or istio`}},
	{"match with featureFlag refused", []edit{firstStep("    - {weight: 10, hold: 1m, match: [{cookie: {name: beta}}]}\n"), {"", "  featureFlag: {name: f}\n"}},
		[]string{`plan.yaml:12:37: spec.steps[0].match: match cannot be combined with featureFlag: the flag service does not apply the step's match, so the same users would not see the new code through both; remove featureFlag (the match decides who sees the new version) or the match`}},
	{"blue/green: weight, no mirror", []edit{firstStep("    - {weight: 10, hold: 1m}\n"), {"", "  strategy: {blueGreen: {}}\n"}},
		[]string{`plan.yaml:12:7: spec.steps[0].mirror: required with blueGreen: without mirrored traffic nothing can judge the new version; write e.g. mirror: 100%`,
			`plan.yaml:12:16: spec.steps[0].weight: blue/green sends no user traffic to the new version before the switch: remove the weight (the last step, weight 100, switches)`}},
	{"blue/green: helm cannot mirror", []edit{toHelm, firstStep("    - {mirror: 100%, hold: 1m}\n"), {"", "  strategy: {blueGreen: {preview: 127.0.0.1:8081}}\n"}},
		[]string{`plan.yaml:10:16: spec.steps[0].mirror: traffic.helm cannot mirror requests: remove mirror, or use traffic.proxy, gatewayAPI or istio`,
			`plan.yaml:16:35: spec.strategy.blueGreen.preview: traffic.helm has no preview address (only the built-in proxy serves one): remove preview`}},
}

func TestRouteValidation(t *testing.T) {
	for _, tt := range routeCases {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, tt.edits...), tt.want)
		})
	}
}

func TestMirrorWithBurnRule(t *testing.T) {
	burn := edit{"    - metric: errorRate\n", "    - {metric: burnRate, above: 2x, action: pause}\n    - metric: errorRate\n"}
	checkPlan(t, with(t, firstStep("    - {weight: 10, hold: 1m, mirror: 10%}\n"), burn),
		[]string{`plan.yaml:12:38: spec.steps[0].mirror: a burnRate rule cannot be judged on a step that mixes mirrored copies with users' requests (the canary's errors could not be told apart): mirror on a step of its own (no weight or match), or remove the burnRate rule`})
	checkPlan(t, with(t, firstStep("    - {mirror: 10%, hold: 1m}\n"), burn), nil)
}
