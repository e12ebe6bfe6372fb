package promql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Source measures metrics with instant queries against one Prometheus
// server. It is safe for concurrent use.
type Source struct {
	api     v1.API
	addr    string // without credentials
	tmpl    templates
	vars    Vars // Service and Namespace
	timeout time.Duration
	retries int
	backoff time.Duration
}

var _ canary.MetricSource = (*Source)(nil)

// New validates cfg, reads its secrets and parses its templates. It does
// not contact the server. Every problem is a canary.EINVALID error.
func New(cfg Config) (*Source, error) {
	c, u, err := cfg.withDefaults()
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "prometheus: %v", err)
	}
	ts, err := parseTemplates(c.Queries)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "prometheus: %v", err)
	}
	hc, err := httpClient(c, u)
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "prometheus: %v", err)
	}
	cl, err := api.NewClient(api.Config{Address: u.String(), Client: hc})
	if err != nil {
		return nil, canary.Errorf(canary.EINVALID, "prometheus %s: %v", u.Redacted(), err)
	}
	return &Source{
		api: v1.NewAPI(cl), addr: u.Redacted(), tmpl: ts,
		vars:    Vars{Service: c.Service, Namespace: c.Namespace},
		timeout: c.Timeout, retries: c.Retries, backoff: c.Backoff,
	}, nil
}

// Address is the server's URL without credentials.
func (s *Source) Address() string { return s.addr }

// Exprs renders the PromQL that Measure runs for q.
func (s *Source) Exprs(q canary.Query) (Exprs, error) {
	v := s.vars
	v.Window, v.Track = FormatWindow(q.Window), string(q.Track)
	var e Exprs
	var err error
	if q.Track != canary.TrackStable && q.Track != canary.TrackCanary {
		return e, fmt.Errorf("measure %s of track %q: unknown track (want stable or canary)", q.Metric, q.Track)
	}
	if q.Window <= 0 {
		return e, fmt.Errorf("measure %s: window %s is not positive", q.Metric, q.Window)
	}
	switch qt, isLatency := q.Metric.Quantile(); {
	case isLatency:
		e.Name, v.Quantile = QueryLatency, formatQuantile(qt)
		if e.Buckets, err = s.tmpl.render(QueryLatencyBuckets, v); err != nil {
			return e, err
		}
	case q.Metric == canary.MetricErrorRate:
		e.Name = QueryErrorRate
	case q.Metric == canary.MetricRequestRate:
		e.Name = QueryRequestRate
	default:
		return e, fmt.Errorf("measure %q: %w", q.Metric, ErrUnknownMetric)
	}
	if e.Value, err = s.tmpl.render(e.Name, v); err != nil {
		return e, err
	}
	v.Quantile = ""
	e.Requests, err = s.tmpl.render(QueryRequests, v)
	return e, err
}

// Measure implements canary.MetricSource: the value query, the requests
// query and, for a latency, the latencyBuckets query run concurrently at
// q.At (zero: now). The value is in canonical units (seconds, ratio,
// requests/s) as the templates return it; Samples is the requests result
// rounded (0 when it has no data); NoData is set when the value query
// returned nothing or NaN. A latency's Latency is the buckets query's
// result de-cumulated (see Buckets), absent when it returned nothing.
func (s *Source) Measure(ctx context.Context, q canary.Query) (canary.Measurement, error) {
	e, err := s.Exprs(q)
	if err != nil {
		return canary.Measurement{}, err
	}
	type answer struct {
		v   Value
		err error
	}
	reqCh := make(chan answer, 1)
	go func() {
		v, err := s.Instant(ctx, QueryRequests, e.Requests, q.At)
		reqCh <- answer{v, err}
	}()
	type dist struct {
		b   []canary.LatencyBucket
		err error
	}
	distCh := make(chan dist, 1)
	if e.Buckets != "" {
		go func() {
			b, err := s.Buckets(ctx, QueryLatencyBuckets, e.Buckets, q.At)
			distCh <- dist{b, err}
		}()
	} else {
		distCh <- dist{}
	}
	val, verr := s.Instant(ctx, e.Name, e.Value, q.At)
	req, hist := <-reqCh, <-distCh
	switch {
	case verr != nil:
		return canary.Measurement{}, verr
	case req.err != nil:
		return canary.Measurement{}, req.err
	case hist.err != nil:
		return canary.Measurement{}, hist.err
	}
	m := canary.Measurement{Value: val.V, NoData: val.NoData}
	if !req.v.NoData && req.v.V > 0 {
		m.Samples = int64(math.Round(req.v.V))
	}
	if m.NoData {
		m.Value = 0
	} else {
		m.Latency = hist.b
	}
	return m, nil
}

// Value is the single number an instant query returned, or no data.
type Value struct {
	// V is the value; 0 when NoData.
	V float64
	// NoData is set for an empty result or NaN.
	NoData bool
}

// Instant runs expr as an instant query at at (zero: now) and returns its
// single value. name labels errors (a template name, or a panel's title).
// Transient failures are retried within the source's timeout; the error is
// a *QueryError.
func (s *Source) Instant(ctx context.Context, name, expr string, at time.Time) (Value, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	fail := func(kind, err error, attempts int) (Value, error) {
		return Value{}, &QueryError{Address: s.addr, Name: name, Expr: expr, Kind: kind, Err: err, Attempts: attempts}
	}
	res, attempts, err := s.query(ctx, expr, at)
	if err != nil {
		return fail(s.queryFailure(err, attempts))
	}
	v, err := single(res)
	if err != nil {
		kind := ErrBadQuery
		if errors.Is(err, ErrSeveralSeries) {
			kind = ErrSeveralSeries
		}
		return fail(kind, err, attempts)
	}
	return v, nil
}

// queryFailure is the kind and description of a failed query request,
// and the attempts made.
func (s *Source) queryFailure(err error, attempts int) (kind, cause error, n int) {
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrUnavailable, fmt.Errorf("no answer within %s (the query timeout)", s.timeout), attempts
	}
	return classify(err), describe(err), attempts
}

// query runs expr, retrying transient failures with doubling backoff
// while ctx lasts.
func (s *Source) query(ctx context.Context, expr string, at time.Time) (model.Value, int, error) {
	wait := s.backoff
	for attempt := 1; ; attempt++ {
		var opts []v1.Option
		if dl, ok := ctx.Deadline(); ok {
			opts = append(opts, v1.WithTimeout(evalTimeout(time.Until(dl))))
		}
		res, _, _, err := s.api.Query(ctx, expr, at, opts...)
		if err == nil {
			return res, attempt, nil
		}
		if attempt > s.retries || !transient(err) || ctx.Err() != nil {
			return nil, attempt, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, attempt, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, attempt, err
		case <-t.C:
		}
		wait *= 2
	}
}

// evalTimeout is d in a form both time.Duration.String and Prometheus's
// duration parser agree on: whole seconds, or whole milliseconds under a
// second ("9.999s" is refused).
func evalTimeout(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Truncate(time.Second)
	}
	return max(d.Truncate(time.Millisecond), time.Millisecond)
}

// transient reports whether a retry may succeed: the server could not be
// reached, failed (5xx), was overloaded (429) or timed out.
func transient(err error) bool {
	var ae *v1.Error
	if errors.As(err, &ae) {
		switch ae.Type {
		case v1.ErrServer, v1.ErrTimeout, v1.ErrCanceled:
			return true
		case v1.ErrClient:
			return strings.HasSuffix(ae.Msg, ": 429")
		}
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// classify maps a request failure to ErrBadQuery (Prometheus refused the
// query: a syntax or execution error) or ErrUnavailable (anything else).
func classify(err error) error {
	var ae *v1.Error
	if errors.As(err, &ae) && (ae.Type == v1.ErrBadData || ae.Type == v1.ErrExec) {
		return ErrBadQuery
	}
	return ErrUnavailable
}

// describe turns a client error into a message for people: the server's
// own words for API errors, a hint for authentication failures, and the
// transport error (which names the URL) otherwise.
func describe(err error) error {
	var ae *v1.Error
	if !errors.As(err, &ae) {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error repeats the method and URL; the address is
			// already in the message.
			return ue.Err
		}
		return err
	}
	msg := strings.TrimPrefix(ae.Msg, `invalid parameter "query": `)
	switch {
	case strings.HasSuffix(ae.Msg, ": 401"), strings.HasSuffix(ae.Msg, ": 403"):
		msg += " (check the bearer token or basic auth credentials)"
	case ae.Type == v1.ErrServer || ae.Type == v1.ErrClient || ae.Type == v1.ErrBadResponse:
		if d := strings.TrimSpace(ae.Detail); d != "" {
			msg += ": " + truncate(d, 200)
		}
	}
	return fmt.Errorf("%s", msg)
}

// single extracts the one number of an instant query's result.
func single(res model.Value) (Value, error) {
	var f float64
	switch r := res.(type) {
	case model.Vector:
		switch {
		case len(r) == 0:
			return Value{NoData: true}, nil
		case len(r) > 1:
			return Value{}, fmt.Errorf("%w: %d series (aggregate them, e.g. sum(...), or narrow the labels): %s",
				ErrSeveralSeries, len(r), seriesList(r))
		case r[0].Histogram != nil:
			return Value{}, errors.New("returned a native histogram, not a number (use histogram_quantile or histogram_count)")
		}
		f = float64(r[0].Value)
	case *model.Scalar:
		f = float64(r.Value)
	case nil:
		return Value{NoData: true}, nil
	default:
		return Value{}, fmt.Errorf("returned a %s, not an instant vector or a scalar (wrap a range selector in rate(), increase() or an *_over_time function)", res.Type())
	}
	switch {
	case math.IsNaN(f):
		return Value{NoData: true}, nil
	case math.IsInf(f, 0):
		return Value{}, fmt.Errorf("returned %v, not a finite number", f)
	}
	return Value{V: f}, nil
}

// seriesList names up to three series of v.
func seriesList(v model.Vector) string {
	var parts []string
	for i, smp := range v {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(v)-3))
			break
		}
		parts = append(parts, smp.Metric.String())
	}
	return strings.Join(parts, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
