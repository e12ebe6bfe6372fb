package canary

import "time"

// WebMetrics configures the web metric source: one HTTP(S) request per
// query, the value read from the JSON answer with a jq expression. The
// url, body and jq are templates with the variables of the Prometheus
// queries ({{.Window}}, {{.Track}}, {{.Service}}, {{.Namespace}},
// {{.Quantile}}), {{.Seconds}} (the window in seconds), {{.Start}} and
// {{.End}} (its bounds in Unix seconds), {{.Percentile}} (95, 99.9), the track's
// {{.Selector}}, the query's template {{.Name}} (latency, errorRate,
// requestRate, requests) and its rendered {{.Query}}; urlquery escapes a
// value for a URL ({{.Query | urlquery}}).
type WebMetrics struct {
	// URL is the request's URL template, http or https. Required.
	URL string `json:"url"`
	// Method of the request. Default: GET, or POST with a body.
	Method string `json:"method,omitempty"`
	// Headers are sent as written (not secret), e.g. {Accept:
	// application/json}.
	Headers map[string]string `json:"headers,omitempty"`
	// SecretHeaders are sent with every request, each value read from a
	// secret reference when the source is built (env:NAME, file:/path;
	// secret:NAME/KEY under canary operator), e.g. {Authorization:
	// env:METRICS_AUTH} holding "Bearer …". Never printed.
	SecretHeaders map[string]SecretRef `json:"secretHeaders,omitempty"`
	// Body is the request body template, sent as application/json unless
	// headers set a Content-Type. Default: none.
	Body string `json:"body,omitempty"`
	// JQ is the jq expression template that yields the value from the
	// JSON answer: one number; null, nothing or an empty array is no
	// data; several numbers are an error. Required.
	JQ string `json:"jq"`
	// Queries are per-query templates by name (latency, errorRate,
	// requestRate, requests), the {{.Query}} of url, body and jq. The
	// latency query yields seconds, errorRate a ratio 0..1, requestRate
	// requests per second, requests the number of requests in the window
	// per track (the samples minRequests and the confidence bounds of
	// threshold rules need). Default: the name itself.
	Queries map[string]string `json:"queries,omitempty"`
	// Selector is, per track (stable, canary), a template of how that
	// track's series is told apart (a label value, a tag), shown to the
	// other templates as {{.Selector}}. Default: the track's name.
	Selector map[string]string `json:"selector,omitempty"`
	// Timeout of one query, retries included. Default: 10s.
	Timeout Duration `json:"timeout,omitempty"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// server's certificate. Default: the system's.
	CAFile string `json:"caFile,omitempty"`
}

// InfluxDBMetrics configures the InfluxDB source: InfluxQL over the
// HTTP API's /query. The default queries read what Telegraf and the
// usual middlewares write: a measurement http_requests with a tag track
// (stable or canary) and the fields duration_ms (request latency in
// milliseconds) and status (the HTTP status code), one point per request.
type InfluxDBMetrics struct {
	// Address of the server, e.g. http://influxdb:8086. Required.
	Address string `json:"address"`
	// Database to query. Required.
	Database string `json:"database"`
	// RetentionPolicy sent as rp. Default: the database's default.
	RetentionPolicy string `json:"retentionPolicy,omitempty"`
	// BasicAuth authenticates with a user name and a password reference.
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`
	// Token is a reference to an API token sent as Authorization: Token
	// (InfluxDB 2.x's 1.x-compatible API). Not with basicAuth.
	Token SecretRef `json:"token,omitempty"`
	// Queries override the InfluxQL templates by name (latency, errorRate,
	// requestRate, requests); each must return one value (one series, one
	// row). The variables are those of prometheus.queries plus
	// {{.Seconds}}, {{.Start}}, {{.End}}, {{.Percentile}} and
	// {{.Selector}}.
	Queries map[string]string `json:"queries,omitempty"`
	// Selector is, per track (stable, canary), the InfluxQL condition
	// that selects the track's points. Default: "track" = '{{.Track}}'.
	Selector map[string]string `json:"selector,omitempty"`
	// Timeout of one query, retries included. Default: 10s.
	Timeout Duration `json:"timeout,omitempty"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// server's certificate. Default: the system's.
	CAFile string `json:"caFile,omitempty"`
}

// GraphiteMetrics configures the Graphite source: the render API
// (/render?format=json, from and until the window's bounds). The default
// targets read statsd's names under its default prefixes, per track (the
// selector, default the track's name): the counters
// stats_counts.{{.Service}}.{{.Selector}}.requests (all requests) and
// .errors (5xx answers), and the timer
// stats.timers.{{.Service}}.{{.Selector}}.latency in milliseconds, read
// as upper_95 (statsd's percentThreshold must list the rules'
// percentiles; 99.9 is upper_99_9).
type GraphiteMetrics struct {
	// Address of graphite-web, e.g. http://graphite:8080, with its path
	// prefix if it has one. Required.
	Address string `json:"address"`
	// BasicAuth authenticates with a user name and a password reference.
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`
	// BearerToken is a reference to a token sent as Authorization: Bearer
	// (Grafana's Graphite proxy, hosted Graphite). Not with basicAuth.
	BearerToken SecretRef `json:"bearerToken,omitempty"`
	// Queries override the render targets by name (latency, errorRate,
	// requestRate, requests); each must yield one series, summarized to
	// one value over the window (e.g. with summarize(…, "1y", "sum",
	// true)). Variables as prometheus.queries plus {{.Seconds}},
	// {{.Start}}, {{.End}}, {{.Percentile}} and {{.Selector}}.
	Queries map[string]string `json:"queries,omitempty"`
	// Selector is, per track (stable, canary), the metric path node that
	// tells the track apart. Default: the track's name.
	Selector map[string]string `json:"selector,omitempty"`
	// Resolution is the step of the metrics' storage schema (Carbon's
	// storage-schemas.conf, e.g. 10s:6h): the analysis interval and the
	// rules' windows must be multiples of it. Default: 60s (Carbon's
	// default schema).
	Resolution Duration `json:"resolution,omitempty"`
	// Timeout of one query, retries included. Default: 10s.
	Timeout Duration `json:"timeout,omitempty"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// server's certificate. Default: the system's.
	CAFile string `json:"caFile,omitempty"`
}

// DefaultGraphiteResolution is the step of Carbon's default storage
// schema (60s:1d).
const DefaultGraphiteResolution = 60 * time.Second
