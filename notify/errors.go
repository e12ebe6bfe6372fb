package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors of VerifySignature.
var (
	// ErrNoSignature: the request has no X-Canary-Signature or
	// X-Canary-Timestamp header.
	ErrNoSignature = errors.New("webhook: no signature or timestamp header")
	// ErrBadSignature: the signature does not match the body and timestamp.
	ErrBadSignature = errors.New("webhook: signature does not match")
	// ErrStale: the timestamp is outside the replay window.
	ErrStale = errors.New("webhook: timestamp outside the replay window")
)

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a receiver that refused the
// message as malformed, a revoked webhook, a rejected recipient): the
// Deliverer records it as a final failure at once. Nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError is a failure with the receiver's requested wait
// (HTTP 429 with Retry-After).
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter returns the wait a receiver asked for (HTTP 429 with
// Retry-After), 0 if none: a minimum for the next attempt.
func RetryAfter(err error) time.Duration { return retryAfter(err) }

// retryAfter returns the wait a receiver asked for, 0 if none.
func retryAfter(err error) time.Duration {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after
	}
	return 0
}

// statusError turns a non-2xx HTTP answer into an error: 408, 425, 429
// and 5xx are worth retrying (429 with the answer's Retry-After), any other
// 4xx is permanent. The first line of the body is quoted, scrubbed of
// secrets, since receivers say there what was wrong.
func statusError(what string, resp *http.Response, secrets ...string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	detail := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if len(detail) > 200 {
		detail = detail[:200] + "…"
	}
	msg := fmt.Sprintf("%s answered %s", what, resp.Status)
	if detail != "" && !strings.HasPrefix(detail, "<") { // not an HTML error page
		msg += ": " + scrub(detail, secrets...)
	}
	err := errors.New(msg)
	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests:
		return &retryAfterError{err: err, after: parseRetryAfter(resp.Header.Get("Retry-After"))}
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly || code >= 500:
		return err
	case code >= 400:
		return Permanent(err)
	}
	return err // 1xx/3xx left unanswered: retry
}

// parseRetryAfter reads Retry-After in seconds or as an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// transportError describes a failed HTTP exchange without the request's
// URL (which may carry a token): what failed and why.
func transportError(what string, err error, secrets ...string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: no answer in time (timed out)", what)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: cancelled", what)
	}
	return fmt.Errorf("%s: %s", what, scrub(err.Error(), secrets...))
}
