package providers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/proxy"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultProxyListen is traffic.proxy.listen's default.
const DefaultProxyListen = "127.0.0.1:8080"

// Proxy lets plans run the built-in proxy.
type Proxy struct {
	// Listener, when set, replaces the plan's traffic.proxy.listen (tests,
	// the demo).
	Listener net.Listener
	// Log receives the proxy's messages. Default: none.
	Log *slog.Logger
	// FrontDoor, when set, gives a plan the router and metrics of a
	// long-lived proxy it does not own (canary serve's services); ok
	// false: the plan names none and gets its own proxy.
	FrontDoor func(ctx context.Context, p *canary.Plan) (r canary.TrafficRouter, m canary.MetricSource, ok bool, err error)
}

// startProxy starts the built-in proxy and, when configured, its admin
// listener with /metrics and /healthz; the proxy's recorder measures it.
func (b *Built) startProxy(ctx context.Context, p *canary.Plan, env *Proxy) (canary.MetricSource, error) {
	if env.FrontDoor != nil {
		r, m, ok, err := env.FrontDoor(ctx, p)
		if err != nil || ok {
			b.Router = r
			return m, err
		}
	}
	cfg := p.Spec.Traffic.Proxy
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rec, err := proxy.NewRecorder(proxy.RecorderConfig{})
	if err != nil {
		return nil, err
	}
	px, err := proxy.New(proxy.Config{Stable: cfg.Stable, Canary: cfg.Canary, StickyHeader: cfg.StickyHeader,
		StickyCookie: cfg.StickyCookie, MirrorBodies: int64(p.Spec.Strategy.MirrorBodies), Recorder: rec, Logger: log})
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
	ln := env.Listener
	if ln == nil {
		addr := cfg.Listen
		if addr == "" {
			addr = DefaultProxyListen
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("traffic.proxy.listen: %w (is another canary or server using it?)", err)
		}
	}
	b.Router, b.ProxyAddr = px, ln.Addr().String()
	b.serveProxy(ln, proxy.NewServer("", px))
	if bg := p.Spec.Strategy.BlueGreen; bg != nil && bg.Preview != "" {
		pln, err := net.Listen("tcp", bg.Preview)
		if err != nil {
			return nil, fmt.Errorf("strategy.blueGreen.preview: %w", err)
		}
		b.PreviewAddr = pln.Addr().String()
		b.serveProxy(pln, proxy.NewPreviewServer("", px))
	}
	if cfg.Admin != "" {
		aln, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			return nil, fmt.Errorf("traffic.proxy.admin: %w", err)
		}
		b.AdminAddr = aln.Addr().String()
		b.serve(aln, proxy.AdminHandler(reg))
	}
	return rec, nil
}

// serveProxy runs a proxy server (plain HTTP/1.1) on ln until Close.
func (b *Built) serveProxy(ln net.Listener, srv *proxy.Server) {
	go func() {
		if err := srv.Serve(ln); err != nil {
			slog.Error("proxy stopped", "addr", ln.Addr(), "err", err)
		}
	}()
	b.closers = append(b.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // Close has no caller's context
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	})
}

// serve runs an HTTP server on ln until Close.
func (b *Built) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("server stopped", "addr", ln.Addr(), "err", err)
		}
	}()
	b.closers = append(b.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // Close has no caller's context
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
}
