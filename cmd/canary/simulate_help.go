package main

// scenarioFormat is the scenario file's format, in simulate --help and
// (the same example, checked by TestSimulateHelpFormat) in README.
const scenarioFormat = `A scenario file is YAML (unknown fields are errors; times are since the
rollout started; rps and the stable's p50 and p95 are required):

  name: error spike                # default: the file name
  rps: 200                         # the whole service's requests/s; the weight splits it
  stable: {p50: 200ms, p95: 450ms, errorRate: 0.1%}   # lognormal latency, 5xx ratio
  canary: {errorRate: 0.1%}        # unset fields: the stable's
  endpoints:                       # optional shares of traffic with their own profile
    - {name: search, share: 10%, p50: 300ms, p95: 900ms}
  changes:                         # values from a time on
    - {at: 45m, track: canary, errorRate: 1.5%}                  # at once
    - {at: 20m, over: 30m, track: canary, p95: 650ms}            # a linear ramp
    - {at: 60m, until: 70m, track: both, p50: 400ms, p95: 1s}    # for a while
    - {at: 0s, track: canary, endpoint: search, errorRate: 30%}  # one endpoint
    - {at: 90m, rps: 50}                                         # the traffic
  series: recorded.csv             # optional recorded values, see below
  noise:                           # optional, drawn afresh at each "every" (30s)
    latency: 5%                    # each track's own latency factor (σ of a lognormal)
    shared: 15%                    # a latency factor both tracks share
    errorRate: 50%                 # each track's error-rate factor (mean 1)
    rps: 20%                       # the traffic's factor (mean 1)
    autocorrelation: 0.5           # AR(1): a bad interval tends to follow a bad one
    slow: 1%                       # each track's chance of a slow interval (GC, a pod)
    sharedSlow: 2%                 # both tracks slow together (a dependency)
    slowBy: 1.5                    # a slow interval's latency factor (default 2)
    diurnal: 30%                   # a daily swing of traffic
    diurnalAt: 6h                  # where in the day the rollout starts (6h: the peak)
  histograms: true                 # the source gives latency histograms (default)
  expect: {rollback: true, from: 45m}   # the right decision, for --runs
  limit: 6h                        # default: twice the holds plus an hour

A track's profile is p50, p95 (a lognormal latency) and errorRate (the
5xx ratio); the canary's unset fields are the stable's. A change holds
from at (at once), ramps linearly over "over", or lasts until "until";
track is stable, canary or both; a change without endpoint changes the
track's own profile. A series is CSV with a header
at,track,rps,p50,p95,errorRate (any of the last four; at a duration or
seconds; track stable, canary or both): each row holds until the next
row that sets the same field, so per-interval values exported from
Prometheus replay under the plan's weights. expect.rollback: false means
any rollback is a false one; true means a regression from expect.from:
no rollback after it is a miss, and the time from it to the rollback the
detection time. Examples: bench/decisions/scenarios/*.yaml.`
