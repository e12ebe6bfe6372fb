package promql

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/canary-dev/canary"
	"github.com/prometheus/common/model"
)

// Query template names: the keys of Config.Queries and of a plan's
// analysis.metrics.prometheus.queries.
const (
	// QueryLatency is a latency quantile in seconds; it sees {{.Quantile}}.
	QueryLatency = "latency"
	// QueryErrorRate is the ratio of 5xx answers to all requests (0..1).
	QueryErrorRate = "errorRate"
	// QueryRequestRate is requests per second.
	QueryRequestRate = "requestRate"
	// QueryRequests is the number of requests in the window; it fills
	// Measurement.Samples, which minRequests is checked against.
	QueryRequests = "requests"
	// QueryLatencyBuckets is, for a latency, the number of requests in
	// each cumulative histogram bucket over the window: one series per
	// bucket with an le label (as sum by (le) (increase(…_bucket[…]))
	// gives). It fills Measurement.Latency; an empty result leaves it
	// out, and compare: baseline rules then compare per-interval
	// quantiles instead.
	QueryLatencyBuckets = "latencyBuckets"
)

// The default query templates read the built-in proxy's /metrics
// (canary_proxy_requests_total{track,code} and the histogram
// canary_proxy_request_duration_seconds{track}), so `metrics: prometheus`
// works against a Prometheus scraping canary's own proxy. They follow the
// runbook's queries: histogram_quantile over the duration buckets, the 5xx
// rate over the request rate, and the request rate.
const (
	DefaultLatencyQuery = `histogram_quantile({{.Quantile}}, sum by (le) (rate(canary_proxy_request_duration_seconds_bucket{track="{{.Track}}"}[{{.Window}}])))`
	// DefaultErrorRateQuery counts a missing 5xx series as no errors; with
	// no requests at all it is 0/0, NaN, which is no data.
	DefaultErrorRateQuery   = `(sum(rate(canary_proxy_requests_total{track="{{.Track}}",code="5xx"}[{{.Window}}])) or vector(0)) / sum(rate(canary_proxy_requests_total{track="{{.Track}}"}[{{.Window}}]))`
	DefaultRequestRateQuery = `sum(rate(canary_proxy_requests_total{track="{{.Track}}"}[{{.Window}}]))`
	DefaultRequestsQuery    = `sum(increase(canary_proxy_requests_total{track="{{.Track}}"}[{{.Window}}]))`
	// DefaultLatencyBucketsQuery reads the same histogram as
	// DefaultLatencyQuery, bucket by bucket.
	DefaultLatencyBucketsQuery = `sum by (le) (increase(canary_proxy_request_duration_seconds_bucket{track="{{.Track}}"}[{{.Window}}]))`
)

// QueryNames lists the template names in a fixed order.
var QueryNames = []string{QueryLatency, QueryErrorRate, QueryRequestRate, QueryRequests, QueryLatencyBuckets}

// DefaultQueries returns a new map of the default templates by name.
func DefaultQueries() map[string]string {
	return map[string]string{
		QueryLatency:     DefaultLatencyQuery,
		QueryErrorRate:   DefaultErrorRateQuery,
		QueryRequestRate: DefaultRequestRateQuery,
		QueryRequests:    DefaultRequestsQuery,

		QueryLatencyBuckets: DefaultLatencyBucketsQuery,
	}
}

// Vars are the values a query template sees.
type Vars struct {
	// Window is the query's window as a Prometheus duration: 30s, 5m,
	// 1h30m, 1s500ms.
	Window string
	// Track is stable or canary.
	Track string
	// Service is the rollout's name (the plan's metadata.name).
	Service string
	// Namespace is the rollout's namespace (metadata.namespace).
	Namespace string
	// Quantile is the latency quantile as a decimal, e.g. 0.95 for
	// latencyP95; empty in the other templates.
	Quantile string
}

// Exprs is the PromQL one canary.Query runs.
type Exprs struct {
	// Name of the value template: latency, errorRate or requestRate.
	Name string `json:"name"`
	// Value is the rendered value query.
	Value string `json:"value"`
	// Requests is the rendered requests query; its result is the samples.
	Requests string `json:"requests"`
	// Buckets is the rendered latencyBuckets query of a latency; its
	// result is the latency distribution.
	Buckets string `json:"buckets,omitempty"`
}

// ValidateQueries checks query template overrides as New does: known
// names, not empty, valid text/template syntax using only the Vars
// fields. The error names the query. Plan validation can call it, so a
// template typo is an error of `canary validate` rather than of the first
// evaluation.
func ValidateQueries(queries map[string]string) error {
	_, err := parseTemplates(queries)
	return err
}

// templates are the parsed query templates by name.
type templates map[string]*template.Template

// parseTemplates merges overrides over the defaults, parses every
// template and renders it once with sample values, so a typo such as
// {{.Trak}} fails at construction, naming the query.
func parseTemplates(overrides map[string]string) (templates, error) {
	texts := DefaultQueries()
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		if !slices.Contains(QueryNames, name) {
			return nil, fmt.Errorf("queries[%s]: not a query name (use %s)", name, strings.Join(QueryNames, ", "))
		}
		if strings.TrimSpace(overrides[name]) == "" {
			return nil, fmt.Errorf("queries[%s]: empty (write a PromQL template, or leave it out for the default)", name)
		}
		texts[name] = overrides[name]
	}
	ts := templates{}
	probe := Vars{Window: "5m", Track: string(canary.TrackCanary), Service: "svc", Namespace: "ns", Quantile: "0.95"}
	for _, name := range QueryNames {
		t, err := template.New(name).Option("missingkey=error").Parse(texts[name])
		if err != nil {
			return nil, fmt.Errorf("queries[%s]: %w", name, err)
		}
		if err := t.Execute(&bytes.Buffer{}, probe); err != nil {
			return nil, fmt.Errorf("queries[%s]: %w (the variables are .Window, .Track, .Service, .Namespace and .Quantile)", name, err)
		}
		ts[name] = t
	}
	return ts, nil
}

func (ts templates) render(name string, v Vars) (string, error) {
	var b strings.Builder
	if err := ts[name].Execute(&b, v); err != nil {
		return "", fmt.Errorf("render query %s: %w", name, err)
	}
	return b.String(), nil
}

// FormatWindow writes d as a Prometheus duration (5m, 30s, 1m30s,
// 1s500ms). Durations are whole milliseconds in PromQL; d is rounded up
// to one.
func FormatWindow(d time.Duration) string {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return model.Duration(d).String()
}

// formatQuantile writes q (0 < q < 1) as a short decimal: 0.95, 0.999
// (latencyP99.9 divides 99.9 by 100, which is 0.9990000000000001 in
// floating point; ten decimals are more than any percentile has).
func formatQuantile(q float64) string {
	return strconv.FormatFloat(math.Round(q*1e10)/1e10, 'f', -1, 64)
}
