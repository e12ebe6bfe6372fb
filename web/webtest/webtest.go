// Package webtest is an in-memory api.API for tests of the web API,
// its Go client and the command line. It is not the manager: rollouts do
// not run. Apply parses the plan with plan.Parse and starts the engine once
// (so a new rollout is in PreChecks with its "created" event), Control runs
// engine.Control, and tests move rollouts along with Put and Append.
//
// Every method can be replaced by setting the matching function field, so
// a test can make one call fail, block or record its arguments.
package webtest

import (
	"context"
	"encoding/json"
	"github.com/canary-dev/canary/api"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/plan"
)

// T0 is the fake clock's start: 2025-08-14 09:00 UTC.
var T0 = time.Date(2025, 8, 14, 9, 0, 0, 0, time.UTC)

// API is an in-memory api.API. The zero value is not ready to use;
// call New.
type API struct {
	// The function fields, when set, replace the in-memory behaviour of the
	// method of the same name.
	ApplyFunc   func(ctx context.Context, plan []byte, force bool, actor string) (api.ApplyResult, error)
	ListFunc    func(ctx context.Context, opt api.ListOptions) ([]api.Rollout, error)
	GetFunc     func(ctx context.Context, name string) (api.Rollout, error)
	EventsFunc  func(ctx context.Context, name string, after int64, limit int) ([]canary.Event, error)
	ControlFunc func(ctx context.Context, name string, cmd engine.Command) (api.Rollout, error)
	DeleteFunc  func(ctx context.Context, name string) error
	ReadyFunc   func(ctx context.Context) error
	// NotificationsFunc replaces Notifications.
	NotificationsFunc func(ctx context.Context, name string, opt api.NotificationOptions) (api.NotificationPage, error)

	// Clock tells the time of new rollouts and commands. Default: always
	// T0.
	Clock canary.Clock

	mu       sync.Mutex
	rollouts map[string]*entry
	nextID   int64
	subs     map[string]map[*sub]bool
	calls    []string
}

type entry struct {
	r      api.Rollout
	spec   []byte // canonical JSON of the plan
	events []canary.Event
	outbox []canary.OutboxItem // in the order queued
}

type sub struct{ ch chan struct{} }

var _ api.API = (*API)(nil)

// New returns an empty fake.
func New() *API {
	return &API{rollouts: map[string]*entry{}, subs: map[string]map[*sub]bool{}}
}

func (a *API) now() time.Time {
	if a.Clock != nil {
		return a.Clock.Now()
	}
	return T0
}

func (a *API) record(format string) {
	a.mu.Lock()
	a.calls = append(a.calls, format)
	a.mu.Unlock()
}

// Calls returns the calls made so far, one string each, such as
// "Apply force=false actor=alice", "Get default/web" or
// "Control default/web pause actor=alice".
func (a *API) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// Subscribers returns the number of open subscriptions to name.
func (a *API) Subscribers(name string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.subs[name])
}

func notFound(name string) error {
	return canary.Errorf(canary.ENOTFOUND, "rollout %s not found", name)
}

// Apply implements api.API.
func (a *API) Apply(ctx context.Context, data []byte, force bool, actor string) (api.ApplyResult, error) {
	a.record("Apply force=" + boolText(force) + " actor=" + actor)
	if a.ApplyFunc != nil {
		return a.ApplyFunc(ctx, data, force, actor)
	}
	p, err := plan.Parse("plan", data)
	if err != nil {
		return api.ApplyResult{}, err
	}
	spec, err := json.Marshal(p)
	if err != nil {
		return api.ApplyResult{}, canary.Errorf(canary.EINTERNAL, "encode plan: %v", err)
	}
	name := p.Metadata.Namespace + "/" + p.Metadata.Name
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.rollouts[name]
	switch {
	case old != nil && string(old.spec) == string(spec):
		return api.ApplyResult{Rollout: old.r, Unchanged: true}, nil
	case old != nil && old.r.Plan.Spec.Version == p.Spec.Version && !old.r.State.Phase.Terminal() && !force:
		return api.ApplyResult{}, canary.Errorf(canary.ECONFLICT,
			"rollout %s is %s; changing it needs --force (or a new spec.version)", name, old.r.State.Phase)
	case old != nil && old.r.Plan.Spec.Version == p.Spec.Version:
		old.r.Plan, old.spec, old.r.UpdatedAt = p, spec, a.now()
		return api.ApplyResult{Rollout: old.r}, nil
	}
	gen := 1
	if old != nil {
		gen = old.r.Generation + 1
	}
	a.nextID++
	out := engine.Next(p, engine.New(p, a.now()), engine.Input{Now: a.now()})
	e := &entry{spec: spec, r: api.Rollout{ID: a.nextID, Name: name, Generation: gen, Plan: p,
		State: out.State, CreatedAt: a.now(), UpdatedAt: a.now()}}
	a.rollouts[name] = e
	a.appendLocked(name, out.Events...)
	return api.ApplyResult{Rollout: e.r, Created: true}, nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// List implements api.API, sorted by name.
func (a *API) List(ctx context.Context, opt api.ListOptions) ([]api.Rollout, error) {
	a.record("List phase=" + string(opt.Phase))
	if a.ListFunc != nil {
		return a.ListFunc(ctx, opt)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []api.Rollout
	for _, e := range a.rollouts {
		if opt.Phase == "" || e.r.State.Phase == opt.Phase {
			out = append(out, e.r)
		}
	}
	slices.SortFunc(out, func(x, y api.Rollout) int { return strings.Compare(x.Name, y.Name) })
	limit := opt.Limit
	if limit <= 0 {
		limit = 100
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Get implements api.API.
func (a *API) Get(ctx context.Context, name string) (api.Rollout, error) {
	a.record("Get " + name)
	if a.GetFunc != nil {
		return a.GetFunc(ctx, name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.rollouts[name]
	if e == nil {
		return api.Rollout{}, notFound(name)
	}
	return e.r, nil
}

// Events implements api.API.
func (a *API) Events(ctx context.Context, name string, after int64, limit int) ([]canary.Event, error) {
	if a.EventsFunc != nil {
		return a.EventsFunc(ctx, name, after, limit)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.rollouts[name]
	if e == nil {
		return nil, notFound(name)
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []canary.Event
	for _, ev := range e.events {
		if ev.Seq > after && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

// Subscribe implements api.API: the channel has room for one signal,
// so signals coalesce.
func (a *API) Subscribe(_ context.Context, name string) (<-chan struct{}, func()) {
	s := &sub{ch: make(chan struct{}, 1)}
	a.mu.Lock()
	if a.subs[name] == nil {
		a.subs[name] = map[*sub]bool{}
	}
	a.subs[name][s] = true
	a.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.subs[name], s)
			a.mu.Unlock()
		})
	}
}

// Control implements api.API with engine.Control.
func (a *API) Control(ctx context.Context, name string, cmd engine.Command) (api.Rollout, error) {
	a.record("Control " + name + " " + string(cmd.Kind) + " actor=" + cmd.Actor)
	if a.ControlFunc != nil {
		return a.ControlFunc(ctx, name, cmd)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.rollouts[name]
	if e == nil {
		return api.Rollout{}, notFound(name)
	}
	out, err := engine.Control(e.r.Plan, e.r.State, cmd, a.now())
	if err != nil {
		return api.Rollout{}, err
	}
	e.r.State, e.r.UpdatedAt = out.State, a.now()
	a.appendLocked(name, out.Events...)
	return e.r, nil
}

// Delete implements api.API: only a finished rollout can go (this fake
// keeps one generation per name).
func (a *API) Delete(ctx context.Context, name string) (api.DeleteResult, error) {
	a.record("Delete " + name)
	if a.DeleteFunc != nil {
		return api.DeleteResult{Name: name, Generations: []int{1}}, a.DeleteFunc(ctx, name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.rollouts[name]
	if e == nil {
		return api.DeleteResult{}, notFound(name)
	}
	if !e.r.State.Phase.Terminal() {
		return api.DeleteResult{}, canary.Errorf(canary.ECONFLICT, "rollout %s is %s; only a finished rollout can be deleted (abort it first)",
			name, e.r.State.Phase)
	}
	delete(a.rollouts, name)
	return api.DeleteResult{Name: name, Generations: []int{e.r.Generation}}, nil
}

// Ready implements api.API; nil unless ReadyFunc says otherwise.
func (a *API) Ready(ctx context.Context) error {
	if a.ReadyFunc != nil {
		return a.ReadyFunc(ctx)
	}
	return nil
}

// Put stores r (replacing any rollout of the same name) with events, as
// if the manager had run it that far. Events keep their Seq when set; a
// zero Seq is numbered after the previous event.
func (a *API) Put(r api.Rollout, events ...canary.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.ID == 0 {
		a.nextID++
		r.ID = a.nextID
	}
	spec, _ := json.Marshal(r.Plan)
	a.rollouts[r.Name] = &entry{r: r, spec: spec}
	a.appendLocked(r.Name, events...)
}

// Append adds events to rollout name (numbering those without a Seq) and
// signals its subscribers. It does nothing for an unknown rollout.
func (a *API) Append(name string, events ...canary.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.appendLocked(name, events...)
}

func (a *API) appendLocked(name string, events ...canary.Event) {
	e := a.rollouts[name]
	if e == nil || len(events) == 0 {
		return
	}
	for _, ev := range events {
		if ev.Seq == 0 {
			ev.Seq = int64(len(e.events)) + 1
			if n := len(e.events); n > 0 {
				ev.Seq = e.events[n-1].Seq + 1
			}
		}
		e.events = append(e.events, ev)
	}
	for s := range a.subs[name] {
		select {
		case s.ch <- struct{}{}:
		default:
		}
	}
}

// SetOutbox replaces the notifications of rollout name (which must have
// been applied or Put), in the order they were queued, as the store's
// outbox would hold them.
func (a *API) SetOutbox(name string, items ...canary.OutboxItem) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.rollouts[name]
	if e == nil {
		panic("webtest: SetOutbox of unknown rollout " + name)
	}
	e.outbox = slices.Clone(items)
}

// Notifications implements api.API with api.PageNotifications
// over the items given to SetOutbox.
func (a *API) Notifications(ctx context.Context, name string, opt api.NotificationOptions) (api.NotificationPage, error) {
	a.record("Notifications " + name)
	if a.NotificationsFunc != nil {
		return a.NotificationsFunc(ctx, name, opt)
	}
	if !opt.Status.Valid() {
		return api.NotificationPage{}, canary.Errorf(canary.EINVALID, "notification status %q is not valid", opt.Status)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.rollouts[name]
	if e == nil {
		return api.NotificationPage{}, notFound(name)
	}
	return api.PageNotifications(e.outbox, opt), nil
}
