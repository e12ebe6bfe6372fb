// Package proxy is canary's built-in L7 traffic splitter: an http.Handler
// that forwards each request to the stable or the canary version, records
// per-track request counts, 5xx counts and latencies in memory, and exports
// them to Prometheus.
//
// The main loop is net/http's: every request goes through Proxy.ServeHTTP,
// which (1) loads the current routing (weight and the two targets) with one
// atomic load, (2) picks a track, (3) forwards with an httputil.ReverseProxy
// bound to that track, and (4) records the outcome in the Recorder.
//
// Invariants:
//
//   - Weight changes and promotion swap an immutable routing value
//     atomically; a request in flight finishes on the track it was given,
//     so no request is dropped or retried by a change.
//   - A request carrying a sticky key (a header or a cookie) is on the
//     canary iff Bucket(key) < weight×100. Bucket is part of canary's
//     contract (the flag service uses the same function), so a user only
//     ever moves stable→canary as the weight grows.
//   - Requests without a key are split smoothly and deterministically: any
//     100 consecutive such requests send exactly weight of them to the
//     canary, evenly spaced (at 5%, every 20th request).
//   - Upstream failures answer 502 and count as an error of the track that
//     failed; a client that goes away is recorded as 499, not as an error.
//   - Every response carries X-Canary-Track: stable or canary.
//
// The Recorder keeps one-second buckets per track in a ring (default one
// hour) and answers any window from memory; it implements
// canary.MetricSource for the "builtin" metrics provider.
package proxy
