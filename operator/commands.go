package operator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
)

// command applies the annotation's command, stores it, then removes the
// annotation.
func (r *Reconciler) command(ctx context.Context, ro *rollout, st canary.State, text string, now time.Time) (ctrl.Result, error) {
	cmd, err := ParseCommand(text)
	if err == nil {
		var out engine.Output
		out, err = engine.Control(ro.plan, st, cmd, now)
		if err == nil {
			ro.status.LastCommand = text
			if werr := r.write(ctx, ro, out); werr != nil {
				return requeueOn(werr)
			}
			return r.dropCommand(ctx, ro)
		}
	}
	r.event(ro.obj, corev1.EventTypeWarning, "CommandRefused", fmt.Sprintf("%s: %v", text, err))
	ro.status.LastCommand = text
	ro.status.Message = fmt.Sprintf("command %q refused: %v", text, err)
	if werr := r.writeStatus(ctx, ro); werr != nil {
		return requeueOn(werr)
	}
	return r.dropCommand(ctx, ro)
}

// dropCommand removes the command annotation (fenced by resourceVersion)
// and then clears status.lastCommand.
func (r *Reconciler) dropCommand(ctx context.Context, ro *rollout) (ctrl.Result, error) {
	ann := ro.obj.GetAnnotations()
	delete(ann, AnnotationCommand)
	ro.obj.SetAnnotations(ann)
	if err := r.cfg.Client.Update(ctx, ro.obj); err != nil {
		ro.stale = true
		return requeueOn(err)
	}
	ro.status.LastCommand = ""
	if err := r.writeStatus(ctx, ro); err != nil {
		return requeueOn(err)
	}
	return ctrl.Result{RequeueAfter: time.Millisecond}, nil
}

// CommandAnnotation writes cmd as the command annotation ParseCommand
// reads back: "abort-immediate: error spike" (the actor is not written).
func CommandAnnotation(cmd engine.Command) string {
	s := string(cmd.Kind)
	switch {
	case cmd.Kind == engine.CmdPromote && cmd.Full:
		s += "-full"
	case cmd.Kind == engine.CmdAbort && cmd.Immediate:
		s += "-immediate"
	}
	if r := strings.TrimSpace(cmd.Reason); r != "" {
		s += ": " + strings.ReplaceAll(r, "\n", " ")
	}
	return s
}

// ParseCommand reads the command annotation: pause, resume, approve,
// promote, promote-full, abort, abort-immediate or retry, optionally
// followed by ": reason".
func ParseCommand(s string) (engine.Command, error) {
	word, reason, _ := strings.Cut(s, ":")
	cmd := engine.Command{Actor: Actor, Reason: strings.TrimSpace(reason)}
	switch strings.TrimSpace(word) {
	case "pause":
		cmd.Kind = engine.CmdPause
	case "resume":
		cmd.Kind = engine.CmdResume
	case "approve":
		cmd.Kind = engine.CmdApprove
	case "promote":
		cmd.Kind = engine.CmdPromote
	case "promote-full":
		cmd.Kind, cmd.Full = engine.CmdPromote, true
	case "abort":
		cmd.Kind = engine.CmdAbort
	case "abort-immediate":
		cmd.Kind, cmd.Immediate = engine.CmdAbort, true
	case "retry":
		cmd.Kind = engine.CmdRetry
	default:
		return cmd, fmt.Errorf("unknown command %q (use pause, resume, approve, promote, promote-full, abort, abort-immediate or retry)", word)
	}
	return cmd, nil
}
