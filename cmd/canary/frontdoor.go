package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/proxy"
	"github.com/canary-dev/canary/store"
	"github.com/prometheus/client_golang/prometheus"
)

// frontDoors are canary serve's services: one built-in proxy per listen
// address that outlives the rollouts driving it (manager/frontdoor.go).
// Every routing change is saved in the state database after it is made,
// so a restart serves what was served.
type frontDoors struct {
	st  *store.Store
	log *slog.Logger
	mu  sync.Mutex
	fds map[string]*frontDoor
}

var _ manager.FrontDoors = (*frontDoors)(nil)

// frontDoor is one open service.
type frontDoor struct {
	addr    string
	px      *proxy.Proxy
	rec     *proxy.Recorder
	closers []func() // stop its listeners
	st      *store.Store
	mu      sync.Mutex // orders routing changes with their saves
}

func newFrontDoors(st *store.Store, log *slog.Logger) *frontDoors {
	return &frontDoors{st: st, log: log, fds: map[string]*frontDoor{}}
}

// Open serves svc at its saved routing.
func (f *frontDoors) Open(ctx context.Context, svc store.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fds[svc.Address] != nil {
		return nil
	}
	var cfg canary.ProxyTraffic
	if err := json.Unmarshal(svc.Config, &cfg); err != nil {
		return fmt.Errorf("service %s: stored proxy config: %w", svc.Address, err)
	}
	rec, err := proxy.NewRecorder(proxy.RecorderConfig{})
	if err != nil {
		return err
	}
	px, err := proxy.New(proxy.Config{Stable: svc.Stable, Canary: svc.Canary, Weight: svc.Weight, StickyHeader: cfg.StickyHeader,
		StickyCookie: cfg.StickyCookie, Recorder: rec, Logger: f.log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", svc.Address)
	if err != nil {
		return err
	}
	fd := &frontDoor{addr: svc.Address, px: px, rec: rec, st: f.st}
	fd.serveProxy(ln)
	if cfg.Admin != "" {
		reg := prometheus.NewRegistry()
		if err := px.Register(reg); err == nil {
			_ = rec.Register(reg)
		}
		aln, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			fd.close()
			return fmt.Errorf("traffic.proxy.admin: %w", err)
		}
		fd.serveAdmin(aln, proxy.AdminHandler(reg))
	}
	f.fds[svc.Address] = fd
	f.log.Info("front door open", "address", svc.Address, "holder", svc.Holder, "stable", svc.Stable, "canary", svc.Canary, "weight", svc.Weight)
	return nil
}

// Close stops the front door at address.
func (f *frontDoors) Close(address string) {
	f.mu.Lock()
	fd := f.fds[address]
	delete(f.fds, address)
	f.mu.Unlock()
	if fd != nil {
		fd.close()
		f.log.Info("front door closed", "address", address)
	}
}

// closeAll stops every front door (the server is stopping).
func (f *frontDoors) closeAll() {
	f.mu.Lock()
	addrs := make([]string, 0, len(f.fds))
	for a := range f.fds {
		addrs = append(addrs, a)
	}
	f.mu.Unlock()
	for _, a := range addrs {
		f.Close(a)
	}
}

// get returns the open front door at address (nil: not open).
func (f *frontDoors) get(address string) *frontDoor {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fds[address]
}

// attach gives rollout p the router and metrics of its service's front
// door; ok is false when p names no service. The front door takes p's
// canary upstream, keeping its stable upstream and weight.
func (f *frontDoors) attach(ctx context.Context, p *canary.Plan) (r canary.TrafficRouter, m canary.MetricSource, ok bool, err error) {
	if f == nil {
		return nil, nil, false, nil
	}
	want, ok := manager.ServiceOf(p, "")
	if !ok {
		return nil, nil, false, nil
	}
	if bg := p.Spec.Strategy.BlueGreen; bg != nil && bg.Preview != "" {
		return nil, nil, true, canary.Errorf(canary.EINVALID, "strategy.blueGreen.preview: canary serve's front door %s has no preview listener: remove preview (or use canary run)", want.Address)
	}
	if p.Spec.Strategy.MirrorBodies != 0 {
		// The front door is shared by the service's rollouts: it mirrors
		// GET and HEAD only.
		return nil, nil, true, canary.Errorf(canary.EINVALID, "strategy.mirrorBodies: canary serve's front door %s mirrors only GET and HEAD: remove mirrorBodies (or use canary run)", want.Address)
	}
	fd := f.get(want.Address)
	if fd == nil {
		svc, err := f.st.Service(ctx, want.Address)
		if err == nil {
			err = f.Open(ctx, svc)
		}
		if err != nil {
			return nil, nil, true, canary.Errorf(canary.EUNAVAILABLE, "front door %s: %v", want.Address, err)
		}
		fd = f.get(want.Address)
	}
	err = fd.change(ctx, func(stable, _ string, weight int) error { return fd.px.SetRouting(stable, want.Canary, weight) })
	if err != nil {
		return nil, nil, true, err
	}
	door := &doorRouter{fd: fd, promoteHooks: hasPromoteHooks(p)}
	return door, &sinceSource{src: fd.rec, since: time.Now()}, true, nil
}

// seam is attach as providers.Proxy.FrontDoor (nil without front doors).
func (f *frontDoors) seam() func(context.Context, *canary.Plan) (canary.TrafficRouter, canary.MetricSource, bool, error) {
	if f == nil {
		return nil
	}
	return f.attach
}

// change runs fn on the current routing and saves the routing after it.
func (fd *frontDoor) change(ctx context.Context, fn func(stable, canaryURL string, weight int) error) error {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if err := fn(fd.px.Routing()); err != nil {
		return err
	}
	s, c, w := fd.px.Routing()
	return fd.st.SaveRouting(ctx, fd.addr, store.Routing{Stable: s, Canary: c, Weight: w}, time.Now())
}

// doorRouter is a rollout's TrafficRouter on a front door.
type doorRouter struct {
	fd *frontDoor
	// promoteHooks: the plan deploys the new version into the stable slot
	// at the promote hook point, so promotion sends traffic back there.
	promoteHooks bool
}

// SetWeight sets the weight and saves it.
func (d *doorRouter) SetWeight(ctx context.Context, weight int) error {
	return d.fd.change(ctx, func(string, string, int) error { return d.fd.px.SetWeight(ctx, weight) })
}

// SetRoute sets the whole route (weight, matches, mirror) and saves the
// weight.
func (d *doorRouter) SetRoute(ctx context.Context, r canary.Route) error {
	return d.fd.change(ctx, func(string, string, int) error { return d.fd.px.SetRoute(ctx, r) })
}

// Promote moves all traffic back to the stable slot when the plan's
// promote hooks deployed the new version there; otherwise the canary's
// upstream becomes the service's live (stable) upstream.
func (d *doorRouter) Promote(ctx context.Context) error {
	return d.fd.change(ctx, func(stable, canaryURL string, _ int) error {
		if d.promoteHooks {
			return d.fd.px.SetRouting(stable, canaryURL, 0)
		}
		return d.fd.px.Promote(ctx)
	})
}

// RemoveCanary is a no-op: the weight is 0 and canary does not own the
// canary's process.
func (d *doorRouter) RemoveCanary(context.Context) error { return nil }

// stableSlotPromotion is the built-in proxy under canary run for a plan
// with promote hooks: promotion moves all traffic back to the stable slot,
// where the hooks deployed the new version, instead of making the
// canary's upstream the stable one.
type stableSlotPromotion struct{ canary.TrafficRouter }

// Promote sends 100% of traffic to the stable slot.
func (r stableSlotPromotion) Promote(ctx context.Context) error { return r.SetWeight(ctx, 0) }

// SetRoute passes the route on to the proxy.
func (r stableSlotPromotion) SetRoute(ctx context.Context, rt canary.Route) error {
	return canary.ApplyRoute(ctx, r.TrafficRouter, rt)
}

// hasPromoteHooks reports whether p has hooks at the promote point.
func hasPromoteHooks(p *canary.Plan) bool {
	for _, h := range p.Spec.Hooks {
		if h.At == hookPromote {
			return true
		}
	}
	return false
}

// hookPromote is the promote hook point (plan.go's HookPromote).
const hookPromote = canary.HookPromote

// sinceSource measures only what a front door recorded since its rollout
// attached: the previous rollout's traffic (a rolled-back canary's
// errors) is not evidence about this one.
type sinceSource struct {
	src   canary.MetricSource
	since time.Time
}

// Measure clips q's window to the time since the rollout attached, in
// whole seconds (at least one).
func (s *sinceSource) Measure(ctx context.Context, q canary.Query) (canary.Measurement, error) {
	if limit := q.At.Sub(s.since).Truncate(time.Second) + time.Second; limit < q.Window {
		q.Window = limit
	}
	return s.src.Measure(ctx, q)
}

// serveProxy serves the front door's proxy on ln until close.
func (fd *frontDoor) serveProxy(ln net.Listener) {
	srv := proxy.NewServer("", fd.px)
	go func() {
		if err := srv.Serve(ln); err != nil {
			slog.Error("front door stopped", "addr", ln.Addr(), "err", err)
		}
	}()
	fd.closers = append(fd.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	})
}

// serveAdmin serves the proxy's /metrics and /healthz on ln until close.
func (fd *frontDoor) serveAdmin(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(ln) }()
	fd.closers = append(fd.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
}

// close stops the front door's listeners.
func (fd *frontDoor) close() {
	for i := len(fd.closers) - 1; i >= 0; i-- {
		fd.closers[i]()
	}
}
