package providers

import (
	"context"
	"net"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/cloudwatch"
	"github.com/canary-dev/canary/datadog"
	"github.com/canary-dev/canary/newrelic"
)

// cloudMetrics is the plan's Datadog, CloudWatch or New Relic source
// under env: its keys read with env.Secrets within ctx (once, while the
// source is built), its connections dialed through env.Egress.
// CloudWatch's credentials come from the AWS SDK's default chain of the
// host (environment, files, the pod's web identity, instance roles), not
// from the plan.
func cloudMetrics(ctx context.Context, p *canary.Plan, env Env) (canary.MetricSource, error) {
	var secrets func(canary.SecretRef) (string, error)
	if env.Secrets != nil {
		secrets = func(ref canary.SecretRef) (string, error) { return env.Secrets(ctx, ref) }
	}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if env.Egress != nil {
		dial = env.Egress.DialContext
	}
	switch m := p.Spec.Analysis.Metrics; {
	case m.Datadog != nil:
		cfg, err := datadog.FromPlan(p)
		if err != nil {
			return nil, err
		}
		cfg.Secrets, cfg.Dial = secrets, dial
		return datadog.New(cfg)
	case m.NewRelic != nil:
		cfg, err := newrelic.FromPlan(p)
		if err != nil {
			return nil, err
		}
		cfg.Secrets, cfg.Dial = secrets, dial
		return newrelic.New(cfg)
	default:
		cfg, err := cloudwatch.FromPlan(p)
		if err != nil {
			return nil, err
		}
		cfg.Dial = dial
		return cloudwatch.New(ctx, cfg)
	}
}
