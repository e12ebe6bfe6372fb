package plan

import "testing"

// TestCloudMetricsValidation breaks the datadog, cloudwatch and newRelic
// settings once per check.
func TestCloudMetricsValidation(t *testing.T) {
	const dd = "  analysis:\n    metrics:\n      datadog: {apiKey: env:DD_API_KEY, applicationKey: env:DD_APP_KEY}\n"
	const cw = "  analysis:\n    interval: 1m\n    metrics:\n      cloudwatch: {region: eu-west-1, loadBalancer: app/shop/1, targetGroups: {stable: targetgroup/s/1, canary: targetgroup/c/2}}\n"
	const nr = "  analysis:\n    metrics:\n      newRelic: {accountID: 1234567, apiKey: env:NEW_RELIC_API_KEY}\n"
	tests := []struct {
		name  string
		edits []edit
		want  []string
	}{
		{"datadog valid", []edit{{"", dd}}, nil},
		{"cloudwatch valid", []edit{{"", cw}}, nil},
		{"newRelic valid", []edit{{"", nr}}, nil},
		{"datadog keys missing", []edit{{"", "  analysis:\n    metrics:\n      datadog: {selector: {stable: 'version:v1', beta: x}, queries: {p95: x}}\n"}}, []string{
			"plan.yaml:21:16: spec.analysis.metrics.datadog.apiKey: required: write a reference to the secret, e.g. env:DD_API_KEY",
			"plan.yaml:21:16: spec.analysis.metrics.datadog.applicationKey: required: write a reference to the secret, e.g. env:DD_APP_KEY",
			`plan.yaml:21:56: spec.analysis.metrics.datadog.selector[beta]: "beta" is not a track: write stable or canary`,
			`plan.yaml:21:75: spec.analysis.metrics.datadog.queries[p95]: "p95" is not a query name: write requests, errors or latency`,
		}},
		{"datadog key written in the plan", []edit{{"", "  analysis:\n    metrics:\n      datadog: {apiKey: 0123456789abcdef, applicationKey: env:K}\n"}}, []string{
			"plan.yaml:21:25: spec.analysis.metrics.datadog.apiKey: not a secret reference (the value is not shown, in case it is a secret): write env:NAME, file:/path or secret:NAME/KEY (a Kubernetes Secret, read by canary operator); secrets are never written in a plan",
		}},
		{"two sources", []edit{{"", "  analysis:\n    metrics:\n      prometheus: {address: http://p:9090}\n      newRelic: {accountID: 1, apiKey: env:K}\n"}}, []string{
			"plan.yaml:22:17: spec.analysis.metrics.newRelic: only one metrics source may be set, but prometheus is set too: remove one of them",
		}},
		{"newRelic account and region", []edit{{"", "  analysis:\n    metrics:\n      newRelic: {region: APAC, apiKey: env:K}\n"}}, []string{
			"plan.yaml:21:17: spec.analysis.metrics.newRelic.accountID: required: write the New Relic account ID the NRQL runs in, e.g. 1234567",
			`plan.yaml:21:26: spec.analysis.metrics.newRelic.region: "APAC" is not a New Relic region: write US or EU (or address for another endpoint)`,
		}},
		// Standard CloudWatch metrics have one datapoint a minute: the
		// default 30s interval (and so every window) is too short.
		{"cloudwatch interval shorter than the period", []edit{{"", cw}, {"interval: 1m", "interval: 30s"}}, []string{
			"plan.yaml:20:15: spec.analysis.interval: 30s is shorter than the metrics' resolution (1m, analysis.metrics.cloudwatch.period): a window cannot be shorter than one datapoint, so write at least 1m",
		}},
		{"cloudwatch window shorter than the period", []edit{{"", cw}, {"region: eu-west-1,", "region: eu-west-1, period: 2m,"}, {"action: rollback-gradual", "action: rollback-gradual\n      window: 90s"}}, []string{
			"plan.yaml:19:15: spec.rules[0].window: 1m30s is shorter than the metrics' resolution (2m, analysis.metrics.cloudwatch.period): write at least 2m",
			"plan.yaml:21:15: spec.analysis.interval: 1m is shorter than the metrics' resolution (2m, analysis.metrics.cloudwatch.period): a window cannot be shorter than one datapoint, so write at least 2m",
		}},
		{"cloudwatch target groups, period", []edit{{"", cw}, {"targetGroups: {stable: targetgroup/s/1, canary: targetgroup/c/2}", "period: 45s, targetGroups: {stable: targetgroup/s/1}"}}, []string{
			"plan.yaml:22:73: spec.analysis.metrics.cloudwatch.period: 45s is not a CloudWatch period: write 60s or a multiple of it (1s, 5s, 10s or 30s for high-resolution metrics)",
			"plan.yaml:22:92: spec.analysis.metrics.cloudwatch.targetGroups.canary: required: the canary track's TargetGroup dimension, e.g. targetgroup/shop-canary/943f017f100becff",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, tt.edits...), tt.want)
		})
	}
}

// TestCloudExamples: the example plan of each API source is valid.
func TestCloudExamples(t *testing.T) {
	for _, f := range []string{"datadog.yaml", "cloudwatch.yaml", "newrelic.yaml"} {
		if _, err := Load("../examples/" + f); err != nil {
			t.Errorf("examples/%s: %v", f, err)
		}
	}
}
