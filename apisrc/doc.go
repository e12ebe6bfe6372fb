// Package apisrc is what the metric sources that query a vendor's API
// (datadog, cloudwatch, newrelic) share: query templates with the
// Prometheus queries' variables plus the track's selector, one request
// per named query (requests, errors, latency) combined into a
// canary.Measurement with its sample count, retries with doubling backoff
// within a timeout, and errors that name the source, the query and what
// it sent, never a credential.
//
// A source implements Backend (render a query, run it once over a time
// range); Source does the rest. Empty answers are no data; several series
// or an answer that does not parse are errors of kind ErrSeveralSeries and
// ErrBadQuery.
package apisrc
