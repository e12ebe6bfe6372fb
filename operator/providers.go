package operator

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/executor"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/gatewayapi"
	"github.com/canary-dev/canary/promql"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultRouter is the gatewayAPI or replicas router of a plan on c, in
// the plan's namespace. For traffic.replicas it first asks the API server
// whether c may get, update and patch Deployments there (ReplicasVerbs),
// and names the missing verbs and where to grant them otherwise.
func DefaultRouter(c client.Client, p *canary.Plan) (canary.TrafficRouter, error) {
	if p.Spec.Traffic.Replicas != nil {
		return replicasRouter(c, p)
	}
	t := p.Spec.Traffic.GatewayAPI
	if t == nil {
		return nil, fmt.Errorf("traffic.%s is not available in the operator (use traffic.gatewayAPI, traffic.helm or traffic.replicas)", p.Spec.Traffic.Provider())
	}
	r, err := gatewayapi.New(gatewayapi.Config{Client: c, Namespace: p.Metadata.Namespace, Traffic: *t})
	if err != nil {
		return nil, fmt.Errorf("traffic.gatewayAPI: %w", err)
	}
	return r, nil
}

// DefaultMetrics is the plan's Prometheus source with env:/file: secret
// references only; builtin metrics measure the built-in proxy, which the
// operator does not run.
func DefaultMetrics(p *canary.Plan) (canary.MetricSource, error) {
	return PrometheusSource(p, nil)
}

// PrometheusSource is the plan's Prometheus source, its bearerToken and
// basicAuth.password read with secrets (nil: env:/file: only).
func PrometheusSource(p *canary.Plan, secrets func(canary.SecretRef) (string, error)) (canary.MetricSource, error) {
	return prometheusSource(p, secrets, nil)
}

// prometheusSource is PrometheusSource connecting with dial (nil: the
// default dialer).
func prometheusSource(p *canary.Plan, secrets func(canary.SecretRef) (string, error),
	dial func(ctx context.Context, network, addr string) (net.Conn, error)) (canary.MetricSource, error) {
	if p.Spec.Analysis.Metrics.Provider() != "prometheus" {
		return nil, errors.New("analysis.metrics: the operator needs analysis.metrics.prometheus (builtin measures the built-in proxy, which the operator does not run)")
	}
	cfg, err := promql.FromPlan(p)
	if err != nil {
		return nil, err
	}
	cfg.Secrets, cfg.Dial = secrets, dial
	return promql.New(cfg)
}

// secrets is the resolver of the rollouts of namespace ns.
func (r *Reconciler) secrets(ctx context.Context, ns string) SecretResolver {
	return SecretResolver{Reader: r.cfg.Secrets, Namespace: ns, Context: ctx, Timeout: r.cfg.CallTimeout, Redactor: r.cfg.Redactor}
}

// executor builds the providers the plan drives and their executor.
func (r *Reconciler) executor(p *canary.Plan) (*executor.Executor, error) {
	pv := executor.Providers{Checks: r.cfg.Checks}
	if cr, ok := r.cfg.Checks.(*checks.Runner); ok { // hooks' env: Secrets of the rollout's namespace
		pv.Checks = cr.WithSecrets(r.secrets(context.Background(), p.Metadata.Namespace).Resolve)
	}
	var err error
	if pv.Router, err = r.cfg.Router(p); err != nil {
		return nil, err
	}
	if pv.Metrics, err = r.cfg.Metrics(p); err != nil {
		return nil, err
	}
	if ff := p.Spec.FeatureFlag; ff != nil {
		if ff.Provider == "" || ff.Provider == flags.ProviderBuiltin {
			return nil, ErrBuiltinFlags
		}
		secrets := r.secrets(context.Background(), p.Metadata.Namespace)
		if pv.Flags, err = flags.NewSetter(ff, flags.SetterConfig{Rollout: p.Metadata.Namespace + "/" + p.Metadata.Name,
			Secrets: secrets.Resolve, HTTPClient: r.cfg.Egress.Client()}); err != nil {
			return nil, err
		}
	}
	return executor.New(executor.Config{Plan: p, Providers: pv, Timeouts: executor.CallTimeouts(r.cfg.CallTimeout), Clock: r.cfg.Clock})
}
