package plan

import "testing"

// TestMetricSourceErrors: the web, influxdb and graphite sources' checks,
// each with its exact error and position; a graphite source is refused as
// not available yet, besides its own errors.
func TestMetricSourceErrors(t *testing.T) {
	a := "  analysis:\n    metrics:\n"
	const graphiteNotYet = "spec.analysis.metrics.graphite: not available yet: the Graphite source's settings are defined, but canary cannot query Graphite in this version; meanwhile use analysis.metrics.web with graphite-web's render API (url: http://graphite:8080/render?format=json&from=-{{.Seconds}}s&target=..., jq: the datapoints' value)"
	tests := []struct {
		name    string
		metrics string
		want    []string
	}{
		{"two sources", "      web: {url: http://h, jq: .v}\n      graphite: {address: http://g}\n",
			[]string{`plan.yaml:22:17: spec.analysis.metrics.graphite: only one metrics source may be set, but web is set too: remove one of them`, "plan.yaml:22:17: " + graphiteNotYet}},
		{"web url missing", "      web: {jq: .v}\n",
			[]string{`plan.yaml:21:12: spec.analysis.metrics.web.url: required: write a URL template, e.g. https://metrics.example.com/api/{{.Query}}?track={{.Track}}&window={{.Window}}`}},
		{"web url template", "      web: {url: 'http://h/{{.Track', jq: .v}\n",
			[]string{`plan.yaml:21:18: spec.analysis.metrics.web.url: "http://h/{{.Track" is not a valid template (unclosed action): the variables are .Window, .Seconds, .Start, .End, .Track, .Service, .Namespace, .Quantile, .Percentile, .Selector (web also .Name and .Query)`}},
		{"web jq", "      web: {url: http://h, jq: '.a['}\n",
			[]string{`plan.yaml:21:32: spec.analysis.metrics.web.jq: ".a[" is not a valid jq expression (unexpected EOF): fix it, e.g. .data.value`}},
		{"web literal secret header", "      web: {url: http://h, jq: .v, secretHeaders: {Authorization: Bearer abc}}\n",
			[]string{`plan.yaml:21:67: spec.analysis.metrics.web.secretHeaders[Authorization]: not a secret reference (the value is not shown, in case it is a secret): write env:NAME, file:/path or secret:NAME/KEY (a Kubernetes Secret, read by canary operator); secrets are never written in a plan`}},
		{"web method", "      web: {url: http://h, jq: .v, method: DELETE}\n",
			[]string{`plan.yaml:21:44: spec.analysis.metrics.web.method: "DELETE" is not a method a query uses: write GET or POST`}},
		{"web selector track", "      web: {url: http://h, jq: .v, selector: {blue: b}}\n",
			[]string{`plan.yaml:21:53: spec.analysis.metrics.web.selector[blue]: "blue" is not a track: write stable or canary`}},
		{"influxdb database", "      influxdb: {address: http://i:8086}\n",
			[]string{`plan.yaml:21:17: spec.analysis.metrics.influxdb.database: required: name the database to query, e.g. telegraf`}},
		{"influxdb query name", "      influxdb: {address: http://i:8086, database: t, queries: {p95: x}}\n",
			[]string{`plan.yaml:21:70: spec.analysis.metrics.influxdb.queries[p95]: "p95" is not a query name: write latency, errorRate, requestRate or requests`}},
		{"graphite two credentials", "      graphite: {address: http://g, bearerToken: env:T, basicAuth: {username: u, password: env:P}}\n",
			[]string{"plan.yaml:21:17: " + graphiteNotYet, `plan.yaml:21:68: spec.analysis.metrics.graphite.basicAuth: bearerToken is set too: use one of them`}},
		{"graphite zero timeout", "      graphite: {address: http://g, timeout: 0s}\n",
			[]string{`plan.yaml:21:46: spec.analysis.metrics.graphite.timeout: 0s means "use the default" (10s) here: omit the field for the default, or write a value above 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, edit{"", a + tt.metrics}), tt.want)
		})
	}
}
