// Package runner is the imperative shell around the engine: one loop per
// rollout that measures, asks engine.Next what to do, saves the new state
// and events (the intent) before acting, executes the actions through the
// providers and feeds their results back.
//
// The loop: Queries → measure → Next → save → execute the first action →
// Next with its result → save … → wait until the engine's
// WakeAt, a command or cancellation. Cancelling the context pauses the
// rollout where it is (the canary keeps its weight) and saves that.
package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/executor"
)

// ErrInterrupted is returned by Run when its context was cancelled (with
// PauseOnInterrupt, after pausing and saving the rollout).
var ErrInterrupted = errors.New("interrupted: the rollout is paused at its current weight")

// ErrNotRestored matches (errors.Is) Run's error when it could not
// re-apply a resumed rollout's confirmed weight and flag: the providers
// may not be where the saved state says.
var ErrNotRestored = errors.New("the providers were not restored to the saved state")

// restoreError is a failure of reconcile; it matches ErrNotRestored.
type restoreError struct{ err error }

func (e restoreError) Error() string        { return e.err.Error() }
func (e restoreError) Unwrap() error        { return e.err }
func (e restoreError) Is(target error) bool { return target == ErrNotRestored }

// ErrNotRunning is returned by Control when Run is not running.
var ErrNotRunning = errors.New("the rollout's runner has stopped")

// Checker runs pre-checks, hooks and approval webhooks (checks.Runner).
type Checker = executor.Checker

// Store saves a rollout's state together with the events that led to it,
// atomically. The runner saves before executing any action it returns.
type Store interface {
	Save(ctx context.Context, st canary.State, events []canary.Event) error
}

// Config wires a runner. Plan, Router, Metrics and Checks are required;
// Flags is required when the plan has a feature flag.
type Config struct {
	Plan    *canary.Plan
	Router  canary.TrafficRouter
	Metrics canary.MetricSource
	Flags   canary.FlagSetter
	Checks  Checker
	// Notifier is told about every event after it is saved (optional).
	Notifier canary.Notifier
	// Store persists state and events (optional; nil keeps them in memory).
	Store Store
	// Clock is the time source. Default: the system clock.
	Clock canary.Clock
	// OnEvent is called for every saved event, in order (optional).
	OnEvent func(canary.Event)
	// OnUpdate is called after every engine decision with the state and the
	// last evaluation (optional).
	OnUpdate func(canary.State, []canary.Evaluation)
	// PauseOnInterrupt pauses the rollout when Run's context is cancelled
	// (a foreground run stopped with Ctrl-C). A server shutting down leaves
	// the state as it is and resumes after the restart instead.
	PauseOnInterrupt bool
	// StopWhenPaused makes Run return when the rollout pauses (a foreground
	// run cannot be resumed by anyone; a server keeps waiting instead).
	StopWhenPaused bool
	// Reconciled says the providers are already where the saved state
	// says (they outlived an earlier runner of this rollout that restored
	// them; what it did and could not save is still outstanding): Run does
	// not re-apply the confirmed weight and flag. Default false: a resumed
	// rollout re-applies them, for providers that start empty.
	Reconciled bool
	// CallTimeout bounds one provider call (set weight, set flag, measure).
	// Default: executor.DefaultCallTimeout. Pre-checks, hooks, approvals
	// and cleanup use the plan's own timeouts.
	CallTimeout time.Duration
}

// Runner drives one rollout.
type Runner struct {
	cfg  Config
	exec *executor.Executor
	cmds chan cmdReq
	done chan struct{} // closed when Run returns
	// eng is Run's channel for offload: engine calls run on the shared
	// engine goroutines (offload.go).
	eng chan struct{}

	mu   sync.Mutex
	st   canary.State
	last []canary.Evaluation
}

type cmdReq struct {
	cmd   engine.Command
	reply chan error
}

// New returns a runner that continues from st (engine.New for a new
// rollout, or a saved state to resume).
func New(cfg Config, st canary.State) (*Runner, error) {
	if cfg.Clock == nil {
		cfg.Clock = canary.SystemClock{}
	}
	exec, err := executor.New(executor.Config{Plan: cfg.Plan, Clock: cfg.Clock, Timeouts: executor.CallTimeouts(cfg.CallTimeout),
		Providers: executor.Providers{Router: cfg.Router, Metrics: cfg.Metrics, Flags: cfg.Flags, Checks: cfg.Checks}})
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return &Runner{cfg: cfg, exec: exec, cmds: make(chan cmdReq), done: make(chan struct{}), eng: make(chan struct{}, 1), st: st}, nil
}

// State returns the rollout's current state.
func (r *Runner) State() canary.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// Phase returns the rollout's current phase.
func (r *Runner) Phase() canary.Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Phase
}

// LastEvaluations returns the inputs of the last evaluation.
func (r *Runner) LastEvaluations() []canary.Evaluation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Control applies a manual command to the running rollout and returns the
// engine's refusal, if any. It blocks until Run has applied it.
func (r *Runner) Control(ctx context.Context, cmd engine.Command) error {
	req := cmdReq{cmd: cmd, reply: make(chan error, 1)}
	select {
	case r.cmds <- req:
	case <-r.done:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run drives the rollout until it ends (Succeeded, RolledBack, Failed), a
// save fails, or ctx is cancelled (ErrInterrupted, after pausing). It
// returns the final state.
func (r *Runner) Run(ctx context.Context) (canary.State, error) {
	err := r.Drive(ctx)
	return r.State(), err
}

// Drive is Run without the final state (State has it). A goroutine that
// runs many rollouts' loops at once keeps its stack small with it: the
// loop's frames hold no copy of a state (offload.go).
func (r *Runner) Drive(ctx context.Context) error {
	defer close(r.done)
	if err := r.reconcile(ctx); err != nil {
		return err
	}
	var results []canary.ActionResult
	for {
		out, err := r.decide(ctx, results)
		if err != nil {
			return err
		}
		if r.serveCommand(ctx) {
			continue // the command changed the state: decide again
		}
		// One action at a time: its result is saved before the next one
		// runs, so a crash repeats at most the action that was in flight.
		if len(out.Actions) > 0 && ctx.Err() == nil {
			results = []canary.ActionResult{r.do(ctx, out.Actions[0])}
			continue
		}
		results = nil
		if r.finished() {
			return nil
		}
		if err := r.wait(ctx, out.WakeAt); err != nil {
			return err
		}
	}
}

// do executes action a.
//
//go:noinline
func (r *Runner) do(ctx context.Context, a canary.Action) canary.ActionResult {
	return r.exec.Do(ctx, r.State(), a)
}

// finished says whether the loop is done: the rollout is terminal, or
// paused with StopWhenPaused.
func (r *Runner) finished() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Phase.Terminal() || (r.cfg.StopWhenPaused && r.st.Phase == canary.PhasePaused)
}

// reconcile re-applies a resumed rollout's confirmed weight and flag, so
// providers that keep no state of their own (the built-in proxy, the
// in-memory flag store) are where the saved state says they are.
func (r *Runner) reconcile(ctx context.Context) error {
	st := r.State()
	if r.cfg.Reconciled || st.Phase == canary.PhasePending || st.Phase == "" || st.Phase.Terminal() || len(st.Outstanding) > 0 {
		return nil // outstanding absolute actions will set the target themselves
	}
	if err := r.exec.Restore(ctx, st); err != nil {
		return restoreError{err}
	}
	return nil
}

// decide measures what the engine asks for and makes one engine decision.
// The engine runs on the shared engine goroutines (offload.go), and the
// output stays on the heap: nothing of the state is on this goroutine's
// stack.
func (r *Runner) decide(ctx context.Context, results []canary.ActionResult) (*engine.Output, error) {
	in := &engine.Input{Now: r.cfg.Clock.Now(), Results: results}
	st := r.statePtr()
	var qs []canary.Query
	offload(r.eng, func() { qs = engine.Queries(r.cfg.Plan, *st, in.Now) })
	if len(qs) > 0 {
		in.Observations = r.exec.Measure(ctx, qs)
	}
	out := new(engine.Output)
	offload(r.eng, func() { *out = engine.Next(r.cfg.Plan, *st, *in) })
	return out, r.commit(ctx, out)
}

// statePtr is a copy of the rollout's current state on the heap.
func (r *Runner) statePtr() *canary.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := new(canary.State)
	*st = r.st
	return st
}

// commit saves the engine's output, then publishes it.
func (r *Runner) commit(ctx context.Context, out *engine.Output) error {
	if r.cfg.Store != nil && len(out.Events) > 0 {
		if err := r.save(ctx, out); err != nil {
			return fmt.Errorf("save rollout %s: %w", out.State.Name, err)
		}
	}
	r.mu.Lock()
	r.st = out.State
	for i := range out.Events {
		if ev := &out.Events[i]; ev.Type == canary.EvEvaluated && len(ev.Evaluations) > 0 {
			r.last = ev.Evaluations
		}
	}
	r.mu.Unlock()
	r.publish(ctx, out)
	return nil
}

// publish hands out's events and state to the hooks, after the save.
//
//go:noinline
func (r *Runner) publish(ctx context.Context, out *engine.Output) {
	for _, ev := range out.Events {
		if r.cfg.OnEvent != nil {
			r.cfg.OnEvent(ev)
		}
		if r.cfg.Notifier != nil {
			_ = r.cfg.Notifier.Notify(context.WithoutCancel(ctx), r.cfg.Plan, ev)
		}
	}
	if r.cfg.OnUpdate != nil {
		r.cfg.OnUpdate(out.State, r.LastEvaluations())
	}
}

// save is Store.Save of out (a frame of its own: the state is passed by
// value).
//
//go:noinline
func (r *Runner) save(ctx context.Context, out *engine.Output) error {
	return r.cfg.Store.Save(context.WithoutCancel(ctx), out.State, out.Events)
}

// serveCommand applies a waiting command, if any, without blocking.
func (r *Runner) serveCommand(ctx context.Context) bool {
	select {
	case req := <-r.cmds:
		req.reply <- r.control(ctx, req.cmd)
		return true
	default:
		return false
	}
}

// wait sleeps until wake, serving commands; cancellation pauses.
func (r *Runner) wait(ctx context.Context, wake time.Time) error {
	if r.serveCommand(ctx) {
		return nil
	}
	var timer <-chan time.Time
	if !wake.IsZero() {
		timer = r.cfg.Clock.After(wake.Sub(r.cfg.Clock.Now()))
	}
	select {
	case <-timer:
		return nil
	case req := <-r.cmds:
		req.reply <- r.control(ctx, req.cmd)
		return nil
	case <-ctx.Done():
		return r.interrupt(ctx)
	}
}

// control applies a command and saves the result; its actions run on the
// next turn of the loop.
func (r *Runner) control(ctx context.Context, cmd engine.Command) error {
	st, now := r.statePtr(), r.cfg.Clock.Now()
	out := new(engine.Output)
	var err error
	offload(r.eng, func() { *out, err = engine.Control(r.cfg.Plan, *st, cmd, now) })
	if err != nil {
		return err
	}
	return r.commit(ctx, out)
}

// interrupt pauses the rollout at its current weight and saves it, when
// configured to.
func (r *Runner) interrupt(ctx context.Context) error {
	if !r.cfg.PauseOnInterrupt {
		return ErrInterrupted
	}
	if phase := r.Phase(); !phase.Terminal() && phase != canary.PhasePaused && phase != canary.PhaseRollingBack && phase != canary.PhasePromoting {
		err := r.control(context.WithoutCancel(ctx), engine.Command{Kind: engine.CmdPause, Actor: "interrupt", Reason: "the runner was stopped"})
		if err != nil {
			return fmt.Errorf("pause on interrupt: %w", err)
		}
	}
	return ErrInterrupted
}
