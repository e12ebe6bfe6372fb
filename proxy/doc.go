// Package proxy is canary's built-in L7 traffic splitter: it forwards each
// request to the stable or the canary version, records per-track request
// counts, 5xx counts and latencies in memory, and exports them to
// Prometheus.
//
// The data path is built for throughput (nginx's, measured in
// BENCHMARKS.md): Server is valyala/fasthttp's server (plain HTTP/1.1, one
// goroutine per connection, reused buffers), and the proxy talks to its
// upstreams over its own pools of kept-alive HTTP/1.1 connections, with
// fasthttp's request and response types. Every request goes through
// Proxy.handle, which (1) loads the current routing (weight and the two
// targets) with one atomic load, (2) picks a track, (3) rewrites the
// request in place and sends it on a pooled connection, (4) passes the
// response on (whole when it has already arrived, else streamed as it
// comes; a protocol upgrade is spliced), and (5) records the outcome in
// the Recorder when the response is complete. On Linux both sockets are
// read and written with raw system calls (rawconn_linux.go): the
// goroutine keeps its P through each loopback read and write instead of
// letting the runtime hand it to another thread, which cut the CPU per
// request by about 15%.
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
//     failed; an upstream failing mid-body aborts the client connection
//     (the client never sees a complete response) and counts as a 502,
//     never as its status. A client that goes away is recorded as 499,
//     not as an error: while waiting for an upstream, the proxy looks at
//     the client's socket every 250ms.
//   - Every response carries X-Canary-Track: stable or canary.
//
// The Recorder keeps one-second buckets per track in a ring (default one
// hour) and answers any window from memory; it implements
// canary.MetricSource for the "builtin" metrics provider.
package proxy
