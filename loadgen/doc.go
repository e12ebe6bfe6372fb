// Package loadgen is a bounded HTTP load generator for `canary demo` and
// end-to-end tests.
//
// A generator sends requests to one target at an open-loop rate (request i
// is due at start + i/Rate, whatever became of the earlier ones) with at
// most Concurrency in flight, or as fast as Concurrency allows when no rate
// is set. It counts answers by status class and by the X-Canary-Track
// header the canary proxy sets, so a test can see how traffic was split.
//
// Two invariants keep it safe to run anywhere: every run is bounded (a
// Duration, a MaxRequests, or both; unbounded load is refused), and load
// only goes to this machine (the target must be a loopback address, and
// the default client dials loopback addresses only and follows no
// redirects).
package loadgen
