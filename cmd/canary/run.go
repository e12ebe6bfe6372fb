package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/runner"
	"github.com/canary-dev/canary/view"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

type runFlags struct {
	output  string
	noColor bool
	state   string
	resume  bool
	// force (with --resume) continues the saved rollout with a changed
	// spec; abandon discards the unfinished rollout (run_abandon.go).
	force, abandon bool
	wire           wireOptions
	// serveAfter keeps the built-in proxy serving the final routing until
	// SIGINT or SIGTERM (run_serve_after.go).
	serveAfter bool
	// noNotify prints spec.notify's notifications instead of sending them.
	noNotify bool
	// notifyGrace is how long to wait at exit for notifications still
	// being delivered; notifySend bounds one send.
	notifyGrace, notifySend time.Duration
}

func newRunCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run PLAN",
		Short: "Execute a rollout plan in the foreground",
		Long:  runLong,
		Args:  cobra.ExactArgs(1),
		RunE:  func(c *cobra.Command, args []string) error { return runPlan(c, f, args[0]) },
	}
	f.register(c.Flags())
	return c
}

const runLong = `Run executes a plan in the foreground: pre-checks, traffic steps with holds,
the feature flag in lockstep, SLO analysis every interval, automatic graded
rollback, promotion and cleanup.

On a terminal it shows a live view (step, weight, time left in the hold,
every rule against its threshold, pending timers); otherwise, or with
-o json, it prints one line per event.

Ctrl-C pauses the rollout at its current weight and exits with code 4.

The built-in proxy (traffic.proxy) lives in this process: when canary run
exits, its listener closes and its clients get connection refused (before
the rollout they reached the stable version directly). --serve-after keeps
it serving the final routing (100% on the promoted version, or all on the
stable one after a rollback) until SIGINT or SIGTERM, then exits with the
outcome's code. For a front door that outlives rollouts, use canary serve.

The plan's notifications (spec.notify) are sent as canary serve sends
them: queued with the events, delivered beside the rollout with retries
and a stable key per message, each shown as sent (✓) or failed (✗). At
exit canary run waits up to --notify-timeout for the ones still being
delivered and lists any it could not deliver. With --state they stay
queued there, and the next canary run on it (--resume) sends them once;
without --state they are lost at exit. --resume of a rollout that has
already finished (a run stopped after its last decision was saved) only
delivers its pending notifications, prints the outcome it had and exits
with it. A failing channel never changes the
rollout's outcome. --no-notify only prints them (a dry run).

Exit codes: 0 promoted, 1 rolled back, 2 invalid input, 3 pre-checks failed
(nothing changed), 4 paused or interrupted, 5 a dependency failed.`

// register adds canary run's flags to fs.
func (f *runFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.output, "output", "o", "", "output format: text (live view on a terminal) or json (one event per line)")
	fs.BoolVar(&f.noColor, "no-color", false, "no colors in the live view")
	fs.StringVar(&f.state, "state", defaultStatePath("run.db"), "the state database (every decision is saved before it is acted on)")
	addKubeFlags(fs, &f.wire)
	fs.BoolVar(&f.resume, "resume", false, "continue the paused or interrupted rollout of this plan from --state (a finished one: deliver its pending notifications)")
	fs.BoolVar(&f.force, "force", false, "with --resume: continue with the plan's changed spec (same version), recorded as an event; without it a changed spec is refused")
	fs.BoolVar(&f.abandon, "abandon", false, "discard this plan's unfinished rollout in --state: first move its traffic back to the stable (weight 0, flag off; nothing to move for the built-in proxy, which stopped with its run), then record it as failed (abandoned) so the next run starts afresh")
	fs.BoolVar(&f.serveAfter, "serve-after", false, "keep the built-in proxy serving the final routing after the outcome until SIGINT/SIGTERM, then exit with the outcome's code")
	fs.BoolVar(&f.noNotify, "no-notify", false, "print spec.notify's notifications instead of sending them (a dry run)")
	fs.DurationVar(&f.notifyGrace, "notify-timeout", defaultNotifyGrace, "at exit, how long to wait for notifications still being delivered (0: do not wait)")
	fs.DurationVar(&f.notifySend, "notify-send-timeout", defaultNotifySend, "how long one notification send may take; a send cut off by a crash is retried after 3 times this")
}

// check refuses flag values out of range.
func (f *runFlags) check() error {
	if f.output != "" && f.output != "json" && f.output != "text" {
		return usageError{fmt.Errorf("-o %q: use json or text", f.output)}
	}
	if f.abandon && (f.resume || f.serveAfter) {
		return usageError{errors.New("--abandon discards the unfinished rollout: use it without --resume and --serve-after")}
	}
	if f.force && !f.resume {
		return usageError{errors.New("--force applies a changed spec when resuming: use it with --resume")}
	}
	if f.notifyGrace < 0 || f.notifySend <= 0 || f.notifySend > 10*time.Minute {
		return usageError{errors.New("--notify-timeout must be 0 or more and --notify-send-timeout between 1ms and 10m (e.g. 10s)")}
	}
	return nil
}

// runPlan is canary run PLAN.
func runPlan(c *cobra.Command, f runFlags, path string) error {
	if err := f.check(); err != nil {
		return err
	}
	p, err := plan.Load(path)
	if err != nil {
		return err
	}
	if err := checkServeAfter(p, f.serveAfter); err != nil {
		return err
	}
	if f.abandon {
		return abandonRun(c.Context(), f, p, path, c.ErrOrStderr())
	}
	saved, err := openRunState(c.Context(), f, p, path)
	if err != nil {
		return err
	}
	defer saved.close()
	if saved.finished() {
		return resumeFinished(c.Context(), f, p, saved, newOutput(c.OutOrStdout(), f), c.ErrOrStderr())
	}
	pv, err := wireRun(c, f, p)
	if err != nil {
		return err
	}
	defer pv.Close()
	out := newOutput(c.OutOrStdout(), f)
	var save runner.Store
	if saved != nil {
		save = saved
		for _, ev := range saved.replaced {
			out.event(ev)
		}
	}
	var notifier canary.Notifier
	var nt *runDelivery
	if f.noNotify {
		notifier = &notify.Console{Println: out.line}
	} else {
		nt, err = startRunDelivery(c.Context(), runDeliveryConfig{plan: p, state: saved, statePath: f.state, out: out, sendTimeout: f.notifySend})
		if err != nil {
			return err
		}
		defer nt.close()
		if saved == nil && nt != nil {
			save = nt // queues the notifications in the temporary outbox
		}
	}
	start, err := saved.resume(c.Context(), p)
	if err != nil {
		return err
	}
	st, err := execute(c.Context(), p, pv, out, start, save, notifier)
	nt.finish(c.ErrOrStderr(), f.notifyGrace)
	return finishRun(c, f, path, p, pv, saved != nil, st, outcome(p, st, err))
}

// wireRun builds p's providers for canary run and says where its proxy
// listens.
func wireRun(c *cobra.Command, f runFlags, p *canary.Plan) (*providers, error) {
	pv, err := wire(c.Context(), p, f.wire)
	if err != nil {
		return nil, err
	}
	if p.Spec.Traffic.Proxy != nil && hasPromoteHooks(p) {
		// The promote hooks deploy the new version into the stable slot:
		// promotion sends all traffic back there (as a front door does).
		pv.Router = stableSlotPromotion{pv.Router}
	}
	if pv.ProxyAddr != "" {
		fmt.Fprintf(c.ErrOrStderr(), "canary: proxy listening on http://%s (stable %s, canary %s)\n",
			pv.ProxyAddr, p.Spec.Traffic.Proxy.Stable, p.Spec.Traffic.Proxy.Canary)
	}
	if pv.PreviewAddr != "" {
		fmt.Fprintf(c.ErrOrStderr(), "canary: blue/green preview on http://%s (always the new version, not counted)\n", pv.PreviewAddr)
	}
	return pv, nil
}

// finishRun says how the run ended (how to resume a paused one with a
// state file, a promotion) and what becomes of the proxy's clients.
func finishRun(c *cobra.Command, f runFlags, path string, p *canary.Plan, pv *providers, saved bool, st canary.State, err error) error {
	if saved && exitCode(err) == ExitPaused {
		fmt.Fprintf(c.ErrOrStderr(), "canary: the state is saved in %s; continue with: %s\n", f.state, runCommand(f, path, "--resume"))
	}
	if err == nil {
		fmt.Fprintf(c.ErrOrStderr(), "canary: %s %s promoted\n", st.Name, st.Version)
	}
	return tellFrontDoor(c.Context(), c.ErrOrStderr(), p, pv, st, err, f.serveAfter)
}

// tellFrontDoor says what becomes of the proxy's clients and, with
// --serve-after, keeps serving until a signal; it returns err.
func tellFrontDoor(ctx context.Context, w io.Writer, p *canary.Plan, pv *providers, st canary.State, err error, serve bool) error {
	serve = serve && ctx.Err() == nil
	note := frontDoorNote(p, pv, st, err, serve)
	if note == "" {
		return err
	}
	var oe *outcomeError
	if errors.As(err, &oe) {
		// The outcome is printed last (report); the note goes with it.
		oe.msg += "\n" + note
		if !serve {
			return err
		}
		report(w, err) // now, before the wait, and not again at exit
		oe.msg, note = "", ""
	}
	if serve {
		serveAfter(ctx, w, note)
	} else {
		fmt.Fprintln(w, note)
	}
	return err
}

// output shows a rollout to a person (live view) or a program (JSON).
type output struct {
	w      io.Writer
	json   bool
	text   bool // event lines without the live block (not a terminal)
	live   *view.Live
	opts   view.Options
	mu     sync.Mutex
	start  time.Time
	events int
	// onEvent, when set, is called after each event is shown (the demo
	// injects its faults from it).
	onEvent func(canary.Event)
}

func newOutput(w io.Writer, f runFlags) *output {
	o := &output{w: w, opts: view.Options{Color: !f.noColor}}
	tty := false
	if fd, ok := w.(interface{ Fd() uintptr }); ok {
		tty = term.IsTerminal(int(fd.Fd()))
	}
	switch {
	case f.output == "json":
		o.json = true
	case tty:
		o.live = view.NewLive(w, o.opts)
	case f.output == "text":
		o.text = true
	default:
		o.json = true
	}
	return o
}

// event shows one event.
func (o *output) event(ev canary.Event) {
	o.show(ev)
	if o.onEvent != nil {
		o.onEvent(ev)
	}
}

func (o *output) show(ev canary.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.start.IsZero() {
		o.start = ev.Time
	}
	o.events++
	switch {
	case o.json:
		if b, err := view.EventJSON(ev); err == nil {
			_, _ = o.w.Write(b)
		}
	case !view.Filter(ev):
	case o.live != nil:
		_ = o.live.Println(view.StyledEventLine(ev, o.start, o.opts))
	default:
		fmt.Fprintln(o.w, view.EventLine(ev, o.start))
	}
}

// line prints a line for a person (not in JSON mode).
func (o *output) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.json:
	case o.live != nil:
		_ = o.live.Println(s)
	default:
		fmt.Fprintln(o.w, s)
	}
}

// anchor makes t (the rollout's start) the zero of the elapsed times, as
// the live block's "running" counts from it.
func (o *output) anchor(t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.start = t
}

// restart makes the next event the zero of the elapsed times and, on a
// terminal, starts a new live block below the last one (which the end of
// the previous rollout left on screen: the demo shows every scenario's
// final block, not only the first).
func (o *output) restart() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.start = time.Time{}
	if o.live != nil {
		o.live = view.NewLive(o.w, o.opts)
	}
}

func (o *output) update(p *canary.Plan, st canary.State, last []canary.Evaluation, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.live != nil {
		_ = o.live.Update(p, st, last, now)
	}
}

func (o *output) close() {
	if o.live != nil {
		_ = o.live.Close()
	}
}

// execute runs one rollout of p on pv from st, showing it on out, saving
// it in save (nil: in memory) and telling notifier (optional) about each
// event.
func execute(ctx context.Context, p *canary.Plan, pv *providers, out *output, st canary.State, save runner.Store, notifier canary.Notifier) (canary.State, error) {
	clock := canary.SystemClock{}
	if st.Phase == "" {
		st = engine.New(p, clock.Now())
	}
	out.anchor(st.CreatedAt) // a resumed rollout's offsets go on from its start
	if save != nil && reflect.ValueOf(save).IsNil() {
		save = nil
	}
	r, err := runner.New(runner.Config{
		Store: save,
		Plan:  p, Router: pv.Router, Metrics: pv.Metrics, Flags: pv.Flags, Checks: pv.Checks,
		Notifier: notifier, StopWhenPaused: true, PauseOnInterrupt: true,
		OnEvent:  out.event,
		OnUpdate: func(st canary.State, last []canary.Evaluation) { out.update(p, st, last, clock.Now()) },
	}, st)
	if err != nil {
		return canary.State{}, err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-tick.C:
				out.update(p, r.State(), r.LastEvaluations(), clock.Now())
			case <-done:
				return
			}
		}
	}()
	st, err = r.Run(ctx)
	out.update(p, st, r.LastEvaluations(), clock.Now())
	out.close()
	return st, err
}

// outcome turns a finished rollout into the command's result.
func outcome(p *canary.Plan, st canary.State, err error) error {
	label := fmt.Sprintf("step %d", st.Step+1)
	if st.Step < len(p.Spec.Steps) {
		label = fmt.Sprintf("step %d (%d%%)", st.Step+1, p.Spec.Steps[st.Step].Weight)
	}
	switch {
	case errors.Is(err, runner.ErrInterrupted):
		return &outcomeError{code: ExitPaused, msg: fmt.Sprintf(
			"canary: interrupted: %s paused at %s with %d%% of traffic on the canary.", st.Name, label, st.Weight)}
	case err != nil:
		return err
	}
	switch st.Phase {
	case canary.PhaseSucceeded:
		return nil
	case canary.PhaseRolledBack:
		return &outcomeError{code: ExitRolledBack, msg: fmt.Sprintf("canary: %s %s rolled back (%s): %s",
			st.Name, st.Version, st.RollbackKind, st.RollbackReason)}
	case canary.PhaseFailed:
		return &outcomeError{code: ExitPreChecks, msg: fmt.Sprintf("canary: %s %s failed before any traffic moved (pre-checks or a beforeRollout hook); nothing was changed",
			st.Name, st.Version)}
	}
	return &outcomeError{code: ExitPaused, msg: fmt.Sprintf("canary: %s is %s at %s: %s", st.Name, st.Phase, label, st.PauseReason)}
}
