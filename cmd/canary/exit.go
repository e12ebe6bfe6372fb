package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/web"
)

// Exit codes, documented in README.md. This is the one place errors and
// outcomes map to them.
const (
	ExitPromoted    = 0 // the rollout succeeded (or the command did)
	ExitRolledBack  = 1 // the canary was rolled back
	ExitInvalid     = 2 // invalid input: a bad plan, flag or argument
	ExitPreChecks   = 3 // pre-checks failed; nothing was changed
	ExitPaused      = 4 // paused or interrupted; continue it later
	ExitUnavailable = 5 // a dependency failed (a port in use, a store error)
)

// outcomeError carries a rollout outcome to an exit code.
type outcomeError struct {
	code int
	msg  string
}

func (e *outcomeError) Error() string { return e.msg }

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitPromoted
	}
	var oe *outcomeError
	var pe plan.ErrorList
	var ue usageError
	switch {
	case errors.As(err, &oe):
		return oe.code
	case errors.As(err, &pe), errors.As(err, &ue):
		return ExitInvalid
	}
	switch canary.ErrorCode(err) {
	case canary.EINVALID, canary.ENOTFOUND, canary.ECONFLICT, web.CodeUnauthenticated, web.CodeForbidden:
		return ExitInvalid
	}
	return ExitUnavailable
}

// report prints err for a person: plan errors one per line.
func report(w io.Writer, err error) {
	var oe *outcomeError
	if errors.As(err, &oe) {
		if oe.msg != "" {
			fmt.Fprintln(w, oe.msg)
		}
		return
	}
	fmt.Fprintln(w, "canary:", err)
}
