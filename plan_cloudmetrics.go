package canary

import "time"

// TrackValues gives a metric source one value per track: the tag, the
// NRQL condition or the target group that tells the canary's series from
// the stable's.
type TrackValues struct {
	// Stable is the stable track's value.
	Stable string `json:"stable"`
	// Canary is the canary track's value.
	Canary string `json:"canary"`
}

// TrackValuesOf are the values of a per-track map (a plan's selector),
// each track's default when the map has none.
func TrackValuesOf(m map[string]string, def TrackValues) TrackValues {
	if v, ok := m[string(TrackStable)]; ok {
		def.Stable = v
	}
	if v, ok := m[string(TrackCanary)]; ok {
		def.Canary = v
	}
	return def
}

// For returns the value of track t ("" for an unknown track).
func (v TrackValues) For(t Track) string {
	switch t {
	case TrackStable:
		return v.Stable
	case TrackCanary:
		return v.Canary
	}
	return ""
}

// DatadogMetrics configures the Datadog provider: one metrics query
// (GET /api/v1/query) per measurement over the window, its template
// filled with the rollout's variables. The defaults read Datadog APM's
// trace metrics trace.http.request.hits, .errors and .duration of the
// service, one track told from the other by a tag (tracks).
type DatadogMetrics struct {
	// Address of Datadog's API for the account's site. Default:
	// https://api.datadoghq.com (US1); e.g. https://api.datadoghq.eu,
	// https://api.us5.datadoghq.com.
	Address string `json:"address,omitempty"`
	// APIKey is a reference (env:NAME, file:/path; secret:NAME/KEY under
	// the operator) to the API key sent as DD-API-KEY. Required.
	APIKey SecretRef `json:"apiKey"`
	// ApplicationKey is a reference to the application key sent as
	// DD-APPLICATION-KEY. Required.
	ApplicationKey SecretRef `json:"applicationKey"`
	// Service is the templates' {{.Service}}: the APM service name.
	// Default: metadata.name.
	Service string `json:"service,omitempty"`
	// Selector is, per track (stable, canary), the tag filter of the
	// track's series, the templates' {{.Selector}}, e.g. {stable:
	// "version:1.4.2", canary: "version:1.5.0"}. Default: track:stable and
	// track:canary (a track tag on the service's spans).
	Selector map[string]string `json:"selector,omitempty"`
	// Timeout of one measurement, retries included. Default: 10s.
	Timeout Duration `json:"timeout,omitempty"`
	// Queries overrides the query templates by name: requests (a count of
	// requests; its points are summed), errors (a count of failed
	// requests; summed) and latency (seconds; its points are averaged).
	// Variables: .Service, .Selector, .Track, .Namespace, .Window,
	// .Seconds, .Quantile (0.95) and .Percentile (95).
	Queries map[string]string `json:"queries,omitempty"`
}

// CloudWatchMetrics configures the CloudWatch provider: one
// GetMetricData request per measurement, with the AWS SDK's default
// credential chain (environment, shared config and credentials files,
// web identity, ECS and EC2 roles). The defaults read an Application
// Load Balancer's per-target-group metrics: RequestCount,
// HTTPCode_Target_5XX_Count and TargetResponseTime, the canary and the
// stable each behind a target group of their own.
type CloudWatchMetrics struct {
	// Region of the metrics, e.g. eu-west-1. Default: the SDK's
	// (AWS_REGION, the shared config file).
	Region string `json:"region,omitempty"`
	// Endpoint replaces the CloudWatch endpoint (a VPC endpoint, a test
	// server). Default: the region's.
	Endpoint string `json:"endpoint,omitempty"`
	// LoadBalancer is the ALB's LoadBalancer dimension,
	// app/NAME/ID (the end of its ARN), the templates' {{.LoadBalancer}}.
	// Required by the default queries.
	LoadBalancer string `json:"loadBalancer,omitempty"`
	// TargetGroups is each track's TargetGroup dimension,
	// targetgroup/NAME/ID, the templates' {{.Selector}}. Required.
	TargetGroups TrackValues `json:"targetGroups"`
	// Period is the metrics' resolution, the shortest window a rule may
	// have: 60s for standard metrics, 1s to 30s for high-resolution ones.
	// Default: 60s.
	Period Duration `json:"period,omitempty"`
	// Timeout of one measurement, retries included. Default: 10s.
	Timeout Duration `json:"timeout,omitempty"`
	// Queries overrides the metrics by name: requests (summed over the
	// window), errors (summed) and latency (a percentile statistic,
	// seconds).
	Queries map[string]CloudWatchQuery `json:"queries,omitempty"`
}

// CloudWatchQuery is one CloudWatch metric statistic. Dimension values
// are templates with .Selector, .LoadBalancer, .Service, .Namespace and
// .Track.
type CloudWatchQuery struct {
	// Namespace of the metric, e.g. AWS/ApplicationELB. Required.
	Namespace string `json:"namespace"`
	// MetricName, e.g. RequestCount. Required.
	MetricName string `json:"metricName"`
	// Dimensions by name; values are templates.
	Dimensions map[string]string `json:"dimensions,omitempty"`
	// Stat is the statistic: Sum for counts, pNN for a latency (p95;
	// "p{{.Percentile}}" follows the rule's quantile). Default: Sum, or
	// p{{.Percentile}} for latency.
	Stat string `json:"stat,omitempty"`
}

// NewRelicMetrics configures the New Relic provider: one NRQL query per
// measurement over NerdGraph (POST /graphql). The defaults read APM
// Transaction events of the application, one track told from the other
// by a condition (tracks).
type NewRelicMetrics struct {
	// AccountID is the New Relic account the queries run in. Required.
	AccountID int `json:"accountID"`
	// Region is US or EU: which NerdGraph endpoint to use. Default: US.
	Region string `json:"region,omitempty"`
	// Address replaces the NerdGraph endpoint (https://api.newrelic.com/graphql,
	// https://api.eu.newrelic.com/graphql).
	Address string `json:"address,omitempty"`
	// APIKey is a reference to a user API key (NRAK-…) sent as API-Key.
	// Required.
	APIKey SecretRef `json:"apiKey"`
	// AppName is the templates' {{.Service}}: the APM application name.
	// Default: metadata.name.
	AppName string `json:"appName,omitempty"`
	// Selector is, per track (stable, canary), the NRQL condition of the
	// track's events, the templates' {{.Selector}}, e.g. {stable:
	// "tags.version = '1.4.2'", canary: "tags.version = '1.5.0'"}.
	// Default: tags.track = 'stable' and tags.track = 'canary'.
	Selector map[string]string `json:"selector,omitempty"`
	// Timeout of one measurement, retries included. Default: 10s.
	Timeout Duration `json:"timeout,omitempty"`
	// Queries overrides the NRQL templates by name: requests (a count),
	// errors (a count) and latency (seconds). Each must return one row
	// with one number. Variables as Datadog's, plus .Since and .Until
	// (epoch milliseconds).
	Queries map[string]string `json:"queries,omitempty"`
}

// DefaultCloudWatchPeriod is the resolution of standard CloudWatch
// metrics.
const DefaultCloudWatchPeriod = 60 * time.Second

// Resolution is the shortest window the source measures: a rule's window
// and the analysis interval may not be shorter. 0: any window.
func (m MetricsSource) Resolution() time.Duration {
	if c := m.CloudWatch; c != nil {
		if c.Period > 0 {
			return c.Period.D()
		}
		return DefaultCloudWatchPeriod
	}
	if g := m.Graphite; g != nil {
		if g.Resolution > 0 {
			return g.Resolution.D()
		}
		return DefaultGraphiteResolution
	}
	return 0
}

// ResolutionField is the plan field that sets Resolution, under
// analysis.metrics: cloudwatch.period, graphite.resolution; "" for a
// source without one.
func (m MetricsSource) ResolutionField() string {
	switch {
	case m.CloudWatch != nil:
		return "cloudwatch.period"
	case m.Graphite != nil:
		return "graphite.resolution"
	}
	return ""
}
