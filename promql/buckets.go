package promql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/canary-dev/canary"
	"github.com/prometheus/common/model"
)

// Buckets runs expr, a latencyBuckets query, as an instant query at at
// (zero: now) and returns the latency distribution it describes: one
// series per cumulative bucket, told apart by its le label, each the
// number of requests at or below le seconds over the window. The buckets
// are de-cumulated (each counts the requests above the previous bound),
// the +Inf bucket's requests beyond the last finite bound are counted in
// the last finite bucket, buckets with le ≤ 0 are folded into the first
// positive one, and counts are rounded to whole requests (increase()
// extrapolates to the window's edges, so they need not be whole). A
// bucket that is lower than the one below it (the extrapolation of
// separate series) counts 0. An empty result, or one whose buckets hold
// no request, is nil: no distribution. Errors are *QueryError, as for
// Instant.
func (s *Source) Buckets(ctx context.Context, name, expr string, at time.Time) ([]canary.LatencyBucket, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	fail := func(kind, err error, attempts int) ([]canary.LatencyBucket, error) {
		return nil, &QueryError{Address: s.addr, Name: name, Expr: expr, Kind: kind, Err: err, Attempts: attempts}
	}
	res, attempts, err := s.query(ctx, expr, at)
	if err != nil {
		return fail(s.queryFailure(err, attempts))
	}
	cum, err := cumulative(res)
	if err != nil {
		return fail(ErrBadQuery, err, attempts)
	}
	return decumulate(cum), nil
}

// cumBucket is one cumulative bucket: requests at or below le.
type cumBucket struct {
	le    float64
	count float64
}

// cumulative reads a latencyBuckets result: an instant vector of
// series with distinct, numeric le labels and finite, non-negative
// values (NaN, which increase() gives for a series without two samples,
// counts 0), in increasing order of le.
func cumulative(res model.Value) ([]cumBucket, error) {
	vec, ok := res.(model.Vector)
	if !ok {
		if res == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("returned a %s, not an instant vector of buckets (write e.g. sum by (le) (increase(my_duration_seconds_bucket[{{.Window}}])))", res.Type())
	}
	out := make([]cumBucket, 0, len(vec))
	for _, smp := range vec {
		raw, ok := smp.Metric[model.BucketLabel]
		if !ok {
			return nil, fmt.Errorf("series %s has no le label (aggregate by le: sum by (le) (...))", smp.Metric)
		}
		le, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsNaN(le) {
			return nil, fmt.Errorf("series %s: le %q is not a number", smp.Metric, raw)
		}
		if smp.Histogram != nil {
			return nil, errors.New("returned a native histogram, not classic buckets (use the _bucket series of a classic histogram)")
		}
		v := float64(smp.Value)
		switch {
		case math.IsNaN(v):
			v = 0
		case math.IsInf(v, 0) || v < 0:
			return nil, fmt.Errorf("series %s: %v is not a count of requests", smp.Metric, v)
		}
		out = append(out, cumBucket{le: le, count: v})
	}
	slices.SortFunc(out, func(a, b cumBucket) int {
		switch {
		case a.le < b.le:
			return -1
		case a.le > b.le:
			return 1
		}
		return 0
	})
	for i := 1; i < len(out); i++ {
		if out[i].le == out[i-1].le {
			return nil, fmt.Errorf("%w: two series with le=%v (aggregate by le: sum by (le) (...))", ErrSeveralSeries, out[i].le)
		}
	}
	return out, nil
}

// decumulate turns cumulative buckets into Measurement.Latency buckets,
// as Buckets describes.
func decumulate(cum []cumBucket) []canary.LatencyBucket {
	var out []canary.LatencyBucket
	prev, carry, total := 0.0, 0.0, int64(0)
	for _, b := range cum {
		n := max(b.count-prev, 0)
		prev = max(prev, b.count)
		switch {
		case b.le <= 0:
			carry += n
			continue
		case math.IsInf(b.le, 1):
			if len(out) > 0 {
				c := int64(math.Round(n))
				out[len(out)-1].Count += c
				total += c
			}
			continue
		}
		c := int64(math.Round(n + carry))
		carry = 0
		out = append(out, canary.LatencyBucket{UpperBound: b.le, Count: c})
		total += c
	}
	if total == 0 {
		return nil
	}
	return out
}
