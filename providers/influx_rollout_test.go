package providers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

// InfluxDB: one real influxd (Debian's 1.6) for the source's subtest, a
// database per rollout; each request fed is one point of http_requests
// (the source's default queries) at the stepped clock's time. Its outage
// is real: influxd is stopped (connection refused) and started again on
// the same port and data.
func init() {
	rolloutSources = append(rolloutSources, rolloutSource{name: "influxdb", outage: "connection refused",
		start: func(t *testing.T) func(*testing.T) feedSource {
			srv := srvtest.StartInflux(t, "rollout0")
			n := 0
			return func(t *testing.T) feedSource {
				n++
				db := *srv
				db.Database = fmt.Sprintf("rollout%d", n)
				srv.Exec(t, "CREATE DATABASE "+db.Database)
				return &influxStore{srv: &db}
			}
		}})
}

type influxStore struct{ srv *srvtest.Influx }

func (s *influxStore) Metrics() string {
	return fmt.Sprintf("{influxdb: {address: %q, database: %q}}", s.srv.URL, s.srv.Database)
}

func (s *influxStore) Feed(t testing.TB, track canary.Track, reqs []request) {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "http_requests,service=shop,track=%s duration_ms=%d,status=%di %d\n", track, r.Latency.Milliseconds(), r.Status, r.At.UnixMilli())
	}
	if err := s.srv.Write(b.String()); err != nil {
		t.Fatal(err)
	}
}

func (s *influxStore) Down(_ testing.TB, down bool) {
	if down {
		s.srv.Stop()
	} else {
		s.srv.Restart()
	}
}
