// Package executor carries out what the engine asks of a rollout's
// providers, for every host that runs the engine: the runner's loop
// (canary run, canary serve) and the operator's reconcile. It measures the
// engine's queries, executes one action and reports its result, restores a
// resumed rollout's weight and flag, and writes the payload hooks and
// approval webhooks receive.
//
// Timeouts: each traffic router, flag and metric source call is bounded by
// the host's call timeout for its kind (Timeouts). Pre-checks, hooks,
// approval polls and cleanup are bounded by the plan's own timeouts, which
// the Checker applies, and never by a host's call timeout: a hook with
// `timeout: 2s` gets its two seconds under every host.
//
// A measurement of NaN or ±Inf is an error (the engine judges finite
// numbers only, and a state with them cannot be written as JSON).
package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/checks"
)

// DefaultCallTimeout is the default bound of one provider call.
const DefaultCallTimeout = 30 * time.Second

// Checker runs pre-checks, hooks and approval webhooks within the plan's
// timeouts (checks.Runner).
type Checker interface {
	PreCheck(ctx context.Context, pc canary.PreCheck) (string, error)
	Hook(ctx context.Context, h canary.Hook, payload []byte) (string, error)
	Approval(ctx context.Context, url string, payload []byte) (checks.Answer, error)
}

var _ Checker = (*checks.Runner)(nil)

// Providers are what a plan drives. Router, Metrics and Checks are
// required; Flags only when the plan has a feature flag.
type Providers struct {
	Router  canary.TrafficRouter
	Metrics canary.MetricSource
	Flags   canary.FlagSetter
	Checks  Checker
}

// Timeouts bound one provider call of each kind. Zero: DefaultCallTimeout.
type Timeouts struct {
	// Router bounds SetWeight, Promote and RemoveCanary.
	Router time.Duration
	// Flags bounds SetFlag.
	Flags time.Duration
	// Measure bounds one query of the metric source.
	Measure time.Duration
}

// CallTimeouts is d for every kind of provider call (a host's single
// call timeout).
func CallTimeouts(d time.Duration) Timeouts {
	return Timeouts{Router: d, Flags: d, Measure: d}
}

// Config wires an Executor.
type Config struct {
	// Plan is the rollout's plan. Required.
	Plan *canary.Plan
	// Providers are the plan's providers.
	Providers
	// Timeouts bound the provider calls.
	Timeouts Timeouts
	// Clock stamps action results. Default: the system clock.
	Clock canary.Clock
}

// Executor measures and acts for one rollout's plan.
type Executor struct {
	cfg Config
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Executor, error) {
	switch {
	case cfg.Plan == nil:
		return nil, errors.New("no plan")
	case cfg.Router == nil:
		return nil, errors.New("no traffic router")
	case cfg.Metrics == nil:
		return nil, errors.New("no metric source")
	case cfg.Checks == nil:
		return nil, errors.New("no checker")
	case cfg.Plan.Spec.FeatureFlag != nil && cfg.Flags == nil:
		return nil, errors.New("the plan has a feature flag but no flag provider is wired")
	}
	t := &cfg.Timeouts
	for _, d := range []*time.Duration{&t.Router, &t.Flags, &t.Measure} {
		if *d <= 0 {
			*d = DefaultCallTimeout
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = canary.SystemClock{}
	}
	return &Executor{cfg: cfg}, nil
}

// Plan is the executor's plan.
func (e *Executor) Plan() *canary.Plan { return e.cfg.Plan }

// Measure asks the metric source for every query, each within
// Timeouts.Measure. A failure, NaN or ±Inf becomes an observation with an
// error, which the engine never rolls back on.
func (e *Executor) Measure(ctx context.Context, qs []canary.Query) []canary.Observation {
	obs := make([]canary.Observation, len(qs))
	for i, q := range qs {
		cctx, cancel := context.WithTimeout(ctx, e.cfg.Timeouts.Measure)
		m, err := e.cfg.Metrics.Measure(cctx, q)
		cancel()
		if err == nil && !m.NoData {
			err = finite(m)
		}
		obs[i] = canary.Observation{Query: q, Measurement: m}
		if err != nil {
			obs[i].Err = err.Error()
		}
	}
	return obs
}

// finite refuses a measurement that is not a finite number.
func finite(m canary.Measurement) error {
	if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
		return fmt.Errorf("the metric source returned %v, not a finite number", m.Value)
	}
	return nil
}

// Do executes action a of the rollout in state st (the state the engine
// returned with a outstanding) and returns its result, stamped with the
// clock's time.
func (e *Executor) Do(ctx context.Context, st canary.State, a canary.Action) canary.ActionResult {
	out, err := e.do(ctx, st, a)
	res := canary.ActionResult{ID: a.ID, Output: out, At: e.cfg.Clock.Now()}
	if err != nil {
		res.Err = err.Error()
	}
	return res
}

func (e *Executor) do(ctx context.Context, st canary.State, a canary.Action) (string, error) {
	switch a.Kind {
	case canary.ActSetWeight:
		if a.Route != nil {
			return "", e.SetRoute(ctx, *a.Route)
		}
		return "", e.SetWeight(ctx, a.Weight)
	case canary.ActSetFlag:
		return "", e.setFlag(ctx, a.FlagEnabled, a.Weight)
	case canary.ActPromote:
		return "", call(ctx, e.cfg.Timeouts.Router, e.cfg.Router.Promote)
	case canary.ActRemoveCanary:
		return "", call(ctx, e.cfg.Timeouts.Router, e.cfg.Router.RemoveCanary)
	case canary.ActPreCheck, canary.ActHook, canary.ActCleanup, canary.ActApproval:
		return e.check(ctx, st, a)
	}
	return "", fmt.Errorf("%s %q is not in the plan", a.Kind, a.Name)
}

// check runs a pre-check, hook, cleanup hook or approval poll within the
// plan's own timeout (the checker's), not a call timeout.
func (e *Executor) check(ctx context.Context, st canary.State, a canary.Action) (string, error) {
	p := e.cfg.Plan
	switch a.Kind {
	case canary.ActPreCheck:
		for _, pc := range p.Spec.PreChecks {
			if pc.Name == a.Name {
				return e.cfg.Checks.PreCheck(ctx, pc)
			}
		}
	case canary.ActHook, canary.ActCleanup:
		hooks := p.Spec.Hooks
		if a.Kind == canary.ActCleanup {
			hooks = p.Spec.Cleanup
		}
		for _, h := range hooks {
			if h.Name == a.Name {
				return e.cfg.Checks.Hook(ctx, h, e.Payload(st))
			}
		}
	case canary.ActApproval:
		if a.Step < len(p.Spec.Steps) && p.Spec.Steps[a.Step].Approval != nil {
			ans, err := e.cfg.Checks.Approval(ctx, p.Spec.Steps[a.Step].Approval.Webhook, e.Payload(st))
			return string(ans), err
		}
	}
	return "", fmt.Errorf("%s %q is not in the plan", a.Kind, a.Name)
}

// SetWeight sets the canary's weight within Timeouts.Router.
func (e *Executor) SetWeight(ctx context.Context, w int) error {
	return call(ctx, e.cfg.Timeouts.Router, func(c context.Context) error { return e.cfg.Router.SetWeight(c, w) })
}

// SetRoute sets the canary's whole route within Timeouts.Router.
func (e *Executor) SetRoute(ctx context.Context, r canary.Route) error {
	return call(ctx, e.cfg.Timeouts.Router, func(c context.Context) error { return canary.ApplyRoute(c, e.cfg.Router, r) })
}

func (e *Executor) setFlag(ctx context.Context, enabled bool, percent int) error {
	ff := e.cfg.Plan.Spec.FeatureFlag
	if ff == nil || e.cfg.Flags == nil {
		return errors.New("the plan has no feature flag")
	}
	return call(ctx, e.cfg.Timeouts.Flags, func(c context.Context) error { return e.cfg.Flags.SetFlag(c, ff.Name, enabled, percent) })
}

// Restore re-applies the confirmed weight and flag of a rollout resumed in
// state st, for providers that keep no state of their own (the built-in
// proxy, the in-memory flag store). The flag is set only when st has it
// on.
func (e *Executor) Restore(ctx context.Context, st canary.State) error {
	if e.cfg.Plan.UsesRoutes() {
		r := restoredRoute(e.cfg.Plan, st)
		if err := e.SetRoute(ctx, r); err != nil {
			return fmt.Errorf("restore canary route %s: %w", r, err)
		}
	} else if err := e.SetWeight(ctx, st.Weight); err != nil {
		return fmt.Errorf("restore canary weight %d%%: %w", st.Weight, err)
	}
	if ff := e.cfg.Plan.Spec.FeatureFlag; ff != nil && (st.FlagEnabled || st.FlagPercent > 0) {
		if err := e.setFlag(ctx, st.FlagEnabled, st.FlagPercent); err != nil {
			return fmt.Errorf("restore feature flag %s: %w", ff.Name, err)
		}
	}
	return nil
}

// restoredRoute is the route confirmed in st: the current step's while
// its weight is the confirmed one (the step's route was set), else the
// confirmed weight alone.
func restoredRoute(p *canary.Plan, st canary.State) canary.Route {
	if i := st.Step; i >= 0 && i < len(p.Spec.Steps) && !st.Phase.Terminal() &&
		(st.Phase == canary.PhaseProgressing || st.Phase == canary.PhasePaused) && st.Stage != "step" &&
		p.Spec.Steps[i].Weight == st.Weight {
		return canary.StepRoute(p.Spec.Steps[i])
	}
	return canary.Route{Weight: st.Weight}
}

// Payload is the JSON body hooks and approval webhooks receive for a
// rollout in state st: rollout, namespace, version, phase, step (1-based),
// weight and flagPercent.
func (e *Executor) Payload(st canary.State) []byte {
	b, _ := json.Marshal(map[string]any{
		"rollout": st.Name, "namespace": e.cfg.Plan.Metadata.Namespace, "version": st.Version, "phase": st.Phase,
		"step": st.Step + 1, "weight": st.Weight, "flagPercent": st.FlagPercent,
	})
	return b
}

// call runs f within timeout.
func call(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return f(cctx)
}
