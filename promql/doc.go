// Package promql is the Prometheus metrics provider: a canary.MetricSource
// that answers each canary.Query with instant queries against a real
// Prometheus server (client_golang's api/prometheus/v1), evaluated at the
// query's time.
//
// The main path is Source.Measure: the query's metric picks a template
// (latency, errorRate or requestRate), which is rendered with the window,
// track, service, namespace and quantile and run together with the
// requests template, whose result becomes Measurement.Samples.
//
// Invariants:
//
//   - A provider measures and never judges: Measure returns numbers and
//     their request counts, never pass or fail.
//   - No data is never zero and never an error: an empty result or NaN
//     (0/0 when a track had no requests) is Measurement.NoData.
//   - One series is expected. Several is an error naming the query and
//     its series, never a silent pick; so is a syntax error or a result
//     that is not an instant vector or a scalar.
//   - Network errors, 5xx answers, 429 and Prometheus timeouts are retried
//     with doubling backoff, a bounded number of times, and always within
//     the query's timeout. Errors name the server (its address without
//     credentials) and the query; secrets are read once at construction
//     and never appear in an error.
package promql
