package metricsrc

import (
	"context"
	"math"

	"github.com/canary-dev/canary"
)

// A counting source (Source.Counts: datadog, cloudwatch, newRelic) asks
// its service for counts over the window, as the vendors' APIs and
// dashboards keep them, rather than for ratios: requests, errors (failed
// requests) and a latency quantile. The measurement of a canary.Query is
// made of them:
//   - errorRate is errors/requests (no errors series counts as none); no
//     requests is no data;
//   - requestRate is requests per second of the window;
//   - a latency is the latency query's answer;
//   - Samples is the requests count, for every metric.

// countName is the counting template that measures each value template's
// metric: requestRate's is the requests count itself.
var countName = map[string]string{QueryLatency: QueryLatency, QueryErrorRate: QueryErrors, QueryRequestRate: QueryRequests}

// measureCounts runs r's queries concurrently (one when the metric is
// requestRate) and combines their answers.
func (s *Source) measureCounts(ctx context.Context, q canary.Query, r Rendered) (canary.Measurement, error) {
	val, req, err := s.both(ctx, q, r, r.Name != QueryRequests)
	if err != nil {
		return canary.Measurement{}, err
	}
	return combine(q, req, val), nil
}

// combine makes the measurement of q from the requests count and the
// metric's own answer (errors or latency).
func combine(q canary.Query, req, val Value) canary.Measurement {
	var m canary.Measurement
	if !req.NoData && req.V > 0 {
		m.Samples = int64(math.Round(req.V))
	}
	switch {
	case q.Metric == canary.MetricErrorRate:
		if req.NoData || req.V <= 0 {
			return canary.Measurement{NoData: true}
		}
		m.Value = val.V / req.V
	case q.Metric == canary.MetricRequestRate:
		if req.NoData {
			return canary.Measurement{NoData: true}
		}
		m.Value = req.V / q.Window.Seconds()
	default:
		m.Value, m.NoData = val.V, val.NoData
	}
	return m
}
