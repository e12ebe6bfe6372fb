package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/canary-dev/canary"
)

// The built-in proxy of canary run lives in the process: when the run ends
// (an outcome or Ctrl-C) its listener closes and clients of its address
// get connection refused. frontDoorNote says so after the outcome, and
// --serve-after keeps serving the final routing until a signal.

// frontDoorNote tells what happens to the proxy's clients when canary run
// exits after err (the rollout's result), and how to keep a front door.
func frontDoorNote(p *canary.Plan, pv *providers, st canary.State, err error, serveAfter bool) string {
	if pv == nil || pv.ProxyAddr == "" || p.Spec.Traffic.Proxy == nil {
		return ""
	}
	px := p.Spec.Traffic.Proxy
	code := exitCode(err)
	var now string
	switch {
	case err == nil && hasPromoteHooks(p):
		now = fmt.Sprintf("it sends 100%% of traffic to the stable slot at %s, where the promote hooks deployed the new version", px.Stable)
	case err == nil:
		now = fmt.Sprintf("it sends 100%% of traffic to the promoted version at %s", px.Canary)
	case code == ExitRolledBack || code == ExitPreChecks:
		now = fmt.Sprintf("it sends all traffic to the stable version at %s", px.Stable)
	case code == ExitPaused:
		now = fmt.Sprintf("it sent %d%% of traffic to the canary at %s and the rest to %s", st.Weight, px.Canary, px.Stable)
	default:
		return ""
	}
	if serveAfter {
		return fmt.Sprintf("canary: the proxy on http://%s keeps serving: %s; it stops when this process does (Ctrl-C or SIGTERM).", pv.ProxyAddr, now)
	}
	promoted := ""
	if err == nil && !hasPromoteHooks(p) {
		promoted = fmt.Sprintf(" Point clients at %s (or deploy the new version into the stable slot) before they lose the proxy.", px.Canary)
	}
	return fmt.Sprintf("canary: the proxy on http://%s stopped with this process (%s): its clients now get connection refused. "+
		"Before the rollout the stable version at %s served them directly.%s "+
		"To keep a front door that outlives rollouts, run the plan under canary serve (canary apply), or use canary run --serve-after.",
		pv.ProxyAddr, now, px.Stable, promoted)
}

// serveAfter keeps the proxy serving the outcome's routing until SIGINT
// or SIGTERM (or ctx ends), for canary run --serve-after.
func serveAfter(ctx context.Context, w io.Writer, note string) {
	if ctx.Err() != nil {
		return // interrupted: the signal that would end the wait came already
	}
	if note != "" {
		fmt.Fprintln(w, note)
	}
	fmt.Fprintln(w, "canary: serving until interrupted (Ctrl-C or SIGTERM)")
	<-ctx.Done() // main's context ends at SIGINT or SIGTERM
	fmt.Fprintln(w, "canary: stopping the proxy")
}

// checkServeAfter refuses --serve-after where there is no built-in proxy.
func checkServeAfter(p *canary.Plan, on bool) error {
	if on && p.Spec.Traffic.Proxy == nil {
		return usageError{errors.New("--serve-after keeps the built-in proxy serving; traffic." + p.Spec.Traffic.Provider() +
			" keeps its routing without canary: leave the flag out")}
	}
	return nil
}
