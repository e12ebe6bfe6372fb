package metricsrc

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of failure, tested with errors.Is on a Measure error. They are
// the same for every source, so `canary query` and the engine treat all
// sources alike.
var (
	// ErrUnknownMetric: the metric is not one a source measures
	// (latencyPNN, errorRate, requestRate). burnRate is derived by the
	// engine from errorRate and is not asked for.
	ErrUnknownMetric = errors.New("unknown metric (a metric source measures latencyPNN, errorRate and requestRate)")
	// ErrBadQuery: the server refused the query (4xx other than 408 and
	// 429) or answered with something that is not one finite number.
	// Retrying does not help; fix the query template.
	ErrBadQuery = errors.New("bad query")
	// ErrSeveralSeries: the answer holds several series where one number
	// is expected; aggregate them or narrow the selector.
	ErrSeveralSeries = errors.New("several series where one is expected")
	// ErrUnavailable: the server could not be reached, refused the
	// credentials or failed (5xx, 429), after the retries.
	ErrUnavailable = errors.New("metric source unavailable")
)

// QueryError is a failed query. Its message names the source, its
// address, the query template and the query sent; never a secret.
type QueryError struct {
	// Source is the kind of source: web, influxdb, graphite, …
	Source string
	// Address of the server, without credentials.
	Address string
	// Name of the template: latency, errorRate, requestRate or requests.
	Name string
	// Query is the rendered query (a URL, InfluxQL, a render target…).
	Query string
	// Kind is ErrBadQuery, ErrSeveralSeries or ErrUnavailable.
	Kind error
	// Err is what went wrong, for people.
	Err error
	// Attempts is how many requests were made.
	Attempts int
}

// Error reads "SOURCE ADDRESS: NAME query `QUERY`: KIND: what went wrong
// (after N attempts)".
func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s query `%s`: ", e.Source, e.Address, e.Name, e.Query)
	if e.Kind != nil && !errors.Is(e.Err, e.Kind) {
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

// Failure is an error with its kind, as Run functions return them: the
// Source wraps it in a QueryError naming the query.
type Failure struct {
	// Kind is ErrBadQuery, ErrSeveralSeries or ErrUnavailable.
	Kind error
	// Err is what went wrong, for people.
	Err error
	// Attempts is how many requests were made (0: not counted).
	Attempts int

	permanent bool // retrying cannot help
}

func (f *Failure) Error() string { return f.Err.Error() }

// Unwrap returns the kind and the cause.
func (f *Failure) Unwrap() []error { return []error{f.Kind, f.Err} }

// Bad is a Failure of kind ErrBadQuery: format and args describe it.
func Bad(format string, args ...any) error {
	return &Failure{Kind: ErrBadQuery, Err: fmt.Errorf(format, args...)}
}

// Refused is a Failure of kind ErrUnavailable that retrying cannot help:
// the service refused the credentials.
func Refused(err error) error {
	return &Failure{Kind: ErrUnavailable, Err: err, permanent: true}
}

// Several is a Failure of kind ErrSeveralSeries: n series, named by
// names (up to three are shown).
func Several(n int, names []string) error {
	if len(names) > 3 {
		names = append(names[:3:3], fmt.Sprintf("and %d more", len(names)-3))
	}
	return &Failure{Kind: ErrSeveralSeries, Err: fmt.Errorf("%d series (aggregate them or narrow the selector): %s", n, strings.Join(names, ", "))}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
