package providers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/apisrc/apisrctest"
	"github.com/canary-dev/canary/enginetest"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/providers"
)

// cloudPlan is a rollout of minutes (driven on a stepped clock) measured
// by the metrics block given; the interval is CloudWatch's resolution.
const cloudPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: shop, namespace: prod}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:9001", canary: "http://127.0.0.1:9002"}}
  steps: [{weight: 20, hold: 5m}, {weight: 50, hold: 5m}, {weight: 100}]
  analysis:
    interval: 1m
    minRequests: 50
    maxHoldExtension: 3m
    metrics: %s
  rules:
    - {metric: errorRate, above: 5%%, window: 2m, action: rollback-immediate, urgency: critical}
    - {metric: latencyP95, above: 500ms, window: 2m, for: 2m, action: rollback-gradual}
`

// cloudSources are the three API sources' plans against their stand-ins.
var cloudSources = []struct {
	name    string
	server  func(testing.TB, apisrctest.Traffic) *apisrctest.Server
	metrics func(url string) string
}{
	{"datadog", apisrctest.Datadog, func(u string) string {
		return fmt.Sprintf("{datadog: {address: %q, apiKey: env:TEST_DD_API_KEY, applicationKey: env:TEST_DD_APP_KEY}}", u)
	}},
	{"newRelic", apisrctest.NewRelic, func(u string) string {
		return fmt.Sprintf("{newRelic: {accountID: 42, address: %q, apiKey: env:TEST_NR_KEY}}", u+"/graphql")
	}},
	{"cloudwatch", apisrctest.CloudWatch, func(u string) string {
		return fmt.Sprintf("{cloudwatch: {region: eu-west-1, endpoint: %q, loadBalancer: app/shop/1, targetGroups: {stable: targetgroup/shop-stable/1, canary: targetgroup/shop-canary/2}}}", u)
	}},
}

func cloudEnv(t *testing.T) {
	for k, v := range map[string]string{"TEST_DD_API_KEY": "dd-key", "TEST_DD_APP_KEY": "dd-app", "TEST_NR_KEY": "NRAK-x",
		"AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE": t.TempDir() + "/none", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
}

// canaryServes is what the canary does in a scenario, at a step and its
// elapsed time; the stable serves 1% errors at 100ms.
type canaryServes func(step int, elapsed time.Duration) (errRate, latency float64)

// cloudRollout runs a whole rollout of the plan against a stand-in
// serving 20 requests/s split by the rollout's weight, and returns the
// driver at its end, its pause or after 40 minutes, and the server.
func cloudRollout(t *testing.T, i int, serves canaryServes, outage func(d *enginetest.Driver) int) (*enginetest.Driver, *apisrctest.Server) {
	t.Helper()
	var d *enginetest.Driver
	traffic := func(track canary.Track, from, to time.Time) apisrctest.Counts {
		share := float64(d.State.Weight) / 100
		errRate, latency := 0.01, 0.1
		if track == canary.TrackCanary {
			errRate, latency = serves(d.State.Step, d.StepElapsed())
		} else {
			share = 1 - share
		}
		n := 20 * share * to.Sub(from).Seconds()
		if n == 0 {
			latency = 0
		}
		return apisrctest.Counts{Requests: n, Errors: float64(int(n * errRate)), Latency: latency}
	}
	srv := cloudSources[i].server(t, traffic)
	p, err := plan.Parse("plan.yaml", []byte(fmt.Sprintf(cloudPlan, cloudSources[i].metrics(srv.URL))))
	if err != nil {
		t.Fatal(err)
	}
	src, err := providers.Metrics(t.Context(), p, providers.Env{Host: "canary run"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// During an outage each query has less time than the first retry's
	// backoff, so it is tried once and the test does not wait out the
	// retries (the sources' TestFailures check those).
	timeout := time.Minute
	d = enginetest.NewDriver(p, start, func(q canary.Query) canary.Observation {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		m, err := src.Measure(ctx, q)
		o := canary.Observation{Query: q, Measurement: m}
		if err != nil {
			o.Err = err.Error()
		}
		return o
	})
	for d.Now.Before(start.Add(40*time.Minute)) && !d.State.Phase.Terminal() && d.State.Phase != canary.PhasePaused {
		if outage != nil {
			status := outage(d)
			srv.SetFail(status)
			if status != 0 {
				timeout = 90 * time.Millisecond
			}
		}
		if !d.RunTo(d.Now.Add(time.Minute), 1000) {
			t.Fatal("the engine did not settle")
		}
	}
	return d, srv
}

// TestCloudRollouts: a whole rollout through the engine against each
// API source's stand-in: a healthy canary is promoted; errors at the
// second step roll back at once; a slow canary rolls back gradually.
func TestCloudRollouts(t *testing.T) {
	cloudEnv(t)
	healthy := func(int, time.Duration) (float64, float64) { return 0.01, 0.1 }
	failing := func(step int, _ time.Duration) (float64, float64) {
		if step == 1 {
			return 0.3, 0.1
		}
		return 0.01, 0.1
	}
	slow := func(step int, el time.Duration) (float64, float64) {
		if step == 1 && el >= time.Minute {
			return 0.01, 1.2
		}
		return 0.01, 0.1
	}
	for i, src := range cloudSources {
		t.Run(src.name, func(t *testing.T) {
			d, _ := cloudRollout(t, i, healthy, nil)
			if d.State.Phase != canary.PhaseSucceeded {
				t.Errorf("healthy: ended %s, want Succeeded; events:\n%s", d.State.Phase, events(d))
			}
			d, _ = cloudRollout(t, i, failing, nil)
			if d.State.Phase != canary.PhaseRolledBack || !strings.HasPrefix(firedFirst(d), "errorRate") {
				t.Errorf("errors: ended %s, want RolledBack at once; events:\n%s", d.State.Phase, events(d))
			}
			d, _ = cloudRollout(t, i, slow, nil)
			if d.State.Phase != canary.PhaseRolledBack || !strings.HasPrefix(firedFirst(d), "latencyP95") {
				t.Errorf("slow: ended %s, want RolledBack gradually; events:\n%s", d.State.Phase, events(d))
			}
		})
	}
}

// TestCloudOutage: the source fails (503) from the first step's second
// minute on: the rollout holds its weight, never promotes, and pauses
// once the outage outlasts the hold and its extension.
func TestCloudOutage(t *testing.T) {
	cloudEnv(t)
	healthy := func(int, time.Duration) (float64, float64) { return 0.01, 0.1 }
	for i, src := range cloudSources {
		t.Run(src.name, func(t *testing.T) {
			d, srv := cloudRollout(t, i, healthy, func(d *enginetest.Driver) int {
				if d.State.Step == 0 && d.StepElapsed() >= 2*time.Minute || d.State.Step > 0 {
					return http.StatusServiceUnavailable
				}
				return 0
			})
			if d.State.Phase != canary.PhasePaused || d.State.Step != 0 || d.State.Weight != 20 {
				t.Errorf("ended %s at step %d weight %d, want Paused at the first step's 20%%; events:\n%s",
					d.State.Phase, d.State.Step, d.State.Weight, events(d))
			}
			if srv.Requests() == 0 || !strings.Contains(events(d), "503") {
				t.Errorf("the outage's errors are not in the events:\n%s", events(d))
			}
		})
	}
}

func events(d *enginetest.Driver) string {
	var b strings.Builder
	for _, ev := range d.Events {
		fmt.Fprintf(&b, "  %s %s %s %s %s\n", ev.Time.Format("15:04:05"), ev.Type, ev.Rule, ev.Message, ev.Error)
	}
	return b.String()
}

// firedFirst is the metric of the first rule that fired.
func firedFirst(d *enginetest.Driver) string {
	for _, ev := range d.Events {
		if ev.Type == canary.EvRuleFiring {
			return ev.Rule
		}
	}
	return ""
}
