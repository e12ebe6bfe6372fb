package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/gatewayapi"
	"github.com/canary-dev/canary/helm"
	"github.com/canary-dev/canary/kube"
	"github.com/canary-dev/canary/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
)

// providers are the real systems a plan drives, started for one run.
type providers struct {
	router  canary.TrafficRouter
	metrics canary.MetricSource
	flags   canary.FlagSetter
	checks  *checks.Runner
	// proxyAddr and adminAddr are where the built-in proxy listens.
	proxyAddr, adminAddr string
	closers              []func()
}

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
}

// defaultProxyListen is traffic.proxy.listen's default.
const defaultProxyListen = "127.0.0.1:8080"

// addKubeFlags registers --kubeconfig for the commands that wire plans.
func addKubeFlags(fs *pflag.FlagSet, opt *wireOptions) {
	fs.StringVar(&opt.kubeconfig, "kubeconfig", "",
		"kubeconfig file for helm, gatewayAPI and replicas traffic (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
}

// close stops every server the providers started.
func (pv *providers) close() {
	for i := len(pv.closers) - 1; i >= 0; i-- {
		pv.closers[i]()
	}
}

// wire builds the providers a plan names. An unknown or not yet available
// provider is an error, never a fallback.
func wire(ctx context.Context, p *canary.Plan, opt wireOptions) (*providers, error) {
	if err := opt.policy.admit(ctx, p); err != nil {
		return nil, err
	}
	pv := &providers{checks: opt.policy.checks()}
	if opt.log == nil {
		opt.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var rec *proxy.Recorder
	switch p.Spec.Traffic.Provider() {
	case "proxy":
		r, err := pv.startProxy(ctx, p.Spec.Traffic.Proxy, opt)
		if err != nil {
			pv.close()
			return nil, err
		}
		rec = r
	case "helm", "gatewayAPI", "replicas":
		r, err := kubeRouter(p, opt)
		if err != nil {
			return nil, err
		}
		pv.router = r
	default:
		return nil, canary.Errorf(canary.EINVALID, "traffic provider %q is not available in this build of canary run (use traffic.proxy, helm, gatewayAPI or replicas)",
			p.Spec.Traffic.Provider())
	}
	switch p.Spec.Analysis.Metrics.Provider() {
	case "builtin", "":
		if rec == nil {
			pv.close()
			return nil, canary.Errorf(canary.EINVALID, "analysis.metrics: builtin measures the built-in proxy; with traffic.%s use analysis.metrics.prometheus",
				p.Spec.Traffic.Provider())
		}
		pv.metrics = rec
	case "prometheus":
		src, err := opt.policy.prometheus(p)
		if err != nil {
			pv.close()
			return nil, err
		}
		pv.metrics = src
	default:
		pv.close()
		return nil, canary.Errorf(canary.EINVALID, "metrics provider %q is not available in this build (use analysis.metrics.builtin)",
			p.Spec.Analysis.Metrics.Provider())
	}
	if ff := p.Spec.FeatureFlag; ff != nil {
		fs := opt.flagStore
		if fs == nil {
			fs = &flags.Memory{}
		}
		setter, err := flags.NewSetter(ff, opt.policy.flagSetter(flags.SetterConfig{Rollout: p.Metadata.Namespace + "/" + p.Metadata.Name, Store: fs}))
		if err != nil {
			pv.close()
			return nil, err
		}
		pv.flags = setter
	}
	return pv, nil
}

// kubeRouter builds the helm, gatewayAPI or replicas router of a plan, in
// the plan's namespace.
func kubeRouter(p *canary.Plan, opt wireOptions) (canary.TrafficRouter, error) {
	prov := p.Spec.Traffic.Provider()
	rc, err := kube.RESTConfig(opt.kubeconfig, "")
	if err != nil {
		code := canary.EUNAVAILABLE
		if opt.kubeconfig != "" {
			code = canary.EINVALID
		}
		return nil, canary.Errorf(code, "traffic.%s: %v", prov, err)
	}
	ns := p.Metadata.Namespace
	if t := p.Spec.Traffic.Helm; t != nil {
		logf := func(format string, args ...any) { opt.log.Debug(fmt.Sprintf(format, args...), "provider", "helm") }
		r, err := helm.New(helm.Config{RESTConfig: rc, Namespace: ns, Traffic: *t, Version: p.Spec.Version, Log: logf})
		if err != nil {
			return nil, canary.Errorf(canary.EINVALID, "traffic.helm: %v", err)
		}
		return r, nil
	}
	c, err := kube.NewClient(rc)
	if err != nil {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "traffic.%s: %v", prov, err)
	}
	if t := p.Spec.Traffic.Replicas; t != nil {
		r, err := kube.NewReplicaRouter(kube.ReplicaConfig{Client: c, Namespace: ns, Stable: t.StableDeployment,
			Canary: t.CanaryDeployment, Replicas: int32(t.Total), ReadyTimeout: time.Duration(t.ReadyTimeout)})
		if err != nil {
			return nil, canary.Errorf(canary.EINVALID, "traffic.replicas: %v", err)
		}
		return r, nil
	}
	r, err := gatewayapi.New(gatewayapi.Config{Client: c, Namespace: ns, Traffic: *p.Spec.Traffic.GatewayAPI})
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "traffic.gatewayAPI: %v", err)
	}
	return r, nil
}

// startProxy starts the built-in proxy and, when configured, its admin
// listener with /metrics and /healthz.
func (pv *providers) startProxy(ctx context.Context, cfg *canary.ProxyTraffic, opt wireOptions) (*proxy.Recorder, error) {
	rec, err := proxy.NewRecorder(proxy.RecorderConfig{})
	if err != nil {
		return nil, err
	}
	px, err := proxy.New(proxy.Config{Stable: cfg.Stable, Canary: cfg.Canary, StickyHeader: cfg.StickyHeader,
		StickyCookie: cfg.StickyCookie, Recorder: rec, Logger: opt.log})
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "traffic.proxy: %v", err)
	}
	reg := prometheus.NewRegistry()
	if err := px.Register(reg); err != nil {
		return nil, fmt.Errorf("register proxy metrics: %w", err)
	}
	if err := rec.Register(reg); err != nil {
		return nil, fmt.Errorf("register recorder metrics: %w", err)
	}
	ln := opt.listener
	if ln == nil {
		addr := cfg.Listen
		if addr == "" {
			addr = defaultProxyListen
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("traffic.proxy.listen: %w (is another canary or server using it?)", err)
		}
	}
	pv.router, pv.proxyAddr = px, ln.Addr().String()
	pv.serveProxy(ln, px)
	if cfg.Admin != "" {
		aln, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			return nil, fmt.Errorf("traffic.proxy.admin: %w", err)
		}
		pv.adminAddr = aln.Addr().String()
		pv.serve(ctx, aln, proxy.AdminHandler(reg))
	}
	return rec, nil
}

// serveProxy runs the proxy's server (plain HTTP/1.1) on ln until the
// providers are closed.
func (pv *providers) serveProxy(ln net.Listener, px *proxy.Proxy) {
	srv := proxy.NewServer("", px)
	go func() {
		if err := srv.Serve(ln); err != nil {
			slog.Error("proxy stopped", "addr", ln.Addr(), "err", err)
		}
	}()
	pv.closers = append(pv.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	})
}

// serve runs an HTTP server on ln until the providers are closed.
func (pv *providers) serve(_ context.Context, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("server stopped", "addr", ln.Addr(), "err", err)
		}
	}()
	pv.closers = append(pv.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
}
