package plan

import (
	"strings"
	"testing"

	canary "github.com/canary-dev/canary"
)

func TestBasePlanIsValid(t *testing.T) {
	if _, err := Parse("plan.yaml", []byte(basePlan)); err != nil {
		t.Fatalf("Parse(basePlan): got %v, want no error", err)
	}
}

// validationCases break the base plan once per check, each with the exact
// error it must produce, position included.
var validationCases = []struct {
	name  string
	edits []edit
	want  []string
}{
	// header
	{"apiVersion wrong", []edit{{"apiVersion: canary.dev/v1alpha1", "apiVersion: v1"}},
		[]string{`plan.yaml:1:13: apiVersion: "v1" is not supported: write canary.dev/v1alpha1`}},
	// A missing field is reported at the mapping it is missing from.
	{"apiVersion missing", []edit{{"apiVersion: canary.dev/v1alpha1\n", ""}},
		[]string{`plan.yaml:1:1: apiVersion: required: write apiVersion: canary.dev/v1alpha1`}},
	{"kind wrong", []edit{{"kind: Rollout", "kind: Deployment"}},
		[]string{`plan.yaml:2:7: kind: "Deployment" is not supported: write Rollout`}},
	{"name not a DNS label", []edit{{"name: demo", "name: Demo_1"}},
		[]string{`plan.yaml:4:9: metadata.name: "Demo_1" is not a DNS label: use lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. recoveryos-elite)`}},
	{"name missing", []edit{{"name: demo", "namespace: prod"}},
		[]string{`plan.yaml:4:3: metadata.name: required: name the rollout, e.g. recoveryos-elite`}},
	{"namespace not a DNS label", []edit{{"name: demo", "name: demo\n  namespace: -prod"}},
		[]string{`plan.yaml:5:14: metadata.namespace: "-prod" is not a DNS label: use lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters (e.g. recoveryos-elite)`}},
	{"version missing", []edit{{"  version: v2\n", ""}},
		[]string{`plan.yaml:6:3: spec.version: required: write the canary's version, e.g. v1.0.0-elite`}},

	// traffic
	{"no traffic provider", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", ""}, {"traffic:", "traffic: {}"}},
		[]string{`plan.yaml:7:12: spec.traffic: required: set exactly one of proxy, helm, gatewayAPI, replicas, istio or nginxIngress`}},
	{"two traffic providers", []edit{{"  steps:", "    helm: {release: web, chart: ./chart}\n  steps:"}},
		[]string{`plan.yaml:11:11: spec.traffic.helm: only one traffic provider may be set, but proxy is set too: remove one of them`}},
	{"proxy stable not a URL", []edit{{"stable: http://127.0.0.1:9001", "stable: 127.0.0.1:9001"}},
		[]string{`plan.yaml:9:15: spec.traffic.proxy.stable: "127.0.0.1:9001" is not an http(s) URL: write an absolute URL starting with http:// or https://, e.g. http://127.0.0.1:9001`}},
	{"proxy canary missing", []edit{{"      canary: http://127.0.0.1:9002\n", ""}},
		[]string{`plan.yaml:9:7: spec.traffic.proxy.canary: required: write the canary version's URL, e.g. http://127.0.0.1:9002`}},
	{"proxy listen not host:port", []edit{{"    proxy:\n", "    proxy:\n      listen: 8080\n"}},
		[]string{`plan.yaml:9:15: spec.traffic.proxy.listen: "8080" is not host:port: write e.g. 127.0.0.1:8080 (or :8080 for every interface)`}},
	{"replicas: same Deployment twice, one pod", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    replicas: {stableDeployment: web, canaryDeployment: web, total: 1}\n"}},
		[]string{`plan.yaml:8:57: spec.traffic.replicas.canaryDeployment: "web" is also the stable Deployment: the canary needs a Deployment of its own`,
			`plan.yaml:8:69: spec.traffic.replicas.total: 1 pods cannot be shared between two versions: write 2 or more (or omit it to use the Deployments' replicas)`}},
	{"replicas: canary Deployment missing", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    replicas: {stableDeployment: web}\n"}},
		[]string{`plan.yaml:8:15: spec.traffic.replicas.canaryDeployment: required: name the canary version's Deployment`}},
	{"helm chart missing", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    helm: {release: web}\n"}},
		[]string{`plan.yaml:8:11: spec.traffic.helm.chart: required: write the chart path or reference, e.g. ./helm/recoveryos`}},
	{"helm canary release is the release", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    helm: {release: web, canaryRelease: web, chart: ./chart}\n"}},
		[]string{`plan.yaml:8:41: spec.traffic.helm.canaryRelease: "web" is also the stable release: give the canary its own release, e.g. web-canary (or omit it for that default)`}},
	{"istio: canary destination is the stable", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    istio: {virtualService: web, stable: {host: web, subset: v1}, canary: {subset: v1}}\n"}},
		[]string{`plan.yaml:8:75: spec.traffic.istio.canary: the canary destination is the stable one (host web, subset "v1"): give the canary another host or subset`}},
	{"istio: no canary destination", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    istio: {virtualService: web, stable: {host: web}, routes: [main, main]}\n"}},
		[]string{`plan.yaml:8:12: spec.traffic.istio.canary: required: write the canary destination's host (e.g. recoveryos-canary) or a subset of the stable's host (e.g. subset: canary)`,
			`plan.yaml:8:70: spec.traffic.istio.routes[1]: "main" is listed twice: remove one`}},
	{"nginxIngress: same Service and Ingress twice", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    nginxIngress: {ingress: web, canaryIngress: web, stableService: web, canaryService: web}\n"}},
		[]string{`plan.yaml:8:49: spec.traffic.nginxIngress.canaryIngress: "web" is the stable Ingress: the canary Ingress needs a name of its own (or omit it for web-canary)`,
			`plan.yaml:8:89: spec.traffic.nginxIngress.canaryService: "web" is also the stable Service: the canary needs a Service of its own`}},
	{"gatewayAPI service missing", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    gatewayAPI: {httpRoute: web, stableService: web}\n"}},
		[]string{`plan.yaml:8:17: spec.traffic.gatewayAPI.canaryService: required: name the canary version's Service`}},
	{"gatewayAPI port out of range", []edit{{"    proxy:\n      stable: http://127.0.0.1:9001\n      canary: http://127.0.0.1:9002\n", "    gatewayAPI: {httpRoute: web, stableService: web, canaryService: web-canary, port: 70000}\n"}},
		[]string{`plan.yaml:8:87: spec.traffic.gatewayAPI.port: 70000 is not a port: write 1 to 65535 (or omit it for 80)`}},

	// featureFlag
	{"flag name missing", []edit{{"", "  featureFlag: {environment: prod}\n"}},
		[]string{`plan.yaml:19:16: spec.featureFlag.name: required: name the flag, e.g. release_20250814`}},
	{"flag provider unknown", []edit{{"", "  featureFlag: {name: f, provider: launchdarkly}\n"}},
		[]string{`plan.yaml:19:36: spec.featureFlag.provider: "launchdarkly" is not a flag provider: write builtin or http`}},
	{"flag http without url", []edit{{"", "  featureFlag: {name: f, provider: http}\n"}},
		[]string{`plan.yaml:19:16: spec.featureFlag.url: required with provider http: write the flag service's base URL, e.g. http://admin.recoveryos.com`}},
	{"flag url with builtin", []edit{{"", "  featureFlag: {name: f, url: http://flags}\n"}},
		[]string{`plan.yaml:19:31: spec.featureFlag.url: only the http provider uses a URL: remove it, or set provider: http`}},
	{"flag token literal", []edit{{"", "  featureFlag: {name: f, provider: http, url: http://flags, token: s3cr3t}\n"}},
		[]string{`plan.yaml:19:68: spec.featureFlag.token: not a secret reference (the value is not shown, in case it is a secret): write env:NAME, file:/path or secret:NAME/KEY (a Kubernetes Secret, read by canary operator); secrets are never written in a plan`}},

	// preChecks
	{"precheck url not http", []edit{{"", "  preChecks:\n    - {name: up, url: ftp://staging}\n"}},
		[]string{`plan.yaml:20:23: spec.preChecks[0].url: "ftp://staging" is not an http(s) URL: write an absolute URL starting with http:// or https://, e.g. http://127.0.0.1:9001`}},
	{"precheck jq does not compile", []edit{{"", "  preChecks:\n    - {name: up, url: http://staging, jq: '.rate >='}\n"}},
		[]string{`plan.yaml:20:43: spec.preChecks[0].jq: ".rate >=" is not a valid jq expression (unexpected EOF): fix it, e.g. .avg_success_rate >= 0.99`}},
	{"precheck jq unknown function", []edit{{"", "  preChecks:\n    - {name: up, url: http://staging, jq: 'nosuch(.a)'}\n"}},
		[]string{`plan.yaml:20:43: spec.preChecks[0].jq: "nosuch(.a)" is not a valid jq expression (function not defined: nosuch/1): fix it, e.g. .avg_success_rate >= 0.99`}},
	{"precheck names repeat", []edit{{"", "  preChecks:\n    - {name: up, url: http://a}\n    - {name: up, url: http://b}\n"}},
		[]string{`plan.yaml:21:14: spec.preChecks[1].name: duplicate pre-check name "up" (also spec.preChecks[0]): give each pre-check its own name`}},

	// hooks and cleanup
	{"hook at unknown", []edit{{"", "  hooks:\n    - {name: h, at: beforeStep, command: [true]}\n"}},
		[]string{`plan.yaml:20:21: spec.hooks[0].at: "beforeStep" is not a hook point: write beforeRollout, afterStep, onRollback, promote or afterPromotion`}},
	{"hook at missing", []edit{{"", "  hooks:\n    - {name: h, command: [true]}\n"}},
		[]string{`plan.yaml:20:7: spec.hooks[0].at: required: write when the hook runs: beforeRollout, afterStep, onRollback, promote or afterPromotion`}},
	{"hook without action", []edit{{"", "  hooks:\n    - {name: h, at: afterStep}\n"}},
		[]string{`plan.yaml:20:7: spec.hooks[0]: set exactly one of http (a request) or command (a program and its arguments)`}},
	{"hook with both actions", []edit{{"", "  hooks:\n    - {name: h, at: afterStep, command: [true], http: {url: http://x}}\n"}},
		[]string{`plan.yaml:20:41: spec.hooks[0].command: only one of http and command may be set, but http is set too: remove one of them`}},
	{"hook method lower case", []edit{{"", "  hooks:\n    - {name: h, at: afterStep, http: {url: http://x, method: post}}\n"}},
		[]string{`plan.yaml:20:62: spec.hooks[0].http.method: "post" is not an HTTP method: write it in capitals, e.g. POST`}},
	{"hook command program empty", []edit{{"", "  hooks:\n    - {name: h, at: afterStep, command: ['', x]}\n"}},
		[]string{`plan.yaml:20:42: spec.hooks[0].command[0]: required: the first item is the program to run (no shell), e.g. kubectl`}},
	{"hook names repeat", []edit{{"", "  hooks:\n    - {name: h, at: afterStep, command: [a]}\n    - {name: h, at: onRollback, command: [b]}\n"}},
		[]string{`plan.yaml:21:14: spec.hooks[1].name: duplicate hook name "h" (also spec.hooks[0]): give each hook its own name`}},
	{"cleanup with at", []edit{{"", "  cleanup:\n    - {name: c, at: afterStep, command: [a]}\n"}},
		[]string{`plan.yaml:20:21: spec.cleanup[0].at: cleanup entries run at the end of the rollout and take no at: remove it (or move the entry to hooks)`}},

	// steps
	{"steps empty", []edit{{"  steps:\n    - weight: 10\n      hold: 1m\n    - weight: 100\n", "  steps: []\n"}},
		[]string{`plan.yaml:11:10: spec.steps: required: list the traffic steps, e.g. [{weight: 5, hold: 30m}, {weight: 100}]`}},
	{"weight above 100", []edit{{"weight: 10\n", "weight: 101\n"}},
		[]string{`plan.yaml:12:15: spec.steps[0].weight: 101 is not a weight: write the canary's share of traffic in percent, 1 to 100 (no % sign; 0 only with match or mirror)`}},
	{"weights not increasing", []edit{{"    - weight: 100\n", "    - weight: 10\n      hold: 1m\n    - weight: 100\n"}},
		[]string{`plan.yaml:14:15: spec.steps[1].weight: 10 does not exceed the previous step's 10: weights must increase, e.g. 5, 10, 25, 50, 100 (a step may repeat the weight only with match or mirror)`}},
	{"last step not 100", []edit{{"    - weight: 100\n", "    - weight: 50\n      hold: 1m\n"}},
		[]string{`plan.yaml:14:15: spec.steps[1].weight: the last step must be weight 100 (reaching it promotes): add {weight: 100} at the end`}},
	{"100 step with hold", []edit{{"    - weight: 100\n", "    - weight: 100\n      hold: 5m\n"}},
		[]string{`plan.yaml:15:13: spec.steps[1].hold: the 100 step promotes at once and has no hold: remove it (hold the step before instead)`}},
	{"step without hold", []edit{{"      hold: 1m\n", ""}},
		[]string{`plan.yaml:12:7: spec.steps[0].hold: required: every step before 100 holds its weight for a while, e.g. hold: 30m`}},
	{"approval with both", []edit{{"      hold: 1m\n", "      hold: 1m\n      approval: {manual: true, webhook: http://approve}\n"}},
		[]string{`plan.yaml:14:41: spec.steps[0].approval.webhook: only one of manual and webhook may be set: remove one of them`}},
	{"approval with neither", []edit{{"      hold: 1m\n", "      hold: 1m\n      approval: {timeout: 1h}\n"}},
		[]string{`plan.yaml:14:17: spec.steps[0].approval: set exactly one of manual: true or webhook: URL`}},
	{"approval webhook not a URL", []edit{{"      hold: 1m\n", "      hold: 1m\n      approval: {webhook: approve.example.com}\n"}},
		[]string{`plan.yaml:14:27: spec.steps[0].approval.webhook: "approve.example.com" is not an http(s) URL: write an absolute URL starting with http:// or https://, e.g. http://127.0.0.1:9001`}},

	// analysis and slo
	{"minRequests negative", []edit{{"", "  analysis: {minRequests: -1}\n"}},
		[]string{`plan.yaml:19:27: spec.analysis.minRequests: -1 is negative: write 0 or more`}},
	{"two metrics sources", []edit{{"", "  analysis:\n    metrics: {builtin: {}, prometheus: {address: http://prom:9090}}\n"}},
		[]string{`plan.yaml:20:40: spec.analysis.metrics.prometheus: only one metrics source may be set, but builtin is set too: remove one of them`}},
	{"prometheus address not a URL", []edit{{"", "  analysis:\n    metrics: {prometheus: {address: prom:9090}}\n"}},
		[]string{`plan.yaml:20:37: spec.analysis.metrics.prometheus.address: "prom:9090" is not an http(s) URL: write an absolute URL starting with http:// or https://, e.g. http://127.0.0.1:9001`}},
	{"prometheus basic auth with a literal password", []edit{{"", "  analysis:\n    metrics: {prometheus: {address: http://prom, basicAuth: {username: u, password: hunter2}}}\n"}},
		[]string{`plan.yaml:20:85: spec.analysis.metrics.prometheus.basicAuth.password: not a secret reference (the value is not shown, in case it is a secret): write env:NAME, file:/path or secret:NAME/KEY (a Kubernetes Secret, read by canary operator); secrets are never written in a plan`}},
	{"prometheus query unknown", []edit{{"", "  analysis:\n    metrics: {prometheus: {address: http://prom, queries: {p95: up}}}\n"}},
		[]string{`plan.yaml:20:65: spec.analysis.metrics.prometheus.queries[p95]: "p95" is not a query name: write latency, errorRate, requestRate, requests or latencyBuckets`}},
	{"objective 100%", []edit{{"", "  slo: {objective: 100%}\n"}},
		[]string{`plan.yaml:19:20: spec.slo.objective: 100% is not an objective: write a percentage strictly between 0% and 100%, e.g. 99.9% (100% leaves no error budget)`}},

	// rules
	{"rules empty", []edit{{"  rules:\n    - metric: errorRate\n      above: 1%\n      action: rollback-gradual\n", "  rules: []\n"}},
		[]string{`plan.yaml:15:10: spec.rules: required: write at least one rule, e.g. {metric: errorRate, above: 1%, action: rollback-gradual}`}},
	{"metric unknown", []edit{{"metric: errorRate", "metric: latency"}},
		[]string{`plan.yaml:16:15: spec.rules[0].metric: "latency" is not a metric: write errorRate, requestRate, burnRate, or a latency quantile latencyPNN such as latencyP50, latencyP95, latencyP99 or latencyP99.9`}},
	{"metric missing", []edit{{"    - metric: errorRate\n      above: 1%\n", "    - above: 1%\n"}},
		[]string{`plan.yaml:16:7: spec.rules[0].metric: required: write the metric to judge: errorRate, requestRate, burnRate or a latency quantile such as latencyP95`}},
	{"no threshold", []edit{{"      above: 1%\n", ""}},
		[]string{`plan.yaml:16:7: spec.rules[0]: set a threshold: exactly one of above or below, e.g. above: 600ms`}},
	{"two thresholds", []edit{{"      above: 1%\n", "      above: 1%\n      below: 0.5%\n"}},
		[]string{`plan.yaml:18:14: spec.rules[0].below: only one of above and below may be set: remove one of them`}},
	{"latency threshold as percentage", []edit{{"metric: errorRate", "metric: latencyP95"}},
		[]string{`plan.yaml:17:14: spec.rules[0].above: "1%" is a percentage, but latencyP95 is a latency: write the threshold as a duration, e.g. 600ms`}},
	{"error rate threshold as duration", []edit{{"above: 1%", "above: 600ms"}},
		[]string{`plan.yaml:17:14: spec.rules[0].above: "600ms" is a duration, but errorRate is a ratio: write the threshold as a percentage, e.g. 1%`}},
	{"burn threshold as percentage", []edit{{"metric: errorRate", "metric: burnRate"}},
		[]string{`plan.yaml:17:14: spec.rules[0].above: "1%" is a percentage, but burnRate is a multiple of the error budget: write the threshold with an x, e.g. 2x`}},
	{"request rate threshold as multiplier", []edit{{"metric: errorRate\n      above: 1%", "metric: requestRate\n      below: 2x"}},
		[]string{`plan.yaml:17:14: spec.rules[0].below: "2x" is a multiplier, but requestRate is in requests per second: write the threshold as a plain number, e.g. 50`}},
	{"vs on error rate", []edit{{"above: 1%", "above: 1%\n      vs: baseline"}},
		[]string{`plan.yaml:18:11: spec.rules[0].vs: only burnRate rules compare against slo or baseline: remove vs`}},
	{"vs unknown", []edit{{"metric: errorRate\n      above: 1%", "metric: burnRate\n      above: 2x\n      vs: sla"}},
		[]string{`plan.yaml:18:11: spec.rules[0].vs: "sla" is not a burn baseline: write slo, baseline or stable`}},
	{"action unknown", []edit{{"action: rollback-gradual", "action: rollback"}},
		[]string{`plan.yaml:18:15: spec.rules[0].action: "rollback" is not an action: write rollback-gradual, rollback-immediate or pause`}},
	{"action missing", []edit{{"      action: rollback-gradual\n", ""}},
		[]string{`plan.yaml:16:7: spec.rules[0].action: required: write what to do when the rule fires: rollback-gradual, rollback-immediate or pause`}},
	{"urgency unknown", []edit{{"action: rollback-gradual", "action: rollback-gradual\n      urgency: urgent"}},
		[]string{`plan.yaml:19:16: spec.rules[0].urgency: "urgent" is not an urgency: write low, medium, high or critical`}},
	{"for shorter than the default interval", []edit{{"above: 1%", "above: 1%\n      for: 10s"}},
		[]string{`plan.yaml:18:12: spec.rules[0].for: 10s is shorter than analysis.interval (30s): the rule is judged once per interval, so write at least 30s (or omit it for one interval)`}},
	// The interval as written, not the default, is the bar.
	{"for shorter than the written interval", []edit{{"above: 1%", "above: 1%\n      for: 30s"}, {"", "  analysis: {interval: 1m}\n"}},
		[]string{`plan.yaml:18:12: spec.rules[0].for: 30s is shorter than analysis.interval (1m): the rule is judged once per interval, so write at least 1m (or omit it for one interval)`}},
	{"window shorter than the interval", []edit{{"above: 1%", "above: 1%\n      window: 10s"}},
		[]string{`plan.yaml:18:15: spec.rules[0].window: 10s is shorter than analysis.interval (30s): a window must span at least one interval, so write at least 30s (or omit it for one interval)`}},
	// Derived names collide: both rules would be "errorRate > 1% for 30s".
	{"rules repeat", []edit{{"", "    - {metric: errorRate, above: 1%, action: pause}\n"}},
		[]string{`plan.yaml:19:7: spec.rules[1].name: duplicate rule name "errorRate > 1% for 30s" (also spec.rules[0]): give each rule its own name`}},
	{"rule names repeat", []edit{{"", "    - {name: errors, metric: errorRate, above: 5%, action: pause}\n"}, {"    - metric: errorRate\n", "    - name: errors\n      metric: errorRate\n"}},
		[]string{`plan.yaml:20:14: spec.rules[1].name: duplicate rule name "errors" (also spec.rules[0]): give each rule its own name`}},

	// notify
	{"audience missing", []edit{{"", "  notify:\n    - {slack: {webhookURL: env:HOOK}}\n"}},
		[]string{`plan.yaml:20:7: spec.notify[0].audience: required: name the audience, e.g. engineering`}},
	{"audience without channel", []edit{{"", "  notify:\n    - {audience: eng}\n"}},
		[]string{`plan.yaml:20:7: spec.notify[0]: set at least one channel: slack, email, webhook or pagerduty`}},
	{"audience event unknown", []edit{{"", "  notify:\n    - {audience: eng, slack: {webhookURL: env:HOOK}, on: [rolledback]}\n"}},
		[]string{`plan.yaml:20:59: spec.notify[0].on[0]: "rolledback" is not an event type: did you mean "rolledBack"? (or write all, or another event type)`}},
	{"audience min urgency unknown", []edit{{"", "  notify:\n    - {audience: eng, slack: {webhookURL: env:HOOK}, minUrgency: page}\n"}},
		[]string{`plan.yaml:20:66: spec.notify[0].minUrgency: "page" is not an urgency: write low, medium, high or critical`}},
	{"slack webhook literal", []edit{{"", "  notify:\n    - {audience: eng, slack: {webhookURL: 'https://hooks.slack.com/x'}}\n"}},
		[]string{`plan.yaml:20:43: spec.notify[0].slack.webhookURL: not a secret reference (the value is not shown, in case it is a secret): write env:NAME, file:/path or secret:NAME/KEY (a Kubernetes Secret, read by canary operator); secrets are never written in a plan`}},
	{"pagerduty key missing", []edit{{"", "  notify:\n    - {audience: eng, pagerduty: {}}\n"}},
		[]string{`plan.yaml:20:34: spec.notify[0].pagerduty.routingKey: required: write a reference to the secret, e.g. env:CANARY_SECRET_PD_ROUTING_KEY`}},
	{"email address bad", []edit{{"", "  notify:\n    - {audience: eng, email: {to: [product]}}\n"}},
		[]string{`plan.yaml:20:36: spec.notify[0].email.to[0]: "product" is not an email address: write e.g. product@example.com`}},
	{"email without recipients", []edit{{"", "  notify:\n    - {audience: eng, email: {from: canary@example.com}}\n"}},
		[]string{`plan.yaml:20:30: spec.notify[0].email.to: required: list at least one recipient, e.g. [product@example.com]`}},
	{"email tls unknown", []edit{{"", "  notify:\n    - {audience: eng, email: {to: [a@example.com], tls: ssl}}\n"}},
		[]string{`plan.yaml:20:57: spec.notify[0].email.tls: "ssl" is not a TLS mode: write starttls (the default), tls (implicit TLS, port 465) or none (plain text, no username)`}},
	// A password in clear text: tls: none allows no username.
	{"email tls none with a username", []edit{{"", "  notify:\n    - {audience: eng, email: {to: [a@example.com], tls: none, username: canary, password: env:SMTP_PASSWORD}}\n"}},
		[]string{`plan.yaml:20:73: spec.notify[0].email.username: not allowed with tls: none: the password would cross the network in clear text; use tls: starttls (the default) or tls, or remove username`}},
	{"audiences repeat", []edit{{"", "  notify:\n    - {audience: eng, slack: {webhookURL: env:A}}\n    - {audience: eng, slack: {webhookURL: env:B}}\n"}},
		[]string{`plan.yaml:21:18: spec.notify[1].audience: duplicate audience name "eng" (also spec.notify[0]): give each audience its own name`}},
}

func TestValidationErrors(t *testing.T) {
	for _, tt := range validationCases {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, tt.edits...), tt.want)
		})
	}
}

// TestValidateWithoutPositions checks that Validate names fields by path
// only, for plans that did not come from a file.
func TestValidateWithoutPositions(t *testing.T) {
	p, err := Parse("plan.yaml", []byte(basePlan))
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Steps[0].Weight = 0
	p.Spec.Rules[0].Metric = "latency"
	got := Validate(p)
	want := []string{
		`spec.steps[0].weight: 0 is not a weight: write the canary's share of traffic in percent, 1 to 100 (no % sign; 0 only with match or mirror)`,
		`spec.rules[0].metric: "latency" is not a metric: write errorRate, requestRate, burnRate, or a latency quantile latencyPNN such as latencyP50, latencyP95, latencyP99 or latencyP99.9`,
	}
	var lines []string
	for _, e := range got {
		if e.File != "" || e.Line != 0 || e.Col != 0 {
			t.Errorf("%v: got position %s:%d:%d, want none", e, e.File, e.Line, e.Col)
		}
		lines = append(lines, e.Error())
	}
	checkErrors(t, lines, want)
}

func TestValidateNil(t *testing.T) {
	if got := Validate(nil); len(got) != 1 {
		t.Errorf("Validate(nil): got %d errors, want 1", len(got))
	}
}

// TestEventTypesAccepted checks that every event type the on field lists
// validates (docs_test checks the list against the root package's source).
func TestEventTypesAccepted(t *testing.T) {
	for _, ev := range append([]canary.EventType{AllEvents}, canary.EventTypes...) {
		v := &validator{}
		v.eventType("on[0]", string(ev))
		if len(v.errs) != 0 {
			t.Errorf("event type %q: got %v, want no error", ev, v.errs)
		}
	}
}

// TestHookEnv: a hook's env takes variable names and secret references,
// on command hooks only, never PATH, HOME or LANG.
func TestHookEnv(t *testing.T) {
	base := `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 10, hold: 1m}, {weight: 100}]
  rules: [{metric: errorRate, above: 5%, for: 1m, action: rollback-immediate}]
  hooks:
`
	if _, err := Parse("p.yaml", []byte(base+"    - {name: a, at: afterStep, command: [notify], env: {API_TOKEN: env:CANARY_SECRET_API}}\n")); err != nil {
		t.Fatalf("valid env: %v", err)
	}
	bad := base + `    - {name: a, at: afterStep, http: {url: "http://x"}, env: {T: env:X}}
    - {name: b, at: afterStep, command: [x], env: {PATH: env:X, "1x": env:Y, OK: plain-value}}
`
	_, err := Parse("p.yaml", []byte(bad))
	for _, want := range []string{"spec.hooks[0].env: only command hooks", "spec.hooks[1].env.PATH: PATH is set by the host",
		`spec.hooks[1].env.1x: "1x" is not an environment variable name`, "spec.hooks[1].env.OK: not a secret reference"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
