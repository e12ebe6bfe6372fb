package metricsrc

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/canary-dev/canary"
)

// Value is the one number a query returned, or no data.
type Value struct {
	// V is the value; 0 when NoData.
	V float64
	// NoData is set for an empty answer (or NaN, or null).
	NoData bool
}

// Number is the Value of f: NaN is no data, an infinity is ErrBadQuery.
func Number(f float64) (Value, error) {
	switch {
	case math.IsNaN(f):
		return Value{NoData: true}, nil
	case math.IsInf(f, 0):
		return Value{}, Bad("returned %v, not a finite number", f)
	}
	return Value{V: f}, nil
}

// Run sends one rendered query (of template name, for q) and reads the
// one number of its answer. Its failures should be *Failure values (Bad,
// Several, or what HTTP.Do returns); others count as ErrUnavailable.
type Run func(ctx context.Context, name, query string, q canary.Query) (Value, error)

// Source is a canary.MetricSource made of templates and a Run: Measure
// renders the value and requests queries of a canary.Query and runs them
// concurrently. It is safe for concurrent use when Run is.
type Source struct {
	// Kind names the source in errors: web, influxdb, graphite.
	Kind string
	// Address is the server's URL without credentials.
	Address string
	// Templates are the parsed queries and selectors.
	Templates *Templates
	// Service and Namespace are the templates' .Service and .Namespace.
	Service, Namespace string
	// LoadBalancer is the templates' .LoadBalancer (CloudWatch).
	LoadBalancer string
	// Counts makes this a counting source (counts.go): its templates are
	// CountNames, and errorRate and requestRate are made of the counts.
	Counts bool
	// Run sends a query.
	Run Run
	// Redact, when set, removes secrets from error text (HTTP.Redact):
	// an answer quoted in an error may echo a credential.
	Redact func(string) string
}

var _ canary.MetricSource = (*Source)(nil)

// Rendered are the queries Measure sends for one canary.Query.
type Rendered struct {
	// Name of the value template: latency, errorRate or requestRate.
	Name string `json:"name"`
	// Value is the rendered value query.
	Value string `json:"value"`
	// Requests is the rendered requests query; its result is the samples.
	Requests string `json:"requests"`
}

// Render returns the queries Measure sends for q.
func (s *Source) Render(q canary.Query) (Rendered, error) {
	v, name, err := s.Templates.Vars(q, s.Service, s.Namespace)
	if err != nil {
		return Rendered{}, err
	}
	v.LoadBalancer = s.LoadBalancer
	if s.Counts {
		name = countName[name]
	}
	r := Rendered{Name: name}
	if r.Value, err = s.Templates.Render(name, v); err != nil {
		return r, err
	}
	v.Quantile, v.Percentile = "", ""
	r.Requests, err = s.Templates.Render(QueryRequests, v)
	return r, err
}

// Measure implements canary.MetricSource: the value query and the requests
// query run concurrently. The value is in canonical units (seconds, ratio,
// requests/s) as the template returns it; Samples is the requests answer
// rounded (0 when it has no data); NoData is set when the value query
// returned nothing. An error is a *QueryError naming the query.
func (s *Source) Measure(ctx context.Context, q canary.Query) (canary.Measurement, error) {
	r, err := s.Render(q)
	if err != nil {
		return canary.Measurement{}, err
	}
	if s.Counts {
		return s.measureCounts(ctx, q, r)
	}
	val, req, err := s.both(ctx, q, r, true)
	if err != nil {
		return canary.Measurement{}, err
	}
	m := canary.Measurement{Value: val.V, NoData: val.NoData}
	if !req.NoData && req.V > 0 {
		m.Samples = int64(math.Round(req.V))
	}
	return m, nil
}

// both runs r's requests query and, when value is set, r's value query,
// concurrently; the error is the value query's, or else the requests
// query's.
func (s *Source) both(ctx context.Context, q canary.Query, r Rendered, value bool) (val, req Value, err error) {
	type answer struct {
		v   Value
		err error
	}
	reqCh := make(chan answer, 1)
	go func() {
		v, err := s.Query(ctx, QueryRequests, r.Requests, q)
		reqCh <- answer{v, err}
	}()
	if value {
		val, err = s.Query(ctx, r.Name, r.Value, q)
	}
	a := <-reqCh
	if err == nil {
		err = a.err
	}
	return val, a.v, err
}

// Query runs one rendered query of template name with s.Run; a failure
// comes back as a *QueryError naming the source, the template and the
// query.
func (s *Source) Query(ctx context.Context, name, query string, q canary.Query) (Value, error) {
	v, err := s.Run(ctx, name, query, q)
	if err == nil {
		return v, nil
	}
	qe := &QueryError{Source: s.Kind, Address: s.Address, Name: name, Query: query, Kind: ErrUnavailable, Err: err}
	var f *Failure
	if errors.As(err, &f) {
		qe.Kind, qe.Err, qe.Attempts = f.Kind, f.Err, f.Attempts
	}
	if qe.Kind == nil {
		qe.Kind = ErrUnavailable
	}
	if s.Redact != nil {
		qe.Query = s.Redact(qe.Query)
		if msg := s.Redact(qe.Err.Error()); msg != qe.Err.Error() {
			qe.Err = errors.New(msg)
		}
	}
	return Value{}, qe
}

// Describe returns "KIND ADDRESS" for `canary query`'s header.
func (s *Source) Describe() string { return fmt.Sprintf("%s %s", s.Kind, s.Address) }
