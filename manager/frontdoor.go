package manager

import (
	"context"
	"encoding/json"
	"net"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/store"
)

// Front doors: under canary serve a plan whose built-in proxy listens on
// a fixed address (not port 0) names a service, and the service, not the
// rollout, owns the listener. The manager claims the address at apply
// (one holder per address), opens the front door at its saved routing
// before any rollout resumes, and removes it on request or with the last
// rollout of its holder.

// FrontDoors opens and closes the listeners of services (canary serve's
// proxies). Implementations serve a service's saved routing and save
// every change of it.
type FrontDoors interface {
	// Open serves svc at its saved routing; a no-op when it is open.
	Open(ctx context.Context, svc store.Service) error
	// Close stops the front door at address (a no-op when it is closed).
	Close(address string)
}

// ServiceStore keeps the services (store.Store's services.go).
type ServiceStore interface {
	ClaimService(ctx context.Context, svc store.Service, now time.Time) (store.Service, bool, error)
	UpdateServiceConfig(ctx context.Context, address string, config []byte, now time.Time) error
	Service(ctx context.Context, address string) (store.Service, error)
	Services(ctx context.Context) ([]store.Service, error)
	DeleteService(ctx context.Context, address string) error
}

var _ ServiceStore = (*store.Store)(nil)

// services is the store of services: Config.Services, else Config.Store
// when it keeps them.
func (m *Manager) services() ServiceStore {
	if m.cfg.Services != nil {
		return m.cfg.Services
	}
	if ss, ok := m.cfg.Store.(ServiceStore); ok {
		return ss
	}
	return nil
}

// DefaultProxyListen is traffic.proxy.listen's default.
const DefaultProxyListen = "127.0.0.1:8080"

// ServiceOf returns the service a plan's built-in proxy names: false for
// other traffic providers and for a proxy on port 0 (ephemeral: it stops
// with its rollout).
func ServiceOf(p *canary.Plan, holder string) (store.Service, bool) {
	px := p.Spec.Traffic.Proxy
	if px == nil {
		return store.Service{}, false
	}
	addr := px.Listen
	if addr == "" {
		addr = DefaultProxyListen
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		return store.Service{}, false
	}
	cfg, _ := json.Marshal(px)
	return store.Service{Address: addr, Holder: holder, Config: cfg,
		Routing: store.Routing{Stable: px.Stable, Canary: px.Canary}}, true
}

// claimFrontDoor claims the plan's service for a new rollout (or
// generation) and opens its front door: a conflict when another name
// holds the address or another process listens on it, invalid when the
// plan's stable is not the service's live upstream.
func (m *Manager) claimFrontDoor(ctx context.Context, name string, p *canary.Plan) error {
	if m.cfg.FrontDoors == nil || m.services() == nil {
		return nil
	}
	want, ok := ServiceOf(p, name)
	if !ok {
		return nil
	}
	svc, created, err := m.services().ClaimService(ctx, want, m.cfg.Clock.Now())
	if err != nil {
		return err
	}
	if !created && svc.Stable != want.Stable {
		return canary.Errorf(canary.EINVALID,
			"traffic.proxy.stable %s: the service at %s now serves %s as its stable (live) upstream, since the last promotion; set traffic.proxy.stable: %s (and canary to the new version's slot)",
			want.Stable, svc.Address, svc.Stable, svc.Stable)
	}
	if !created && string(svc.Config) != string(want.Config) {
		_ = m.services().UpdateServiceConfig(ctx, svc.Address, want.Config, m.cfg.Clock.Now())
	}
	if err := m.cfg.FrontDoors.Open(ctx, svc); err != nil {
		if created {
			_ = m.services().DeleteService(ctx, svc.Address)
		}
		return canary.Errorf(canary.ECONFLICT, "traffic.proxy.listen %s: %v (is another process using it?)", svc.Address, err)
	}
	return nil
}

// openFrontDoors serves every saved service at its saved routing, before
// any rollout resumes.
func (m *Manager) openFrontDoors(ctx context.Context) error {
	if m.cfg.FrontDoors == nil || m.services() == nil {
		return nil
	}
	svcs, err := m.services().Services(ctx)
	if err != nil {
		return err
	}
	for _, svc := range svcs {
		if err := m.cfg.FrontDoors.Open(ctx, svc); err != nil {
			m.cfg.Logger.Error("front door not restored", "address", svc.Address, "holder", svc.Holder, "err", err)
		}
	}
	return nil
}

// DeleteService removes the front door at address: a conflict while a
// rollout of its holder is active.
func (m *Manager) DeleteService(ctx context.Context, address string) error {
	if m.services() == nil {
		return canary.Errorf(canary.ENOTFOUND, "service %s not found: this server keeps no services", address)
	}
	svc, err := m.services().Service(ctx, address)
	if err != nil {
		return err
	}
	if sr, err := m.cfg.Store.Latest(ctx, svc.Holder); err == nil && !sr.State.Phase.Terminal() {
		return canary.Errorf(canary.ECONFLICT, "service %s: rollout %s is %s on it: abort it or let it finish first",
			address, svc.Holder, sr.State.Phase)
	}
	if err := m.services().DeleteService(ctx, address); err != nil {
		return err
	}
	if m.cfg.FrontDoors != nil {
		m.cfg.FrontDoors.Close(address)
	}
	return nil
}

// Services lists the front doors.
func (m *Manager) Services(ctx context.Context) ([]store.Service, error) {
	if m.services() == nil {
		return nil, nil
	}
	return m.services().Services(ctx)
}

// forgetServices removes the services held by name once its last rollout
// is deleted.
func (m *Manager) forgetServices(ctx context.Context, name string) {
	if m.services() == nil {
		return
	}
	if _, err := m.cfg.Store.Latest(ctx, name); canary.ErrorCode(err) != canary.ENOTFOUND {
		return
	}
	svcs, err := m.services().Services(ctx)
	if err != nil {
		return
	}
	for _, svc := range svcs {
		if svc.Holder == name && m.services().DeleteService(ctx, svc.Address) == nil && m.cfg.FrontDoors != nil {
			m.cfg.FrontDoors.Close(svc.Address)
		}
	}
}
