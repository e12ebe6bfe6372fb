package canary

import (
	"errors"
	"fmt"
)

// Error codes shown to users. Each maps to one HTTP status and one CLI exit
// code, in exactly one place each (cmd/canary and the web package).
const (
	EINVALID     = "invalid"     // the input is wrong; fix it and retry
	ENOTFOUND    = "not_found"   // no such rollout, flag or step
	ECONFLICT    = "conflict"    // not allowed in the current phase
	EUNAVAILABLE = "unavailable" // a dependency is down; retry later
	EINTERNAL    = "internal"    // a bug
)

// Error is the error users see: a code and a message written for them.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, EINTERNAL for any other error,
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
