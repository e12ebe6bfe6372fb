package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/kube"
	provs "github.com/canary-dev/canary/providers"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
)

// providers are the real systems a plan drives, started for one run
// (providers.Build under the host's Env).
type providers = provs.Built

// wireOptions adjust wiring for tests and the demo.
type wireOptions struct {
	// listener, when set, replaces the proxy's configured listen address.
	listener net.Listener
	log      *slog.Logger
	// kubeconfig is the kubeconfig file for helm and gatewayAPI traffic
	// (--kubeconfig); empty: $KUBECONFIG, ~/.kube/config, then the pod's
	// service account.
	kubeconfig string
	// flagStore is where the builtin flag provider writes: the state
	// database's flag service under serve; nil: a fresh in-memory store.
	flagStore flags.Store
	// policy is the owner's limits under serve (policy.go); nil under
	// canary run.
	policy *hostPolicy
	// doors are serve's front doors (frontdoor.go): a plan naming a
	// service drives its long-lived proxy. Nil under canary run.
	doors *frontDoors
}

// defaultProxyListen is traffic.proxy.listen's default.
const defaultProxyListen = provs.DefaultProxyListen

// addKubeFlags registers --kubeconfig for the commands that wire plans.
func addKubeFlags(fs *pflag.FlagSet, opt *wireOptions) {
	fs.StringVar(&opt.kubeconfig, "kubeconfig", "",
		"kubeconfig file for helm, gatewayAPI and replicas traffic (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
}

// wire builds the providers a plan names under the host's policy. An
// unknown or not yet available provider is an error, never a fallback.
func wire(ctx context.Context, p *canary.Plan, opt wireOptions) (*providers, error) {
	if err := opt.policy.admit(ctx, p); err != nil {
		return nil, err
	}
	return provs.Build(ctx, p, opt.env())
}

// env is what canary run and canary serve allow plans: the built-in proxy,
// the builtin flag store, the cluster of --kubeconfig, and under serve the
// owner's policy.
func (opt wireOptions) env() provs.Env {
	log := opt.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fs := opt.flagStore
	if fs == nil {
		fs = &flags.Memory{}
	}
	kc := opt.kubeconfig
	env := provs.Env{Host: "this build of canary", Proxy: &provs.Proxy{Listener: opt.listener, Log: log, FrontDoor: opt.doors.seam()}, Flags: fs,
		Checks: opt.policy.checks(),
		Kube: &provs.Kube{
			Config: func() (*rest.Config, error) {
				rc, err := kube.RESTConfig(kc, "")
				if err != nil && kc != "" {
					return nil, canary.Errorf(canary.EINVALID, "%v", err)
				}
				return rc, err
			},
			Log: func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...), "provider", "helm") },
		}}
	opt.policy.limit(&env)
	return env
}
