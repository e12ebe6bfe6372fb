package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/notify"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/store"
)

// runState is a foreground rollout's durable state in the --state
// database: it implements runner.Store.
type runState struct {
	st     *store.Store
	unlock func() // releases the state database's lock
	id     int64
	state  canary.State
	// plan routes the events' notifications; nil with --no-notify, when
	// no outbox items are written.
	plan *canary.Plan
	// stored is the rollout as --resume found it (its plan as stored and
	// when it was last saved); zero for a new rollout.
	stored store.Rollout
	// replaced are the events --resume --force recorded before the run,
	// for the output to show first.
	replaced []canary.Event
}

// openRunState opens --state and creates the rollout, or with --resume
// loads the latest one: paused, interrupted or finished (see
// runState.finished). A rollout of the same name that is not finished
// is never silently replaced.
func openRunState(ctx context.Context, f runFlags, p *canary.Plan, file string) (*runState, error) {
	if f.state == "" || f.state == "none" {
		if f.resume {
			return nil, usageError{errors.New("--resume needs --state")}
		}
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(f.state), 0o700); err != nil {
		return nil, canary.Errorf(canary.EUNAVAILABLE, "--state: %v", err)
	}
	// One process per state database (see lockState).
	unlock, err := lockState(f.state)
	if err != nil {
		return nil, err
	}
	rs, err := openLockedRunState(ctx, f, p, file)
	if err != nil {
		unlock()
		return nil, err
	}
	rs.unlock = unlock
	return rs, nil
}

// openLockedRunState is openRunState once the state database is locked.
func openLockedRunState(ctx context.Context, f runFlags, p *canary.Plan, file string) (*runState, error) {
	// A send cut off by a crash is offered again once its claim's lease
	// runs out; the lease follows the send timeout (see claimLease).
	st, err := store.OpenConfig(ctx, store.Config{Path: f.state, ClaimLease: claimLease(f.notifySend)})
	if err != nil {
		return nil, err
	}
	rs := &runState{st: st}
	if !f.noNotify {
		rs.plan = p
	}
	if err := rs.find(ctx, f, p, file); err != nil {
		st.Close()
		return nil, err
	}
	return rs, nil
}

// find points rs at p's rollout in the state database: the saved one
// --resume continues (its spec replaced as --force allows), the record
// of a run that failed before its rollout started, or a new one. An
// unfinished rollout that is not resumed is a conflict saying how to
// continue or discard it.
func (rs *runState) find(ctx context.Context, f runFlags, p *canary.Plan, file string) error {
	name := p.Metadata.Namespace + "/" + p.Metadata.Name
	latest, err := rs.st.Latest(ctx, name)
	switch {
	case err != nil && canary.ErrorCode(err) != canary.ENOTFOUND:
		return err
	case f.resume && err != nil:
		return canary.Errorf(canary.ENOTFOUND, "no unfinished rollout of %s in %s to resume: it has never run there (run it without --resume to start one)", name, f.state)
	case f.resume:
		// A finished one too: its notifications may still be pending
		// (resumeFinished).
		rs.id, rs.state, rs.stored = latest.ID, latest.State, latest
		return rs.replaceSpec(ctx, f, p, file)
	case err == nil && latest.State.EventSeq == 0:
		// Created by a run that failed before the rollout started (a port
		// in use): nothing happened, so the new run takes the record over.
		rs.id = latest.ID
		canon, err := json.Marshal(p)
		if err != nil {
			return err
		}
		return rs.st.UpdatePlan(ctx, latest.ID, canon)
	case err == nil && !latest.State.Phase.Terminal():
		return canary.Errorf(canary.ECONFLICT,
			"rollout %s is %s at weight %d%% in %s: continue it with `%s`, discard it with `%s` (or use another --state)",
			name, latest.State.Phase, latest.State.Weight, f.state, runCommand(f, file, "--resume"), runCommand(f, file, "--abandon"))
	}
	canon, err := json.Marshal(p)
	if err != nil {
		return err
	}
	r, err := rs.st.Create(ctx, name, canon, canary.State{}, nil)
	if err != nil {
		return err
	}
	rs.id = r.ID
	return nil
}

// replaceSpec compares the plan given to --resume with the one the
// rollout was saved with. A changed spec of an unfinished rollout is
// refused, saying what differs, unless --force: then the saved state is
// re-keyed to it and the change recorded (engine.ReplacePlan, as apply
// --force does under canary serve), state, event and plan in one write.
func (r *runState) replaceSpec(ctx context.Context, f runFlags, p *canary.Plan, file string) error {
	if r.state.Phase.Terminal() {
		return nil
	}
	stored, err := r.storedPlan()
	if err != nil {
		return err
	}
	changes := engine.SpecChanges(stored, p)
	if len(changes) == 0 {
		return nil
	}
	if stored.Spec.Version != p.Spec.Version || !f.force {
		how := fmt.Sprintf("resume with the plan it was started with, or with `%s` to continue with this one", runCommand(f, file, "--resume --force"))
		if stored.Spec.Version != p.Spec.Version {
			how = fmt.Sprintf("it runs version %s and %s says %s: finish or discard it first (`%s`)",
				stored.Spec.Version, file, p.Spec.Version, runCommand(f, file, "--abandon"))
		}
		return engine.ErrSpecChanged(r.stored.Name, changes, how)
	}
	canon, err := json.Marshal(p)
	if err != nil {
		return err
	}
	out, err := engine.ReplacePlan(stored, p, r.state, "canary run --resume --force", time.Now())
	if err != nil {
		return err
	}
	if err := r.save(ctx, out.State, out.Events, store.WithPlan(canon)); err != nil {
		return err
	}
	r.state, r.stored.Plan, r.replaced = out.State, canon, out.Events
	return nil
}

// runCommand is the canary run command line for file with extra flags,
// naming --state when it is not the default, so that it can be pasted.
func runCommand(f runFlags, file, extra string) string {
	s := "canary run " + extra
	if f.state != defaultStatePath("run.db") {
		s += " --state " + shellQuote(f.state)
	}
	return s + " " + shellQuote(file)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// finished reports whether --resume found a rollout that had already
// finished: there is nothing to run, only notifications to deliver.
func (r *runState) finished() bool { return r != nil && r.state.Phase.Terminal() }

// storedPlan is the plan the rollout ran with, as stored.
func (r *runState) storedPlan() (*canary.Plan, error) {
	p, err := plan.Parse(r.stored.Name, r.stored.Plan)
	if err != nil {
		return nil, fmt.Errorf("the plan stored with rollout %s #%d: %w", r.stored.Name, r.id, err)
	}
	return p, nil
}

// pending counts the rollout's notifications not yet delivered or given
// up, and those of them an earlier run had claimed (being sent when it
// stopped: due again once the claim's lease runs out).
func (r *runState) pending(ctx context.Context) (pending, claimed int, err error) {
	items, err := r.st.Outbox(ctx, r.id)
	if err != nil {
		return 0, 0, err
	}
	for _, it := range items {
		switch it.Status {
		case canary.OutboxPending:
			pending++
		case canary.OutboxClaimed:
			pending++
			claimed++
		}
	}
	return pending, claimed, nil
}

// resume returns the state to continue from. A rollout that was paused
// (by an interruption or for a reason) is resumed: asking for --resume is
// the person's decision to go on.
func (r *runState) resume(ctx context.Context, p *canary.Plan) (canary.State, error) {
	if r == nil {
		return canary.State{}, nil
	}
	if r.state.Phase != canary.PhasePaused {
		return r.state, nil
	}
	out, err := engine.Control(p, r.state, engine.Command{Kind: engine.CmdResume, Actor: "canary run --resume"}, time.Now())
	if err != nil {
		return canary.State{}, err
	}
	if err := r.Save(ctx, out.State, out.Events); err != nil {
		return canary.State{}, err
	}
	return out.State, nil
}

// Save commits a decision (implements runner.Store) with the
// notifications its events cause (the outbox runDelivery delivers from), in
// one transaction. The first save of a new rollout replaces the empty
// snapshot Create stored.
func (r *runState) Save(ctx context.Context, st canary.State, events []canary.Event) error {
	return r.save(ctx, st, events)
}

// save is Save with extra commit options (the plan --resume --force
// replaces).
func (r *runState) save(ctx context.Context, st canary.State, events []canary.Event, extra ...store.CommitOption) error {
	if r == nil {
		return nil
	}
	opts := extra
	if r.plan != nil {
		if items := notify.OutboxItemsIn(r.st.UUID(), r.plan, r.id, events); len(items) > 0 {
			opts = append(opts, store.WithOutbox(items...))
		}
	}
	return r.st.Commit(ctx, r.id, st, events, opts...)
}

func (r *runState) close() {
	if r != nil {
		r.st.Close()
		if r.unlock != nil {
			r.unlock()
		}
	}
}
