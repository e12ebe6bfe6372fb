package metricsrc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canary-dev/canary/notify"
)

// Retry is how a source's query is retried: every source's, whether it
// sends through HTTP or a vendor's SDK (CloudWatch).
type Retry struct {
	// Timeout bounds one query, retries included. Default: 10s.
	Timeout time.Duration
	// Retries after a transient failure while Timeout lasts. Default: 2.
	// Negative: none.
	Retries int
	// Backoff is the base of notify.Backoff's doubling waits between
	// attempts (a Retry-After is honoured when it fits in the timeout).
	// Default: 100ms.
	Backoff time.Duration
}

// Defaults returns r with its zero fields set to the defaults (and
// negative Retries to 0).
func (r Retry) Defaults() Retry {
	r.Timeout, r.Backoff = cmp(r.Timeout, DefaultTimeout), cmp(r.Backoff, DefaultBackoff)
	switch {
	case r.Retries == 0:
		r.Retries = DefaultRetries
	case r.Retries < 0:
		r.Retries = 0
	}
	return r
}

// Do calls attempt until it succeeds, fails for good, or the retries or
// the timeout run out. attempt returns the wait the server asked for
// (Retry-After; 0: none) and its failure: a *Failure of kind
// ErrUnavailable is retried unless permanent (Refused), another kind is
// not; an error that is not a *Failure counts as ErrUnavailable. The
// error returned is a *Failure with its Attempts set. r must have its
// defaults (Defaults).
func (r Retry) Do(ctx context.Context, attempt func(ctx context.Context) (time.Duration, error)) error {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	for n := 1; ; n++ {
		retryAfter, err := attempt(ctx)
		if err == nil {
			return nil
		}
		var f *Failure
		if !errors.As(err, &f) {
			f = &Failure{Kind: ErrUnavailable, Err: err}
		}
		f.Attempts = n
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			f.Err = fmt.Errorf("no answer within %s (the query timeout): %w", r.Timeout, f.Err)
		}
		if n > r.Retries || f.Kind != ErrUnavailable || f.permanent || ctx.Err() != nil {
			return f
		}
		wait := notify.Backoff(r.Backoff, 30*time.Second, n, retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return f
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return f
		case <-t.C:
		}
	}
}

func cmp(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
