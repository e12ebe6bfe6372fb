package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
)

// Codes of the API's own refusals, besides the canary.Error codes.
const (
	// CodeUnauthenticated: no bearer token, or one the server does not know
	// (401).
	CodeUnauthenticated = "unauthenticated"
	// CodeForbidden: the token's role does not allow the request (403).
	CodeForbidden = "forbidden"
)

// ErrorBody is the JSON body of every error response:
//
//	{"error":{"code":"invalid","message":"...","details":["plan:3:1: spec.steps: ..."]}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an error's code (a canary.Error code, unauthenticated,
// forbidden or rate_limited), a message for people and, for an invalid plan, one line per
// problem as `canary validate` prints them.
type ErrorDetail struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
}

// statusError is a refusal with its own HTTP status: 401, 403, 405, 413,
// 415, 429. Its code is one of the codes above or a canary.Error code.
type statusError struct {
	status int
	code   string
	msg    string
	header map[string]string
}

// Error returns the message.
func (e *statusError) Error() string { return e.msg }

// statusClientClosed is counted (nginx's 499) for requests whose client
// went away before the answer.
const statusClientClosed = 499

// httpStatus maps canary.Error codes to HTTP statuses.
var httpStatus = map[string]int{
	canary.EINVALID:     http.StatusBadRequest,
	canary.ENOTFOUND:    http.StatusNotFound,
	canary.ECONFLICT:    http.StatusConflict,
	canary.EUNAVAILABLE: http.StatusServiceUnavailable,
	canary.EINTERNAL:    http.StatusInternalServerError,
}

// writeError is the one place errors become responses: a statusError
// keeps its status; a plan.ErrorList is 400 with one detail per problem; a
// *canary.Error's code picks the status; anything else is a 500 whose
// text goes to the log, not to the client. Nothing is written once the
// response has started (an event stream) or when the client went away.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if rec, ok := w.(*recorder); ok && rec.wrote {
		s.log.Warn("error after the response started", "route", routeOf(r), "err", err)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		if rec, ok := w.(*recorder); ok {
			rec.status = statusClientClosed
		}
		return // the client went away; nobody reads an answer
	}
	status, body := s.errorResponse(routeOf(r), err)
	if se := (*statusError)(nil); errors.As(err, &se) {
		for k, v := range se.header {
			w.Header().Set(k, v)
		}
	}
	writeJSON(w, status, body)
}

func (s *server) errorResponse(route string, err error) (int, ErrorBody) {
	var (
		se   *statusError
		list plan.ErrorList
		ce   *canary.Error
		mbe  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &se):
		return se.status, ErrorBody{ErrorDetail{Code: se.code, Message: se.msg}}
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, ErrorBody{ErrorDetail{Code: canary.EINVALID,
			Message: "the request body is larger than the server's limit of " + byteSize(mbe.Limit)}}
	case errors.As(err, &list):
		d := ErrorDetail{Code: canary.EINVALID, Message: planMessage(len(list)), Details: make([]string, len(list))}
		for i, e := range list {
			d.Details[i] = e.Error()
		}
		return http.StatusBadRequest, ErrorBody{d}
	case errors.As(err, &ce):
		status, ok := httpStatus[ce.Code]
		if !ok || status == http.StatusInternalServerError {
			s.log.Error("internal error", "route", route, "code", ce.Code, "err", err)
			return http.StatusInternalServerError, ErrorBody{ErrorDetail{Code: canary.EINTERNAL, Message: ce.Message}}
		}
		return status, ErrorBody{ErrorDetail{Code: ce.Code, Message: ce.Message}}
	}
	s.log.Error("internal error", "route", route, "err", err)
	return http.StatusInternalServerError, ErrorBody{ErrorDetail{Code: canary.EINTERNAL,
		Message: "internal error (the server log has the details)"}}
}

func planMessage(n int) string {
	if n == 1 {
		return "the plan is invalid: 1 problem"
	}
	return "the plan is invalid: " + itoa(int64(n)) + " problems"
}

// The refusals.

func unauthenticated(msg, wwwAuth string) error {
	return &statusError{status: http.StatusUnauthorized, code: CodeUnauthenticated, msg: msg,
		header: map[string]string{"WWW-Authenticate": wwwAuth}}
}

func forbidden(msg string) error {
	return &statusError{status: http.StatusForbidden, code: CodeForbidden, msg: msg}
}

func methodNotAllowed(method, path, allow string) error {
	return &statusError{status: http.StatusMethodNotAllowed, code: canary.EINVALID,
		msg:    "method " + truncate(method, 16) + " is not allowed on " + path + " (use " + allow + ")",
		header: map[string]string{"Allow": allow}}
}

func unsupportedMedia(ct, want string) error {
	return &statusError{status: http.StatusUnsupportedMediaType, code: canary.EINVALID,
		msg: "Content-Type " + truncate(ct, 64) + " is not accepted here (send " + want + ")"}
}

// logLevel is how loudly a request that ended with status is logged:
// reads that went well at debug (the dashboard polls every few seconds),
// changes at info, refused ones at warn, failures at error.
func logLevel(method string, status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests:
		return slog.LevelWarn
	case method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
