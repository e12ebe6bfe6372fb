package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	provs "github.com/canary-dev/canary/providers"
)

// abandonTimeout bounds moving the traffic back before a rollout is
// abandoned.
const abandonTimeout = 30 * time.Second

// abandonRun is canary run --abandon PLAN: the unfinished rollout of the
// plan's name in --state is discarded deliberately. Traffic it moved goes
// back to the stable first (weight 0, flag off) through the plan it was
// started with; the built-in proxy stopped with its run, so there is
// nothing to move for it. Then the rollout is recorded as failed
// (abandoned), with the command, so the next run starts a new one.
func abandonRun(ctx context.Context, f runFlags, p *canary.Plan, file string, w io.Writer) error {
	if f.state == "" || f.state == "none" {
		return usageError{errors.New("--abandon needs --state: without one, nothing of an earlier run is kept")}
	}
	f.resume = true // open the latest rollout as --resume does, without starting one
	f.noNotify = true
	saved, err := openRunState(ctx, f, p, file)
	if err != nil {
		if canary.ErrorCode(err) == canary.ENOTFOUND {
			return canary.Errorf(canary.ENOTFOUND, "no rollout of %s/%s in %s: nothing to abandon", p.Metadata.Namespace, p.Metadata.Name, f.state)
		}
		return err
	}
	defer saved.close()
	if saved.state.Phase.Terminal() {
		return canary.Errorf(canary.ECONFLICT, "rollout %s in %s is %s already: nothing to abandon", saved.stored.Name, f.state, saved.state.Phase)
	}
	stored, err := saved.storedPlan()
	if err != nil {
		return err
	}
	done, err := restoreStable(ctx, f, stored)
	if err != nil {
		return fmt.Errorf("abandon %s: the traffic could not be moved back to the stable, so the rollout is kept (fix the cause and run --abandon again): %w", saved.stored.Name, err)
	}
	out, err := engine.Abandon(stored, saved.state, "canary run --abandon", done, time.Now())
	if err != nil {
		return err
	}
	if err := saved.Save(ctx, out.State, out.Events); err != nil {
		return err
	}
	fmt.Fprintf(w, "canary: rollout %s (%s) abandoned in %s: %s; the next `%s` starts a new one\n",
		saved.stored.Name, saved.state.Version, f.state, done, runCommand(f, file, ""))
	return nil
}

// restoreStable puts the traffic of plan p back on the stable: weight 0
// and the feature flag off. It says what it did.
func restoreStable(ctx context.Context, f runFlags, p *canary.Plan) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, abandonTimeout)
	defer cancel()
	ff := p.Spec.FeatureFlag
	if p.Spec.Traffic.Proxy == nil {
		pv, err := wire(ctx, p, f.wire)
		if err != nil {
			return "", err
		}
		defer pv.Close()
		if err := canary.ApplyRoute(ctx, pv.Router, canary.Route{}); err != nil {
			return "", fmt.Errorf("set the canary's weight to 0: %w", err)
		}
		what := "traffic moved back to the stable (weight 0"
		if ff != nil {
			if err := pv.Flags.SetFlag(ctx, ff.Name, false, 0); err != nil {
				return "", fmt.Errorf("turn feature flag %s off: %w", ff.Name, err)
			}
			what += ", flag " + ff.Name + " off"
		}
		return what + ")", nil
	}
	what := "the built-in proxy stopped with its run, so no weight was left to move"
	if ff == nil || ff.Provider != "http" {
		// The builtin flag store lived in the run's memory too.
		return what, nil
	}
	setter, err := provs.Flags(ctx, p, f.wire.env())
	if err != nil {
		return "", err
	}
	if err := setter.SetFlag(ctx, ff.Name, false, 0); err != nil {
		return "", fmt.Errorf("turn feature flag %s off: %w", ff.Name, err)
	}
	return what + "; flag " + ff.Name + " turned off", nil
}
