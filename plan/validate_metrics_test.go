package plan

import "testing"

// TestMetricSourceErrors: the web, influxdb and graphite sources' checks,
// each with its exact error and position; graphite's resolution (default
// 60s) refuses the default 30s interval, and windows that are not whole
// steps.
func TestMetricSourceErrors(t *testing.T) {
	a := "  analysis:\n    metrics:\n"
	const graphiteInterval = "plan.yaml:20:5: spec.analysis.interval: 30s is shorter than the metrics' resolution (1m, analysis.metrics.graphite.resolution): a window cannot be shorter than one datapoint, so write at least 1m"
	tests := []struct {
		name    string
		metrics string
		want    []string
	}{
		{"two sources", "      web: {url: http://h, jq: .v}\n      graphite: {address: http://g}\n",
			[]string{graphiteInterval, `plan.yaml:22:17: spec.analysis.metrics.graphite: only one metrics source may be set, but web is set too: remove one of them`}},
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
		{"graphite two credentials", "      graphite: {address: http://g, resolution: 10s, bearerToken: env:T, basicAuth: {username: u, password: env:P}}\n",
			[]string{`plan.yaml:21:85: spec.analysis.metrics.graphite.basicAuth: bearerToken is set too: use one of them`}},
		// Carbon's default schema stores a point a minute: the default
		// 30s interval reads none in half of its windows.
		{"graphite default resolution", "      graphite: {address: http://g}\n", []string{graphiteInterval}},
		{"graphite resolution", "      graphite: {address: http://g, resolution: 1500ms}\n",
			[]string{`plan.yaml:21:49: spec.analysis.metrics.graphite.resolution: 1.5s is not a storage step: write whole seconds as in Carbon's storage-schemas.conf, e.g. 10s or 60s`}},
		{"graphite zero timeout", "      graphite: {address: http://g, resolution: 30s, timeout: 0s}\n",
			[]string{`plan.yaml:21:63: spec.analysis.metrics.graphite.timeout: 0s means "use the default" (10s) here: omit the field for the default, or write a value above 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, edit{"", a + tt.metrics}), tt.want)
		})
	}
}

// TestGraphiteWindows: with Graphite the interval and the rules' windows
// must be whole storage steps (a window of 90s over 60s steps reads one
// point or two).
func TestGraphiteWindows(t *testing.T) {
	const g = "  analysis:\n    interval: 1m\n    metrics:\n      graphite: {address: http://g}\n"
	tests := []struct {
		name  string
		edits []edit
		want  []string
	}{
		{"valid", []edit{{"", g}}, nil},
		{"resolution 10s, interval 30s", []edit{{"", g}, {"interval: 1m", "interval: 30s"}, {"address: http://g", "address: http://g, resolution: 10s"}}, nil},
		{"interval not whole steps", []edit{{"", g}, {"interval: 1m", "interval: 90s"}}, []string{
			"plan.yaml:20:15: spec.analysis.interval: 1m30s is not a multiple of the metrics' resolution (1m, analysis.metrics.graphite.resolution): a window reads one point per step, so write 1m or 2m",
		}},
		{"window not whole steps", []edit{{"", g}, {"address: http://g", "address: http://g, resolution: 20s"}, {"action: rollback-gradual", "action: rollback-gradual\n      window: 70s"}}, []string{
			"plan.yaml:19:15: spec.rules[0].window: 1m10s is not a multiple of the metrics' resolution (20s, analysis.metrics.graphite.resolution): a window reads one point per step, so write 1m or 1m20s",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, tt.edits...), tt.want)
		})
	}
}
