// Package metricsrc is the machinery every metric source other than the
// built-in proxy and Prometheus shares: query templates with the
// Prometheus queries' variables and a per-track selector (Templates,
// Vars), an HTTP client that dials through the owner's egress policy and
// reads its credentials once (HTTP), one retry loop for HTTP and SDK
// calls alike (Retry), the errors that name the source and the query
// (QueryError and its kinds), and the Measure that turns a source's
// per-query answers into a canary.Measurement (Source): a value source's
// (web, influxdb, graphite) or a counting source's (Source.Counts,
// NewCounts: datadog, newRelic, cloudwatch; counts.go).
//
// A source package (web, influxdb, graphite, datadog, …) supplies only
// what is its own: default templates for the instrumentation it reads,
// how a rendered query is sent, and how one number is read from the
// answer (Run). The invariants every source then keeps:
//   - an empty answer is a Measurement with NoData, never an error and
//     never a zero;
//   - several series or an answer that is not one finite number is an
//     error of kind ErrSeveralSeries or ErrBadQuery naming the query;
//   - transient failures (network, 5xx, 429) are retried with
//     notify.Backoff within the query's timeout, then ErrUnavailable;
//   - secrets are read once, when the source is built, and never appear
//     in an error (the HTTP client redacts them).
package metricsrc
