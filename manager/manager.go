package manager

import (
	"context"
	"errors"
	"fmt"
	"github.com/canary-dev/canary/api"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"
	"github.com/canary-dev/canary/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Providers are the real systems one rollout drives.
type Providers struct {
	Router  canary.TrafficRouter
	Metrics canary.MetricSource
	Flags   canary.FlagSetter
	Checks  runner.Checker
	// Close releases them (stops a proxy listener); may be nil.
	Close func()
}

// Config wires a Manager. Store and Providers are required.
type Config struct {
	// Store keeps rollouts, events and the outbox (a *store.Store).
	Store Store
	// Providers builds the providers of one rollout's plan.
	Providers func(ctx context.Context, p *canary.Plan) (Providers, error)
	// Admit checks a parsed plan against what the server's owner allows
	// (commands, secret sources, outbound addresses, proxy listen
	// addresses) before Apply stores it; its error (an invalid plan,
	// naming each field) refuses the apply. Default: every valid plan.
	Admit func(ctx context.Context, p *canary.Plan) error
	// Outbox turns committed events into notification outbox items, written
	// in the same transaction (optional).
	Outbox func(p *canary.Plan, rolloutID int64, events []canary.Event) []canary.OutboxItem
	// Clock is the time source. Default: the system clock.
	Clock canary.Clock
	// Logger logs runner failures. Default: discard.
	Logger *slog.Logger
	// Registerer gets the manager's metrics (optional).
	Registerer prometheus.Registerer
	// RestartDelay is the first wait before a runner that failed (a store
	// error) is restarted from the saved state; it doubles up to 30s. A
	// save or /readyz write probe that succeeds meanwhile ends every such
	// wait at once (the disk is back). Default: 1s.
	RestartDelay time.Duration
	// Retention is how long a finished rollout (Succeeded, RolledBack,
	// Failed) is kept after its last change: then it is deleted in the
	// background with its events and notifications (retention.go). Active
	// rollouts are never deleted. Default: 0, keep everything.
	Retention time.Duration
	// PruneEvery is how often retention looks for rollouts to delete.
	// Default: 10m.
	PruneEvery time.Duration
	// MaxActive caps the rollouts that are not finished (each runs a
	// runner and its providers, such as a proxy listener): applying a new
	// one beyond it is a conflict that says so. Re-applying, controlling or
	// finishing rollouts is never refused. Default: 0, no limit.
	MaxActive int
	// FrontDoors, when set, gives services (a built-in proxy on a fixed
	// address) a listener that outlives their rollouts (frontdoor.go).
	// Default: none, each rollout's providers own their proxy.
	FrontDoors FrontDoors
	// Services keeps the services. Default: Store, when it does.
	Services ServiceStore
}

// Manager runs every active rollout. It implements api.API.
type Manager struct {
	cfg Config
	met *metrics

	mu   sync.Mutex
	ctx  context.Context // set by Start; runners live in it
	live map[string]*live
	// creating counts applies between the MaxActive check and the start
	// of their runner (slots reserved, under mu).
	creating int
	wg       sync.WaitGroup
	health   health // rollouts whose last save failed, for Ready
}

var _ api.API = (*Manager)(nil)

// live is a rollout with a running runner.
type live struct {
	id   int64
	plan *canary.Plan
	// saved is the state Start read with List, for the first run (which
	// then needs no read of its own); nil once used. Only supervise uses it.
	saved  *canary.State
	r      *runner.Runner
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a manager; call Start to resume the active rollouts.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Providers == nil {
		return nil, errors.New("manager: Store and Providers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = canary.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RestartDelay <= 0 {
		cfg.RestartDelay = time.Second
	}
	if cfg.Retention < 0 {
		return nil, errors.New("manager: Retention must not be negative (0 keeps every rollout)")
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = DefaultPruneEvery
	}
	m := &Manager{cfg: cfg, live: map[string]*live{}}
	m.met = newMetrics(m)
	if cfg.Registerer != nil {
		if err := m.met.register(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Start resumes every rollout that is not finished. Runners stop when ctx
// is cancelled (without pausing: they resume at the next Start).
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	if err := m.openFrontDoors(ctx); err != nil {
		return fmt.Errorf("restore front doors: %w", err)
	}
	rs, err := m.cfg.Store.List(ctx, store.ListOptions{Active: true})
	if err != nil {
		return fmt.Errorf("list rollouts to resume: %w", err)
	}
	// Parsing the stored plans is most of a restart's work: it runs on
	// every core, and each rollout starts as soon as its plan is parsed.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(rs)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(rs); i = int(next.Add(1)) - 1 {
				m.resume(rs[i])
			}
		})
	}
	wg.Wait()
	if m.cfg.Retention > 0 {
		m.wg.Go(func() { m.pruneLoop(ctx) })
	}
	return nil
}

// resume starts stored rollout r from the state List returned.
func (m *Manager) resume(r store.Rollout) {
	p, err := plan.Parse(r.Name, r.Plan)
	if err != nil {
		m.cfg.Logger.Error("stored plan no longer valid; rollout not resumed", "rollout", r.Name, "err", err)
		return
	}
	m.startFrom(r.ID, r.Name, p, &r.State)
}

// Wait blocks until every runner has stopped (after Start's ctx ends).
func (m *Manager) Wait() { m.wg.Wait() }

// start runs rollout id in the background, restarting it from the saved
// state after a failure, until it ends or the manager stops.
func (m *Manager) start(id int64, name string, p *canary.Plan) { m.startFrom(id, name, p, nil) }

// startFrom is start with the saved state already read (nil: read it).
func (m *Manager) startFrom(id int64, name string, p *canary.Plan, saved *canary.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx == nil || m.live[name] != nil {
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	l := &live{id: id, plan: p, saved: saved, cancel: cancel, done: make(chan struct{})}
	m.live[name] = l
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(l.done)
		defer cancel()
		m.supervise(ctx, name, l)
		m.health.forget(id)
		m.mu.Lock()
		if m.live[name] == l {
			delete(m.live, name)
		}
		m.mu.Unlock()
	}()
}

// supervise runs l until its rollout is terminal or ctx ends. The
// providers are built once and outlive the runner's restarts: while a
// rollout cannot be saved, its proxy keeps serving at the confirmed
// weight instead of going down with the runner.
func (m *Manager) supervise(ctx context.Context, name string, l *live) {
	var pv provided
	defer func() {
		if pv.p != nil && pv.p.Close != nil {
			pv.p.Close()
		}
	}()
	delay := m.cfg.RestartDelay
	for ctx.Err() == nil {
		done, err := m.runOnce(ctx, name, l, &pv)
		if done || ctx.Err() != nil {
			return
		}
		m.cfg.Logger.Error("rollout runner stopped; restarting from the saved state", "rollout", name, "err", err, "in", delay)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-m.health.wake():
			// A save or write probe succeeded: the disk is back, so
			// every waiting rollout goes on now, not after its backoff.
			timer.Stop()
			delay = m.cfg.RestartDelay
		case <-timer.C:
			delay = min(2*delay, 30*time.Second)
		}
	}
}

// provided is a supervisor's providers, kept across its runner's
// restarts.
type provided struct {
	p *Providers // nil until built
	// restored is set once a runner has put them where the saved state
	// says. A later runner does not re-apply the confirmed weight and
	// flag: whatever an earlier one did and could not save is still
	// outstanding in the saved state and is re-issued first, and a
	// re-apply would repeat actions out of place (w10 flag w10 flag).
	restored bool
}

// runOnce loads the saved state, builds the providers unless pv holds
// them already, and runs the rollout. done is true when the rollout ended.
func (m *Manager) runOnce(ctx context.Context, name string, l *live, pv *provided) (done bool, err error) {
	r, done, err := m.newRunner(ctx, name, l, pv)
	if r == nil {
		return done, err
	}
	m.mu.Lock()
	l.r = r
	m.mu.Unlock()
	err = r.Drive(ctx)
	m.mu.Lock()
	l.r = nil
	m.mu.Unlock()
	pv.restored = pv.restored || !errors.Is(err, runner.ErrNotRestored)
	if errors.Is(err, runner.ErrInterrupted) {
		return false, nil
	}
	return err == nil && r.Phase().Terminal(), err
}

// newRunner is runOnce's preparation: the saved state, the providers
// and the runner (nil when there is nothing to run: done says whether
// the rollout ended). It is a function of its own so that the saved
// state and the runner's Config (over 2 KiB) are not on the stack of a
// runner's goroutine while it runs and waits (runner/offload.go).
//
//go:noinline
func (m *Manager) newRunner(ctx context.Context, name string, l *live, pv *provided) (r *runner.Runner, done bool, err error) {
	saved, err := m.savedState(ctx, l)
	if err != nil {
		return nil, false, err
	}
	if saved.Phase.Terminal() {
		return nil, true, nil
	}
	if pv.p == nil {
		p, err := m.cfg.Providers(ctx, l.plan)
		if err != nil {
			return nil, false, fmt.Errorf("providers of %s: %w", name, err)
		}
		pv.p = &p
	}
	r, err = runner.New(runner.Config{
		Plan: l.plan, Router: pv.p.Router, Metrics: pv.p.Metrics, Flags: pv.p.Flags, Checks: pv.p.Checks,
		Store: &durable{m: m, id: l.id, plan: l.plan}, Clock: m.cfg.Clock, Reconciled: pv.restored,
	}, saved)
	return r, false, err
}

// savedState is l's state as last saved.
func (m *Manager) savedState(ctx context.Context, l *live) (canary.State, error) {
	if st := l.saved; st != nil {
		l.saved = nil
		return *st, nil
	}
	sr, err := m.cfg.Store.Get(ctx, l.id)
	return sr.State, err
}

// durable saves a runner's state, events and their notifications in one
// store transaction.
type durable struct {
	m    *Manager
	id   int64
	plan *canary.Plan
}

// Save commits st and events.
func (d *durable) Save(ctx context.Context, st canary.State, events []canary.Event) error {
	return d.save(ctx, &st, events)
}

// save commits st and events with the notifications they cause and any
// extra options (the plan a forced apply replaces).
func (d *durable) save(ctx context.Context, st *canary.State, events []canary.Event, extra ...store.CommitOption) error {
	start, at := time.Now(), d.m.cfg.Clock.Now() // a measurement; the time a failure is reported at
	opts := extra
	if d.m.cfg.Outbox != nil {
		if items := d.m.cfg.Outbox(d.plan, d.id, events); len(items) > 0 {
			opts = append(opts, store.WithOutbox(items...))
		}
	}
	err := d.m.cfg.Store.Commit(ctx, d.id, *st, events, opts...)
	d.m.met.observeCommit(time.Since(start), err, events)
	name := ""
	if err != nil {
		name = fullName(d.plan)
	}
	d.m.health.noteSave(d.id, name, err, at)
	return err
}
