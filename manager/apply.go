package manager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/canary-dev/canary/api"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"
	"github.com/canary-dev/canary/store"
)

// fullName is a plan's "namespace/name".
func fullName(p *canary.Plan) string {
	ns := p.Metadata.Namespace
	if ns == "" {
		ns = canary.DefaultNamespace
	}
	return ns + "/" + p.Metadata.Name
}

// Apply validates and starts a plan; see api.API.
func (m *Manager) Apply(ctx context.Context, body []byte, force bool, actor string) (api.ApplyResult, error) {
	p, err := plan.Parse("plan", body)
	if err != nil {
		return api.ApplyResult{}, err
	}
	if m.cfg.Admit != nil {
		if err := m.cfg.Admit(ctx, p); err != nil {
			return api.ApplyResult{}, err
		}
	}
	canon, err := json.Marshal(p)
	if err != nil {
		return api.ApplyResult{}, fmt.Errorf("encode plan: %w", err)
	}
	name := fullName(p)
	latest, err := m.cfg.Store.Latest(ctx, name)
	switch {
	case canary.ErrorCode(err) == canary.ENOTFOUND:
		return m.create(ctx, name, p, canon)
	case err != nil:
		return api.ApplyResult{}, err
	}
	sum := sha256.Sum256(canon)
	if hex.EncodeToString(sum[:]) == latest.PlanSHA256 {
		r, err := m.view(ctx, latest)
		return api.ApplyResult{Rollout: r, Unchanged: true}, err
	}
	if latest.State.Phase.Terminal() {
		return m.create(ctx, name, p, canon)
	}
	old, err := plan.Parse(name, latest.Plan)
	if err != nil {
		return api.ApplyResult{}, err
	}
	if old.Spec.Version != p.Spec.Version {
		return api.ApplyResult{}, canary.Errorf(canary.ECONFLICT,
			"rollout %s of %s is %s: abort it or let it finish before applying version %s",
			name, old.Spec.Version, latest.State.Phase, p.Spec.Version)
	}
	if !force {
		return api.ApplyResult{}, canary.Errorf(canary.ECONFLICT,
			"rollout %s is %s and its spec changed: apply with --force to change the running rollout", name, latest.State.Phase)
	}
	return m.replacePlan(ctx, latest, old, p, canon, actor)
}

// create stores a new rollout (or generation) and starts it.
func (m *Manager) create(ctx context.Context, name string, p *canary.Plan, canon []byte) (api.ApplyResult, error) {
	if err := m.reserve(name); err != nil {
		return api.ApplyResult{}, err
	}
	defer m.release()
	if err := m.claimFrontDoor(ctx, name, p); err != nil {
		return api.ApplyResult{}, err
	}
	st := engine.New(p, m.cfg.Clock.Now())
	sr, err := m.cfg.Store.Create(ctx, name, canon, st, nil)
	if err != nil {
		return api.ApplyResult{}, err
	}
	m.start(sr.ID, name, p)
	r, err := m.view(ctx, sr)
	return api.ApplyResult{Rollout: r, Created: true}, err
}

// reserve takes one of Config.MaxActive's slots for a new rollout until
// release; a conflict when none is left.
func (m *Manager) reserve(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit := m.cfg.MaxActive; limit > 0 && len(m.live)+m.creating >= limit {
		return canary.Errorf(canary.ECONFLICT,
			"cannot start %s: %d rollouts are running, the most this server runs at once (canary serve --max-rollouts %d); wait for some to finish, abort or promote them, or raise the limit",
			name, len(m.live)+m.creating, limit)
	}
	m.creating++
	return nil
}

// release gives back reserve's slot (the rollout now counts as live).
func (m *Manager) release() {
	m.mu.Lock()
	m.creating--
	m.mu.Unlock()
}

// replacePlan applies a changed spec to a running rollout: the runner is
// stopped, the saved state re-keyed to the new plan's rules
// (engine.ReplacePlan, which also records who changed what), state, event
// and plan committed in one write, and the runner started again (with the
// old plan when the change could not be saved).
func (m *Manager) replacePlan(ctx context.Context, sr store.Rollout, old, p *canary.Plan, canon []byte, actor string) (api.ApplyResult, error) {
	m.stop(sr.Name)
	cur, err := m.cfg.Store.Latest(ctx, sr.Name) // the runner may have saved since
	if err == nil && cur.ID != sr.ID {
		err = canary.Errorf(canary.ECONFLICT, "rollout %s changed while the plan was applied: apply again", sr.Name)
	}
	var out engine.Output
	if err == nil {
		out, err = engine.ReplacePlan(old, p, cur.State, actor, m.cfg.Clock.Now())
	}
	if err == nil {
		d := &durable{m: m, id: sr.ID, plan: p}
		err = d.save(ctx, &out.State, out.Events, store.WithPlan(canon))
	}
	if err != nil {
		m.start(sr.ID, sr.Name, old)
		return api.ApplyResult{}, err
	}
	m.cfg.Logger.Info("plan replaced on a running rollout", "rollout", sr.Name, "actor", actor)
	m.start(sr.ID, sr.Name, p)
	cur.Plan, cur.State = canon, out.State
	r, err := m.view(ctx, cur)
	return api.ApplyResult{Rollout: r}, err
}

// stop ends name's runner and waits for it.
func (m *Manager) stop(name string) {
	m.mu.Lock()
	l := m.live[name]
	m.mu.Unlock()
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
}

// List returns rollouts, newest first.
func (m *Manager) List(ctx context.Context, opt api.ListOptions) ([]api.Rollout, error) {
	lo := store.ListOptions{Limit: opt.Limit}
	if lo.Limit <= 0 {
		lo.Limit = 100
	}
	if opt.Phase != "" {
		lo.Phases = []canary.Phase{opt.Phase}
	}
	rs, err := m.cfg.Store.List(ctx, lo)
	if err != nil {
		return nil, err
	}
	out := make([]api.Rollout, 0, len(rs))
	for _, sr := range rs {
		r, err := m.view(ctx, sr)
		if err != nil {
			return nil, err
		}
		r.LastEvaluations = nil // the list stays small; Get has them
		out = append(out, r)
	}
	return out, nil
}

// Get returns the latest generation of name, or the one name@GEN names.
func (m *Manager) Get(ctx context.Context, name string) (api.Rollout, error) {
	sr, err := m.lookup(ctx, name)
	if err != nil {
		return api.Rollout{}, err
	}
	return m.view(ctx, sr)
}

// view turns a stored rollout into the API's, with the freshest state and
// the last evaluation's inputs.
func (m *Manager) view(ctx context.Context, sr store.Rollout) (api.Rollout, error) {
	p, err := plan.Parse(sr.Name, sr.Plan)
	if err != nil {
		return api.Rollout{}, fmt.Errorf("stored plan of %s: %w", sr.Name, err)
	}
	r := api.Rollout{ID: sr.ID, Name: sr.Name, Generation: int(sr.Generation), Plan: p, State: sr.State,
		CreatedAt: sr.CreatedAt, UpdatedAt: sr.UpdatedAt}
	m.mu.Lock()
	if l := m.live[sr.Name]; l != nil && l.id == sr.ID && l.r != nil {
		r.State = l.r.State()
		r.LastEvaluations = l.r.LastEvaluations()
	}
	m.mu.Unlock()
	if r.LastEvaluations == nil {
		r.LastEvaluations = m.lastEvaluations(ctx, sr.ID, sr.State.EventSeq)
	}
	return r, nil
}

// lastEvaluations finds the newest evaluation among the last events.
func (m *Manager) lastEvaluations(ctx context.Context, id, seq int64) []canary.Evaluation {
	evs, err := m.cfg.Store.Events(ctx, id, max(0, seq-200), 200)
	if err != nil {
		return nil
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if len(evs[i].Evaluations) > 0 {
			return evs[i].Evaluations
		}
	}
	return nil
}

// Events returns name's events after a sequence number.
func (m *Manager) Events(ctx context.Context, name string, after int64, limit int) ([]canary.Event, error) {
	sr, err := m.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	return m.cfg.Store.Events(ctx, sr.ID, after, limit)
}

// Subscribe signals new events of name's latest generation (or of
// name@GEN).
func (m *Manager) Subscribe(ctx context.Context, name string) (<-chan struct{}, func()) {
	sr, err := m.lookup(ctx, name)
	if err != nil {
		ch := make(chan struct{})
		return ch, func() {}
	}
	return m.cfg.Store.Subscribe(sr.ID)
}

// Control applies a manual command.
func (m *Manager) Control(ctx context.Context, name string, cmd engine.Command) (api.Rollout, error) {
	name, err := m.latestName(ctx, name)
	if err != nil {
		return api.Rollout{}, err
	}
	m.mu.Lock()
	l := m.live[name]
	var r interface {
		Control(context.Context, engine.Command) error
	}
	if l != nil && l.r != nil {
		r = l.r
	}
	m.mu.Unlock()
	if r != nil {
		err := r.Control(ctx, cmd)
		if !errors.Is(err, runner.ErrNotRunning) {
			if err != nil {
				return api.Rollout{}, err
			}
			return m.Get(ctx, name)
		}
	}
	return m.controlStored(ctx, name, cmd)
}

// controlStored applies a command to a rollout with no runner (finished,
// or between restarts after a failed save) and starts a runner if the
// rollout goes on, also when the command was refused or could not be
// saved: stopping the supervisor must not strand an active rollout.
//
// The supervisor is stopped before the state is read: a runner it was
// starting could otherwise save after the read, and the command would
// fail as a stale write (conflict).
func (m *Manager) controlStored(ctx context.Context, name string, cmd engine.Command) (api.Rollout, error) {
	m.mu.Lock()
	l := m.live[name]
	m.mu.Unlock()
	m.stop(name)
	sr, err := m.cfg.Store.Latest(ctx, name)
	if err == nil {
		var p *canary.Plan
		if p, err = plan.Parse(name, sr.Plan); err == nil {
			return m.controlSaved(ctx, sr, p, cmd)
		}
	}
	if l != nil {
		m.start(l.id, name, l.plan)
	}
	return api.Rollout{}, err
}

// controlSaved applies cmd to the saved rollout sr, whose runner is
// stopped, and starts a runner unless the rollout is finished.
func (m *Manager) controlSaved(ctx context.Context, sr store.Rollout, p *canary.Plan, cmd engine.Command) (api.Rollout, error) {
	name := sr.Name
	final := sr.State
	defer func() {
		if !final.Phase.Terminal() {
			m.start(sr.ID, name, p)
		}
	}()
	out, err := engine.Control(p, sr.State, cmd, m.cfg.Clock.Now())
	if err != nil {
		return api.Rollout{}, err
	}
	d := &durable{m: m, id: sr.ID, plan: p}
	if err := d.Save(ctx, out.State, out.Events); err != nil {
		return api.Rollout{}, err
	}
	final = out.State
	return m.Get(ctx, name)
}
