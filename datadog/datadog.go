// Package datadog measures a rollout with Datadog's metrics query API
// (GET /api/v1/query, one request per query over the window). The
// defaults read Datadog APM's trace metrics of the service,
// trace.http.request.hits and .errors (counts) and the trace.http.request
// latency distribution, the canary's series told from the stable's by a
// tag. apisrc combines the answers into measurements.
//
// The v1 query endpoint is used rather than v2's timeseries: its query is
// the text of a Datadog graph (what users copy from a dashboard), one
// query per GET, while v2 wraps queries and formulas in a JSON body for
// cross-source arithmetic, which canary does itself (errors/requests).
package datadog

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/apisrc"
)

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
	return map[string]string{apisrc.QueryRequests: DefaultRequestsQuery, apisrc.QueryErrors: DefaultErrorsQuery,
		apisrc.QueryLatency: DefaultLatencyQuery}
}

// DefaultTracks are the track tags when the plan sets none.
var DefaultTracks = canary.TrackValues{Stable: "track:stable", Canary: "track:canary"}

// Config configures a Source.
type Config struct {
	// Plan is the plan's analysis.metrics.datadog. Required.
	Plan canary.DatadogMetrics
	// Service and Namespace default the templates' variables (the
	// rollout's name and namespace).
	Service, Namespace string
	// Secrets reads the API and application keys. Default: env:NAME and
	// file:/path.
	Secrets func(canary.SecretRef) (string, error)
	// Dial connects the client (the egress policy's dialer). Default:
	// net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Retries and Backoff override apisrc's defaults (tests).
	Retries int
	Backoff time.Duration
}

// FromPlan is the Config of p's analysis.metrics.datadog.
func FromPlan(p *canary.Plan) (Config, error) {
	d := p.Spec.Analysis.Metrics.Datadog
	if d == nil {
		return Config{}, canary.Errorf(canary.EINVALID, "the plan has no analysis.metrics.datadog")
	}
	return Config{Plan: *d, Service: p.Metadata.Name, Namespace: p.Metadata.Namespace}, nil
}

// New validates cfg, reads its keys and parses its templates; it does not
// contact Datadog. Problems are canary.EINVALID errors.
func New(cfg Config) (*apisrc.Source, error) {
	pd := cfg.Plan
	addr := pd.Address
	if addr == "" {
		addr = DefaultAddress
	}
	base, err := apisrc.BaseURL("address", addr)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "datadog: %v", err)
	}
	b := &backend{base: base, hc: apisrc.HTTPClient(cfg.Dial)}
	if b.tmpl, err = apisrc.ParseTemplates(DefaultQueries(), pd.Queries); err != nil {
		return nil, canary.Errorf(canary.EINVALID, "datadog: %v", err)
	}
	if b.apiKey, err = apisrc.Secret(cfg.Secrets, "apiKey", pd.APIKey); err != nil {
		return nil, canary.Errorf(canary.EINVALID, "datadog: %v", err)
	}
	if b.appKey, err = apisrc.Secret(cfg.Secrets, "applicationKey", pd.ApplicationKey); err != nil {
		return nil, canary.Errorf(canary.EINVALID, "datadog: %v", err)
	}
	tracks := canary.TrackValuesOf(pd.Selector, DefaultTracks)
	svc := pd.Service
	if svc == "" {
		svc = cfg.Service
	}
	src, err := apisrc.New(apisrc.Config{Kind: "datadog", Address: base, Backend: b, Tracks: tracks,
		Vars:    apisrc.Vars{Service: svc, Namespace: cfg.Namespace},
		Timeout: pd.Timeout.D(), Retries: cfg.Retries, Backoff: cfg.Backoff})
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "datadog: %v", err)
	}
	return src, nil
}

// backend runs Datadog queries.
type backend struct {
	base           string
	hc             *http.Client
	tmpl           apisrc.Templates
	apiKey, appKey string
}

func (b *backend) Render(name string, v apisrc.Vars) (string, error) {
	if _, ok := b.tmpl[name]; !ok {
		return "", fmt.Errorf("datadog: no %s query", name)
	}
	return b.tmpl.Render(name, v)
}
