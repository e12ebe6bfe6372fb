package providers

import (
	"context"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/cloudwatch"
	"github.com/canary-dev/canary/datadog"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/canary-dev/canary/newrelic"
)

// cloudMetrics is the plan's Datadog, CloudWatch or New Relic source
// under env: its keys read with env.Secrets within ctx (once, while the
// source is built), its connections dialed through env.Egress.
// CloudWatch's credentials come from the AWS SDK's default chain of the
// host (environment, files, the pod's web identity, instance roles), not
// from the plan.
func cloudMetrics(ctx context.Context, p *canary.Plan, env Env) (canary.MetricSource, error) {
	hc := sourceHTTP(ctx, env)
	host := metricsrc.Env{Service: p.Metadata.Name, Namespace: p.Metadata.Namespace, Secrets: hc.Secrets, Dial: hc.Dial}
	switch m := p.Spec.Analysis.Metrics; {
	case m.Datadog != nil:
		return datadog.New(datadog.Config{Plan: *m.Datadog, Env: host})
	case m.NewRelic != nil:
		return newrelic.New(newrelic.Config{Plan: *m.NewRelic, Env: host})
	case m.CloudWatch != nil:
		return cloudwatch.New(ctx, cloudwatch.Config{Plan: *m.CloudWatch, Env: host})
	}
	return nil, canary.Errorf(canary.EINVALID, "the plan has no analysis.metrics.datadog, newRelic or cloudwatch")
}
