package providers

import (
	"context"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/graphitesrc"
	"github.com/canary-dev/canary/influxql"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/canary-dev/canary/promql"
	"github.com/canary-dev/canary/webmetrics"
)

// Metrics is the plan's metric source other than the built-in proxy's
// recorder (which Build starts with the proxy): analysis.metrics
// prometheus, web, influxdb or graphite (cloud sources: cloudMetrics), with env's secrets and outbound
// policy. Its credentials are read now, within ctx.
func Metrics(ctx context.Context, p *canary.Plan, env Env) (canary.MetricSource, error) {
	switch prov := p.Spec.Analysis.Metrics.Provider(); {
	case prov == "prometheus":
		return Prometheus(ctx, p, env)
	case prov == "web":
		return valueSource(ctx, p, env, webmetrics.FromPlan, webmetrics.New)
	case prov == "influxdb":
		return valueSource(ctx, p, env, influxql.FromPlan, influxql.New)
	case prov == "graphite":
		return valueSource(ctx, p, env, graphitesrc.FromPlan, graphitesrc.New)
	case prov == "datadog", prov == "cloudwatch", prov == "newRelic":
		return cloudMetrics(ctx, p, env)
	case isBuiltin(p) && env.Proxy == nil:
		return nil, canary.Errorf(canary.EINVALID, "analysis.metrics: %s needs analysis.metrics.prometheus (builtin measures the built-in proxy, which %s does not run)",
			env.host(), env.host())
	case isBuiltin(p):
		return nil, canary.Errorf(canary.EINVALID, "analysis.metrics: builtin measures the built-in proxy; with traffic.%s use analysis.metrics.prometheus",
			p.Spec.Traffic.Provider())
	default:
		return nil, canary.Errorf(canary.EINVALID, "metrics provider %q is not available in this build (use analysis.metrics.builtin, prometheus, web, influxdb, graphite, datadog, cloudwatch or newRelic)", prov)
	}
}

// Prometheus is the plan's Prometheus source under env: its bearerToken
// and basicAuth.password read with env.Secrets within ctx (promql reads
// them while building the source, never later), its connections dialed
// through env.Egress. env.PrometheusAddress, when set, replaces the
// plan's address, and gives a plan without analysis.metrics.prometheus
// the default queries.
func Prometheus(ctx context.Context, p *canary.Plan, env Env) (*promql.Source, error) {
	cfg := promql.Config{Service: p.Metadata.Name, Namespace: p.Metadata.Namespace}
	if p.Spec.Analysis.Metrics.Prometheus != nil || env.PrometheusAddress == "" {
		var err error
		if cfg, err = promql.FromPlan(p); err != nil {
			return nil, err
		}
	}
	if env.PrometheusAddress != "" {
		cfg.Address = env.PrometheusAddress
	}
	if env.Secrets != nil {
		cfg.Secrets = func(ref canary.SecretRef) (string, error) { return env.Secrets(ctx, ref) }
	}
	if env.Egress != nil {
		cfg.Dial = env.Egress.DialContext
	}
	return promql.New(cfg)
}

// valueSource builds a metricsrc value source (web, influxdb, graphite)
// from its plan section with env's HTTP seams.
func valueSource[P any](ctx context.Context, p *canary.Plan, env Env,
	fromPlan func(*canary.Plan) (metricsrc.Config[P], error),
	build func(metricsrc.Config[P]) (*metricsrc.Source, error)) (canary.MetricSource, error) {
	cfg, err := fromPlan(p)
	if err != nil {
		return nil, err
	}
	cfg.HTTP = sourceHTTP(ctx, env)
	src, err := build(cfg)
	if err != nil {
		return nil, err // not a nil *Source in a non-nil interface
	}
	return src, nil
}

// sourceHTTP is the HTTP configuration every metricsrc source gets from
// env: secrets read with env.Secrets within ctx (while the source is
// built, never later), connections dialed through env.Egress.
func sourceHTTP(ctx context.Context, env Env) metricsrc.HTTPConfig {
	var c metricsrc.HTTPConfig
	if env.Secrets != nil {
		c.Secrets = func(ref canary.SecretRef) (string, error) { return env.Secrets(ctx, ref) }
	}
	if env.Egress != nil {
		c.Dial = env.Egress.DialContext
	}
	return c
}
