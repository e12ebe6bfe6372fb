// Package simulate runs the real engine through whole rollouts on a
// simulated clock, against a scenario of traffic, latency and errors, to
// see what a plan's rules decide: the timeline of one run, or over many
// sampled runs the false-rollback rate of a healthy canary and the
// detection time of a faulty one.
//
// The main loop is Run: it calls engine.Queries and engine.Next as the
// runner does, answers the queries from the scenario's traffic at the
// weights the engine set, carries out every action at once and
// successfully, and jumps the clock to the engine's next wake-up. Traffic
// is generated in ticks of 10s (less when the plan's interval or windows
// need it) as the clock passes them, so every window is measured from the
// same requests. With Options.Sampled, request counts are Poisson, errors
// binomial given the requests and latencies multinomial over 5% bins, plus
// the scenario's noise; without, every value is its expectation, error
// counts fractions included (the engine does not round them away).
//
// # Scenario files
//
// A scenario is YAML (unknown fields are errors). Times are since the
// rollout started; durations are Go durations (30s, 5m, 1h30m), rates
// percentages (0.1%).
//
//	name: error spike              # default: the file name
//	rps: 200                       # the whole service's requests/s (both tracks)
//	stable: {p50: 200ms, p95: 450ms, errorRate: 0.1%}   # lognormal latency, 5xx ratio
//	canary: {errorRate: 0.1%}      # unset fields: the stable's
//	endpoints:                     # optional: shares of traffic with their own profile
//	  - {name: search, share: 10%, p50: 300ms, p95: 900ms}
//	changes:                       # values from a time on
//	  - {at: 45m, track: canary, errorRate: 1.5%}                 # at once
//	  - {at: 20m, over: 30m, track: canary, p95: 650ms}           # a linear ramp
//	  - {at: 60m, until: 70m, track: both, p50: 400ms, p95: 1s}   # for a while
//	  - {at: 0s, track: canary, endpoint: search, errorRate: 30%} # one endpoint
//	  - {at: 90m, rps: 50}                                        # the service's traffic
//	series: recorded.csv           # optional: recorded values (see below)
//	noise:                         # optional, drawn afresh every `every` (30s)
//	  latency: 5%                  # each track's own latency factor (σ of a lognormal)
//	  shared: 5%                   # a latency factor both tracks share
//	  errorRate: 30%               # each track's error-rate factor
//	  rps: 10%                     # the traffic's factor
//	  autocorrelation: 0.5         # AR(1) coefficient of every factor across draws
//	  slow: 1%                     # each track's chance of a slow interval (own)
//	  sharedSlow: 2%               # the chance both tracks are slow together
//	  slowBy: 1.5                  # a slow interval's latency factor (default 2)
//	  diurnal: 30%                 # daily swing of traffic: × (1 + 30%·sin(2π·day))
//	  diurnalAt: 6h                # where in the day the rollout starts (6h: the peak)
//	histograms: true               # the source gives latency histograms (default true)
//	expect: {rollback: true, from: 45m}  # the right decision, for --runs
//	limit: 6h                      # simulated time limit (default: 2 × holds + 1h)
//
// The noise models what real services show: latency both tracks share
// in an interval (load, a slow dependency) and each track's own (a slow
// pod, a noisy neighbour, GC) that moves a whole interval, heavy tails
// (slow intervals on top of the lognormal factors), autocorrelation across
// intervals (a bad minute is followed by another) and a daily swing of
// traffic. The factors are lognormal: latency ones with median 1, error
// and rps ones with mean 1.
//
// A change's track is stable, canary or both; without an endpoint it
// changes the track's own profile (the traffic no endpoint takes). An
// endpoint's unset fields are the stable's. Latency is lognormal with the
// given median and 95th percentile (only one given: σ = 0.5).
//
// A series is CSV with a header: at (a duration or seconds), track
// (stable, canary or both; default both), and any of rps, p50, p95,
// errorRate. Each row is a change at its time that holds until the next
// row that sets the same field: a recording of per-interval values from
// Prometheus or a past rollout, replayed under the plan's weights.
//
// expect.rollback false means a correct policy does not roll back (a
// healthy canary, or a stable degrading together with the canary):
// any rollback is a false one. true means a regression from expect.from:
// a rollback before it is a false one, none after it a miss, and the time
// from it to the rollback the detection time.
package simulate
