package apisrc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/canary-dev/canary"
)

// Defaults used when a Config field is zero.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 2
	DefaultBackoff = 100 * time.Millisecond
)

// Value is the single number a query returned, or no data.
type Value struct {
	// V is the value; 0 when NoData.
	V float64
	// NoData is set for an empty answer (no series, no rows, null).
	NoData bool
}

// Backend is one vendor's API.
type Backend interface {
	// Render is the query text of template name for v: what is sent, and
	// what errors and canary query show.
	Render(name string, v Vars) (string, error)
	// Run sends query once, over the window [from, to). A failure worth
	// retrying is wrapped with Transient; one that is about the query's
	// answer (several series, not a number) wraps ErrSeveralSeries or
	// ErrBadQuery. The error must not hold a credential.
	Run(ctx context.Context, name, query string, from, to time.Time) (Value, error)
}

// Config configures a Source.
type Config struct {
	// Kind names the source ("datadog") and Address where it sends its
	// queries (a URL, or a region): errors start with both. Required.
	Kind, Address string
	// Backend runs the queries. Required.
	Backend Backend
	// Vars are the fixed template variables: Service, Namespace,
	// LoadBalancer.
	Vars Vars
	// Tracks are the per-track selectors, the templates' {{.Selector}}.
	Tracks canary.TrackValues
	// Timeout bounds one query, retries included. Default: 10s.
	Timeout time.Duration
	// Retries after a transient failure. Default: 2; negative: none.
	Retries int
	// Backoff before the first retry, doubled before each next one.
	// Default: 100ms.
	Backoff time.Duration
}

// Source measures by running a Backend's requests, errors and latency
// queries. It is safe for concurrent use when its Backend is.
type Source struct{ c Config }

var _ canary.MetricSource = (*Source)(nil)

// New fills cfg's defaults.
func New(cfg Config) (*Source, error) {
	if cfg.Backend == nil || cfg.Kind == "" || cfg.Address == "" {
		return nil, errors.New("apisrc: Kind, Address and Backend are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	return &Source{c: cfg}, nil
}

// Kind names the source: datadog, cloudwatch, newRelic.
func (s *Source) Kind() string { return s.c.Kind }

// Address is where the source sends its queries.
func (s *Source) Address() string { return s.c.Address }

// Rendered are the queries one Measure of a canary.Query sends: the
// metric's own (Name: errors, latency; requests for requestRate) and the
// requests query.
type Rendered struct {
	Name, Value, Requests string
}

// Render returns the queries Measure sends for q.
func (s *Source) Render(q canary.Query) (Rendered, error) {
	qs, err := s.Plan(q)
	if err != nil {
		return Rendered{}, err
	}
	r := Rendered{Name: QueryRequests, Value: qs[QueryRequests], Requests: qs[QueryRequests]}
	for _, name := range []string{QueryErrors, QueryLatency} {
		if qs[name] != "" {
			r.Name, r.Value = name, qs[name]
		}
	}
	return r, nil
}

// Plan is the queries one Measure of q runs, by name, rendered.
func (s *Source) Plan(q canary.Query) (map[string]string, error) {
	if q.Track != canary.TrackStable && q.Track != canary.TrackCanary {
		return nil, fmt.Errorf("measure %s of track %q: unknown track (want stable or canary)", q.Metric, q.Track)
	}
	if q.Window <= 0 {
		return nil, fmt.Errorf("measure %s: window %s is not positive", q.Metric, q.Window)
	}
	v := s.c.Vars.For(q, s.c.Tracks)
	names := []string{QueryRequests}
	switch qt, isLatency := q.Metric.Quantile(); {
	case isLatency:
		v = quantileVars(v, qt)
		names = append(names, QueryLatency)
	case q.Metric == canary.MetricErrorRate:
		names = append(names, QueryErrors)
	case q.Metric == canary.MetricRequestRate:
	default:
		return nil, fmt.Errorf("measure %q: %w", q.Metric, ErrUnknownMetric)
	}
	out := map[string]string{}
	for _, n := range names {
		text, err := s.c.Backend.Render(n, v)
		if err != nil {
			return nil, err
		}
		out[n] = text
	}
	return out, nil
}

// Measure implements canary.MetricSource: the requests query and the
// metric's own (errors for errorRate, latency for a latency) run
// concurrently over [q.At-q.Window, q.At). errorRate is errors/requests
// (no errors series counts as none), requestRate requests per second of
// the window, a latency the latency query's value; Samples is the
// requests count. NoData when the metric's query (or, for errorRate and
// requestRate, the requests query) answered nothing.
func (s *Source) Measure(ctx context.Context, q canary.Query) (canary.Measurement, error) {
	queries, err := s.Plan(q)
	if err != nil {
		return canary.Measurement{}, err
	}
	type answer struct {
		v   Value
		err error
	}
	answers := map[string]chan answer{}
	for name, text := range queries {
		ch := make(chan answer, 1)
		answers[name] = ch
		go func() {
			v, err := s.Query(ctx, name, text, q.At.Add(-q.Window), q.At)
			ch <- answer{v, err}
		}()
	}
	got := map[string]Value{}
	var errs []error
	for _, name := range QueryNames {
		if ch, ok := answers[name]; ok {
			a := <-ch
			got[name] = a.v
			if a.err != nil {
				errs = append(errs, a.err)
			}
		}
	}
	if len(errs) > 0 {
		return canary.Measurement{}, errors.Join(errs...)
	}
	return combine(q, got), nil
}

// combine makes the measurement of q from its queries' answers.
func combine(q canary.Query, got map[string]Value) canary.Measurement {
	req := got[QueryRequests]
	var m canary.Measurement
	if !req.NoData && req.V > 0 {
		m.Samples = int64(math.Round(req.V))
	}
	switch {
	case q.Metric == canary.MetricErrorRate:
		if req.NoData || req.V <= 0 {
			return canary.Measurement{NoData: true}
		}
		m.Value = got[QueryErrors].V / req.V
	case q.Metric == canary.MetricRequestRate:
		if req.NoData {
			return canary.Measurement{NoData: true}
		}
		m.Value = req.V / q.Window.Seconds()
	default:
		lat := got[QueryLatency]
		m.Value, m.NoData = lat.V, lat.NoData
	}
	return m
}

// Query runs one rendered query over [from, to), retrying transient
// failures with doubling backoff within the timeout. The error is a
// *QueryError.
func (s *Source) Query(ctx context.Context, name, query string, from, to time.Time) (Value, error) {
	ctx, cancel := context.WithTimeout(ctx, s.c.Timeout)
	defer cancel()
	wait := s.c.Backoff
	for attempt := 1; ; attempt++ {
		v, err := s.c.Backend.Run(ctx, name, query, from, to)
		if err == nil {
			if math.IsNaN(v.V) {
				return Value{NoData: true}, nil
			}
			if math.IsInf(v.V, 0) {
				err = fmt.Errorf("%w: returned %v, not a finite number", ErrBadQuery, v.V)
			} else {
				return v, nil
			}
		}
		retry := isTransient(err) && attempt <= s.c.Retries && ctx.Err() == nil
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			retry = false
		}
		if !retry {
			return Value{}, s.fail(ctx, name, query, err, attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Value{}, s.fail(ctx, name, query, err, attempt)
		case <-t.C:
		}
		wait *= 2
	}
}

func (s *Source) fail(ctx context.Context, name, query string, err error, attempts int) error {
	kind := ErrUnavailable
	switch {
	case errors.Is(err, ErrSeveralSeries):
		kind = ErrSeveralSeries
	case errors.Is(err, ErrBadQuery):
		kind = ErrBadQuery
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("no answer within %s (the query timeout)", s.c.Timeout)
	}
	return &QueryError{Source: s.c.Kind + " " + s.c.Address, Name: name, Query: query, Kind: kind, Err: err, Attempts: attempts}
}
