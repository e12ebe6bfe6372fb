package providers_test

import (
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

// Graphite: one real carbon-cache and graphite-web (Debian's) for the
// source's subtest, each rollout's series under a path node of its own
// (the selector, read by the default targets). The requests fed are what
// statsd would flush each second: per track the counters
// stats_counts.shop.NODE.requests and .errors (only in seconds with
// errors, as statsd sends no counter it has not seen) and the timer's
// upper_95 in milliseconds. Graphite keeps points of the last day (the
// test's 1s:1d schema) and none in the future, so the rollouts start two
// hours ago. Its outage is real: graphite-web is stopped (connection
// refused) and started again on the same port; Carbon keeps the data.
func init() {
	rolloutSources = append(rolloutSources, rolloutSource{name: "graphite", outage: "connection refused",
		start: func(t *testing.T) func(*testing.T) feedSource {
			g := srvtest.StartGraphite(t)
			start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
			n := 0
			return func(t *testing.T) feedSource {
				n++
				return &graphiteStore{g: g, node: fmt.Sprintf("r%d", n), start: start}
			}
		}})
}

type graphiteStore struct {
	g     *srvtest.Graphite
	node  string
	start time.Time
}

func (s *graphiteStore) Start() time.Time { return s.start }

func (s *graphiteStore) Metrics() string {
	return fmt.Sprintf("{graphite: {address: %q, resolution: 1s, selector: {stable: %s-stable, canary: %s-canary}}}", s.g.URL, s.node, s.node)
}

// Feed writes per second (a request in (T-1s, T] counts at T) the
// requests, the 5xx and the nearest-rank P95 of the latencies.
func (s *graphiteStore) Feed(t testing.TB, track canary.Track, reqs []request) {
	type second struct {
		n, errs int
		lat     []float64
	}
	secs := map[int64]*second{}
	for _, r := range reqs {
		ts := r.At.Unix()
		if r.At.After(time.Unix(ts, 0)) {
			ts++
		}
		sc := secs[ts]
		if sc == nil {
			sc = &second{}
			secs[ts] = sc
		}
		sc.n++
		if r.Status >= 500 {
			sc.errs++
		}
		sc.lat = append(sc.lat, float64(r.Latency.Milliseconds()))
	}
	prefix := fmt.Sprintf("shop.%s-%s", s.node, track)
	var pts []srvtest.Point
	for _, ts := range sortedKeys(secs) {
		sc, at := secs[ts], time.Unix(ts, 0)
		sort.Float64s(sc.lat)
		p95 := sc.lat[max(int(math.Ceil(0.95*float64(len(sc.lat)))), 1)-1]
		pts = append(pts, srvtest.Point{Path: "stats_counts." + prefix + ".requests", Value: float64(sc.n), At: at},
			srvtest.Point{Path: "stats.timers." + prefix + ".latency.upper_95", Value: p95, At: at})
		if sc.errs > 0 {
			pts = append(pts, srvtest.Point{Path: "stats_counts." + prefix + ".errors", Value: float64(sc.errs), At: at})
		}
	}
	if err := s.g.Write(pts); err != nil {
		t.Fatalf("%v\n%s", err, s.g.Logs())
	}
}

func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func (s *graphiteStore) Down(t testing.TB, down bool) {
	if down {
		s.g.StopWeb()
		return
	}
	if err := s.g.StartWeb(); err != nil {
		t.Fatal(err)
	}
}
