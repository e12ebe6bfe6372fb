package promql

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels, tested with errors.Is on a Measure or Instant error.
var (
	// ErrUnknownMetric: the metric is not one Prometheus measures here
	// (latencyPNN, errorRate, requestRate). burnRate is derived by the
	// engine from errorRate and is not asked for.
	ErrUnknownMetric = errors.New("unknown metric (the prometheus source measures latencyPNN, errorRate and requestRate)")
	// ErrBadQuery: Prometheus refused the query (a syntax or execution
	// error) or answered with something that is not one number (a range
	// vector, a string, an infinity). Retrying does not help; fix the
	// query template.
	ErrBadQuery = errors.New("bad query")
	// ErrSeveralSeries: the query returned more than one series where one
	// number is expected; aggregate it (sum, max) or narrow its labels.
	ErrSeveralSeries = errors.New("several series where one is expected")
	// ErrUnavailable: Prometheus could not be reached or answered with a
	// server error, after the retries.
	ErrUnavailable = errors.New("prometheus unavailable")
)

// QueryError is a failed query. Its message names the server, the query
// template and the PromQL sent.
type QueryError struct {
	// Address of the server, without credentials.
	Address string
	// Name of the template: latency, errorRate, requestRate or requests
	// (or the caller's name for Instant).
	Name string
	// Expr is the rendered PromQL.
	Expr string
	// Kind is ErrBadQuery, ErrSeveralSeries or ErrUnavailable.
	Kind error
	// Err is what went wrong, for people.
	Err error
	// Attempts is how many requests were made.
	Attempts int
}

// Error reads "prometheus ADDRESS: NAME query `EXPR`: KIND: what went
// wrong (after N attempts)".
func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "prometheus %s: %s query `%s`: ", e.Address, e.Name, e.Expr)
	if e.Kind != nil && e.Kind != ErrUnavailable && !errors.Is(e.Err, e.Kind) { // said once
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
