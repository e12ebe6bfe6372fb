package apisrc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/canary-dev/canary/metricsrc"
)

// Kinds of failure, tested with errors.Is on a Measure error: metricsrc's,
// so canary query and the engine treat these sources as every other.
var (
	// ErrUnknownMetric: the metric is not one these sources measure
	// (latencyPNN, errorRate, requestRate).
	ErrUnknownMetric = metricsrc.ErrUnknownMetric
	// ErrBadQuery: the service refused the query, or answered with
	// something that is not one number. Retrying does not help.
	ErrBadQuery = metricsrc.ErrBadQuery
	// ErrSeveralSeries: the query returned more than one series or row
	// where one number is expected.
	ErrSeveralSeries = metricsrc.ErrSeveralSeries
	// ErrUnavailable: the service could not be reached or failed, after
	// the retries.
	ErrUnavailable = metricsrc.ErrUnavailable
)

// Transient marks err as worth retrying (a network error, a 5xx or 429
// answer).
func Transient(err error) error { return transientError{err} }

type transientError struct{ error }

func (e transientError) Unwrap() error { return e.error }

func isTransient(err error) bool {
	var t transientError
	return errors.As(err, &t)
}

// QueryError is a failed query. Its message names the source, the query
// template and the query sent.
type QueryError struct {
	// Source names the service: "datadog https://api.datadoghq.com".
	Source string
	// Name of the template: requests, errors or latency.
	Name string
	// Query is the rendered query.
	Query string
	// Kind is ErrBadQuery, ErrSeveralSeries or ErrUnavailable.
	Kind error
	// Err is what went wrong, for people.
	Err error
	// Attempts is how many requests were made.
	Attempts int
}

// Error reads "SOURCE: NAME query `QUERY`: KIND: what went wrong (after N
// attempts)".
func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s query `%s`: ", e.Source, e.Name, e.Query)
	if e.Kind != nil && e.Kind != ErrUnavailable && !errors.Is(e.Err, e.Kind) {
		fmt.Fprintf(&b, "%v: ", e.Kind)
	}
	b.WriteString(e.Err.Error())
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the kind and the cause, for errors.Is and errors.As.
func (e *QueryError) Unwrap() []error { return []error{e.Kind, e.Err} }
