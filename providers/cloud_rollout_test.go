package providers_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

// The API sources (Datadog, New Relic, CloudWatch) against their
// stand-ins, which answer from the requests fed (a pointStore); their
// outage is a 503 to every request.
func init() {
	for _, c := range []struct {
		name    string
		server  func(testing.TB, srvtest.Traffic) *srvtest.Server
		metrics func(url string) string
	}{
		{"datadog", srvtest.Datadog, func(u string) string {
			return fmt.Sprintf("{datadog: {address: %q, apiKey: env:TEST_DD_API_KEY, applicationKey: env:TEST_DD_APP_KEY}}", u)
		}},
		{"newRelic", srvtest.NewRelic, func(u string) string {
			return fmt.Sprintf("{newRelic: {accountID: 42, address: %q, apiKey: env:TEST_NR_KEY}}", u+"/graphql")
		}},
		{"cloudwatch", srvtest.CloudWatch, func(u string) string {
			return fmt.Sprintf("{cloudwatch: {region: eu-west-1, endpoint: %q, loadBalancer: app/shop/1, targetGroups: {stable: targetgroup/shop-stable/1, canary: targetgroup/shop-canary/2}}}", u)
		}},
	} {
		rolloutSources = append(rolloutSources, rolloutSource{name: c.name, outage: "503", env: cloudEnv,
			start: func(*testing.T) func(*testing.T) feedSource {
				return func(t *testing.T) feedSource {
					s := &standIn{}
					s.srv = c.server(t, func(track canary.Track, from, to time.Time) srvtest.Counts {
						n, errs, lat := s.window(track, from, to, 95)
						return srvtest.Counts{Requests: float64(n), Errors: float64(errs), Latency: lat}
					})
					s.metrics = c.metrics(s.srv.URL)
					return s
				}
			}})
	}
}

// standIn is an API stand-in answering from the requests fed.
type standIn struct {
	pointStore
	srv     *srvtest.Server
	metrics string
}

func (s *standIn) Metrics() string { return s.metrics }

func (s *standIn) Down(_ testing.TB, down bool) {
	if down {
		s.srv.SetFail(http.StatusServiceUnavailable)
	} else {
		s.srv.SetFail(0)
	}
}

func cloudEnv(t *testing.T) {
	for k, v := range map[string]string{"TEST_DD_API_KEY": "dd-key", "TEST_DD_APP_KEY": "dd-app", "TEST_NR_KEY": "NRAK-x",
		"AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE": t.TempDir() + "/none", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
}
