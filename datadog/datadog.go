// Package datadog measures a rollout with Datadog's metrics query API
// (GET /api/v1/query, one request per query over the window). The
// defaults read Datadog APM's trace metrics of the service,
// trace.http.request.hits and .errors (counts) and the trace.http.request
// latency distribution, the canary's series told from the stable's by a
// tag. metricsrc combines the counts into measurements.
//
// The v1 query endpoint is used rather than v2's timeseries: its query is
// the text of a Datadog graph (what users copy from a dashboard), one
// query per GET, while v2 wraps queries and formulas in a JSON body for
// cross-source arithmetic, which canary does itself (errors/requests).
package datadog

import (
	"cmp"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// Kind names the source in errors and `canary query`.
const Kind = "datadog"

// DefaultAddress is Datadog's US1 API.
const DefaultAddress = "https://api.datadoghq.com"

// Default query templates: APM trace metrics of the service's http.request
// spans, filtered by the track's tag (tracks; default track:stable,
// track:canary).
const (
	DefaultRequestsQuery = `sum:trace.http.request.hits{service:{{.Service}},{{.Selector}}}.as_count()`
	DefaultErrorsQuery   = `sum:trace.http.request.errors{service:{{.Service}},{{.Selector}}}.as_count()`
	DefaultLatencyQuery  = `p{{.Percentile}}:trace.http.request{service:{{.Service}},{{.Selector}}}.rollup({{.Seconds}})`
)

// DefaultQueries returns a new map of the default templates by name.
func DefaultQueries() map[string]string {
	return map[string]string{metricsrc.QueryRequests: DefaultRequestsQuery, metricsrc.QueryErrors: DefaultErrorsQuery,
		metricsrc.QueryLatency: DefaultLatencyQuery}
}

// DefaultTracks are the track tags when the plan sets none.
var DefaultTracks = canary.TrackValues{Stable: "track:stable", Canary: "track:canary"}

// Config configures a Source.
type Config struct {
	// Plan is the plan's analysis.metrics.datadog. Required.
	Plan canary.DatadogMetrics
	// Env is the host's: the rollout's name and namespace (the templates'
	// defaults), how the keys are read, the egress dialer.
	metricsrc.Env
}

// New validates cfg, reads its keys and parses its templates; it does not
// contact Datadog. Problems are canary.EINVALID errors.
func New(cfg Config) (*metricsrc.Source, error) {
	pd := cfg.Plan
	return metricsrc.NewCounts(metricsrc.CountsConfig{Kind: Kind, Env: cfg.Env, Address: cmp.Or(pd.Address, DefaultAddress),
		Keys: []metricsrc.Key{{Field: "apiKey", Header: "DD-API-KEY", Ref: pd.APIKey},
			{Field: "applicationKey", Header: "DD-APPLICATION-KEY", Ref: pd.ApplicationKey}},
		Timeout: pd.Timeout.D(), Service: pd.Service,
		Templates: metricsrc.TemplateConfig{Defaults: DefaultQueries(), Overrides: pd.Queries,
			Tracks: canary.TrackValuesOf(pd.Selector, DefaultTracks), Language: "Datadog query"},
		Connect: func(h *metricsrc.HTTP, _ metricsrc.Retry) (metricsrc.Run, error) { return (&backend{h}).run, nil },
	})
}
