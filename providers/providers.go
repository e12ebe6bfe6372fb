// Package providers builds the providers a plan names — its traffic
// router, metric source, feature-flag setter and the runner of its checks —
// for every host that runs the engine: canary run and canary serve
// (through cmd/canary's wire), the operator's reconcile, and canary query.
// Build is the one place a provider name is turned into a provider; an
// unknown or not allowed provider is an error naming what the host offers,
// never a fallback.
//
// What a host allows is its Env: the built-in proxy (only where canary
// runs next to the traffic), the builtin flag store, a way to the cluster,
// the secret resolver (the owner's policy, or the operator's Secrets of
// the rollout's namespace), the outbound policy and the checks runner with
// its command policy. Build takes the caller's context for whatever it
// reads while building (a Prometheus token, a flag service token, access
// reviews); no context is kept: the providers' calls take their own.
package providers

import (
	"context"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/egress"
	"github.com/canary-dev/canary/executor"
	"github.com/canary-dev/canary/flags"
)

// Resolver returns the value a secret reference names; ctx bounds the read
// (the operator reads Kubernetes Secrets from the API server). Errors name
// the reference, never the value.
type Resolver func(ctx context.Context, ref canary.SecretRef) (string, error)

// Env is what a host allows the plans it runs. The zero Env allows no
// traffic provider at all.
type Env struct {
	// Host names the host in errors: "canary run", "the operator".
	// Default: "this host".
	Host string
	// Proxy, when set, lets plans run the built-in proxy (traffic.proxy)
	// and measure it (analysis.metrics.builtin). Nil: both are refused.
	Proxy *Proxy
	// Kube, when set, lets plans drive traffic.helm, traffic.gatewayAPI
	// and traffic.replicas on a cluster. Nil: refused.
	Kube *Kube
	// Flags is the store featureFlag.provider builtin writes to. Nil: the
	// builtin provider is refused with NoBuiltinFlags.
	Flags flags.Store
	// NoBuiltinFlags is the error for featureFlag.provider builtin when
	// Flags is nil. Default: a generic one naming Host.
	NoBuiltinFlags error
	// Secrets reads the plan's secret references (Prometheus credentials,
	// the flag service's token, hooks' env). Nil: env: and file:,
	// anything (canary.SecretRef.Resolve).
	Secrets Resolver
	// Egress is the owner's outbound policy for Prometheus and flag
	// services. Nil: none (the default dialer and HTTP client).
	Egress *egress.Policy
	// Checks runs pre-checks, hooks and approvals. A *checks.Runner is
	// given Secrets for hooks' env. Nil: a plain checks.Runner.
	Checks executor.Checker
	// PrometheusAddress, when set, is the Prometheus to query instead of
	// the plan's (canary query --address).
	PrometheusAddress string
	// Router and Metrics, when set, replace the plan's traffic router and
	// metric source: the seams tests inject fakes through.
	Router  func(ctx context.Context, p *canary.Plan) (canary.TrafficRouter, error)
	Metrics func(ctx context.Context, p *canary.Plan) (canary.MetricSource, error)
}

// Built are a plan's providers, started. Close stops what Build started
// (the built-in proxy's listeners).
type Built struct {
	executor.Providers
	// ProxyAddr and AdminAddr are where the built-in proxy and its admin
	// listener listen ("" when not started).
	ProxyAddr, AdminAddr string
	// PreviewAddr is where the blue/green preview listens, if the plan
	// has one.
	PreviewAddr string
	closers     []func()
}

// Close stops every server Build started, in reverse order. It may be
// called more than once.
func (b *Built) Close() {
	if b == nil {
		return
	}
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
	b.closers = nil
}

// Build builds the providers p names under env. On error nothing is left
// running.
func Build(ctx context.Context, p *canary.Plan, env Env) (*Built, error) {
	b := &Built{}
	var rec canary.MetricSource
	var err error
	switch {
	case env.Router != nil:
		b.Router, err = env.Router(ctx, p)
	case p.Spec.Traffic.Provider() == "proxy" && env.Proxy != nil:
		rec, err = b.startProxy(ctx, p, env.Proxy)
	default:
		b.Router, err = Router(ctx, p, env)
	}
	if err == nil {
		b.Metrics, err = metrics(ctx, p, env, rec)
	}
	if err == nil {
		b.Flags, err = Flags(ctx, p, env)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	b.Checks = Checks(env)
	return b, nil
}

// metrics is the plan's metric source: env's seam, the built-in proxy's
// recorder rec, or Metrics.
func metrics(ctx context.Context, p *canary.Plan, env Env, rec canary.MetricSource) (canary.MetricSource, error) {
	switch {
	case env.Metrics != nil:
		return env.Metrics(ctx, p)
	case rec != nil && isBuiltin(p):
		return rec, nil
	}
	return Metrics(ctx, p, env)
}

// Checks is the runner of pre-checks, hooks and approvals under env.
func Checks(env Env) executor.Checker {
	if env.Checks == nil {
		return &checks.Runner{Secrets: env.Secrets}
	}
	if cr, ok := env.Checks.(*checks.Runner); ok && env.Secrets != nil {
		return cr.WithSecrets(env.Secrets)
	}
	return env.Checks
}

// Flags is the plan's feature-flag setter under env; nil without a
// featureFlag.
func Flags(ctx context.Context, p *canary.Plan, env Env) (canary.FlagSetter, error) {
	ff := p.Spec.FeatureFlag
	if ff == nil {
		return nil, nil
	}
	cfg := flags.SetterConfig{Rollout: p.Metadata.Namespace + "/" + p.Metadata.Name, Store: env.Flags}
	if ff.Provider == "" || ff.Provider == flags.ProviderBuiltin {
		if env.Flags == nil {
			if env.NoBuiltinFlags != nil {
				return nil, env.NoBuiltinFlags
			}
			return nil, canary.Errorf(canary.EINVALID, "featureFlag.provider builtin is not available in %s: use provider: http", env.host())
		}
	}
	if env.Egress != nil {
		cfg.HTTPClient = env.Egress.Client()
	}
	if env.Secrets != nil {
		cfg.Secrets = flags.SecretResolver(env.Secrets)
	}
	return flags.NewSetter(ctx, ff, cfg)
}

func (env Env) host() string {
	if env.Host == "" {
		return "this host"
	}
	return env.Host
}

func isBuiltin(p *canary.Plan) bool {
	prov := p.Spec.Analysis.Metrics.Provider()
	return prov == "builtin" || prov == ""
}
