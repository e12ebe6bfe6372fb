package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

const cloudQueryPlan = `apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: shop, namespace: prod}
spec:
  version: v2
  traffic: {proxy: {stable: "http://127.0.0.1:1", canary: "http://127.0.0.1:2"}}
  steps: [{weight: 20, hold: 10m}, {weight: 100}]
  analysis:
    interval: 1m
    metrics: %s
  rules:
    - {metric: latencyP95, above: 500ms, window: 2m, action: rollback-gradual}
    - {metric: errorRate, above: 5%%, window: 2m, action: rollback-immediate}
    - {metric: requestRate, below: 1, window: 2m, action: pause}
`

// TestQueryCloudSources runs `canary query` against the Datadog, New
// Relic and CloudWatch stand-ins: every row shows the track's value and
// samples as served (stable 10/s, 1% errors, 100ms; canary 2/s, 10%
// errors, 300ms), the text names the source; an outage exits 5 without
// printing a credential.
func TestQueryCloudSources(t *testing.T) {
	const ddKey, nrKey, awsSecret = "dd-secret-key-0001", "NRAK-SECRET0001", "aws-secret-0001"
	for k, v := range map[string]string{"TEST_DD_API_KEY": ddKey, "TEST_DD_APP_KEY": ddKey, "TEST_NR_KEY": nrKey,
		"AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": awsSecret, "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE": t.TempDir() + "/none", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	traffic := func(track canary.Track, from, to time.Time) srvtest.Counts {
		s := to.Sub(from).Seconds()
		if track == canary.TrackCanary {
			return srvtest.Counts{Requests: 2 * s, Errors: 0.2 * s, Latency: 0.3}
		}
		return srvtest.Counts{Requests: 10 * s, Errors: 0.1 * s, Latency: 0.1}
	}
	sources := []struct {
		kind    string
		server  func(testing.TB, srvtest.Traffic) *srvtest.Server
		metrics func(url string) string
		address func(url string) string
	}{
		{"datadog", srvtest.Datadog, func(u string) string {
			return fmt.Sprintf("{datadog: {address: %q, apiKey: env:TEST_DD_API_KEY, applicationKey: env:TEST_DD_APP_KEY}}", u)
		}, func(u string) string { return u }},
		{"newRelic", srvtest.NewRelic, func(u string) string {
			return fmt.Sprintf("{newRelic: {accountID: 42, address: %q, apiKey: env:TEST_NR_KEY}}", u+"/graphql")
		}, func(u string) string { return u + "/graphql" }},
		{"cloudwatch", srvtest.CloudWatch, func(u string) string {
			return fmt.Sprintf("{cloudwatch: {region: eu-west-1, endpoint: %q, loadBalancer: app/shop/1, targetGroups: {stable: targetgroup/shop-stable/1, canary: targetgroup/shop-canary/2}}}", u)
		}, func(u string) string { return u }},
	}
	for _, src := range sources {
		t.Run(src.kind, func(t *testing.T) {
			srv := src.server(t, traffic)
			file := filepath.Join(t.TempDir(), "plan.yaml")
			if err := os.WriteFile(file, []byte(fmt.Sprintf(cloudQueryPlan, src.metrics(srv.URL))), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, stderr := runQueryCmd(t.Context(), "-o", "json", file)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
			}
			var rep queryReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if rep.Source != src.kind || rep.Address != src.address(srv.URL) || len(rep.Queries) != 6 {
				t.Fatalf("report %s %s with %d rows, want %s %s with 6", rep.Source, rep.Address, len(rep.Queries), src.kind, src.address(srv.URL))
			}
			for _, q := range rep.Queries {
				if q.Status != statusOK || q.Value == nil || q.Samples == nil || q.RequestsExpr == "" || q.Expr == "" {
					t.Errorf("row %s %s: %+v, want ok with a value, samples and the queries", q.Metric, q.Track, q)
					continue
				}
				rate, errs, lat := 10.0, 0.01, 0.1
				if q.Track == canary.TrackCanary {
					rate, errs, lat = 2, 0.1, 0.3
				}
				want := map[canary.Metric]float64{canary.MetricErrorRate: errs, canary.MetricRequestRate: rate, "latencyP95": lat}[q.Metric]
				if math.Abs(*q.Value-want) > 1e-9 || *q.Samples != int64(rate*120) {
					t.Errorf("row %s %s: %v over %d samples, want %v over %v", q.Metric, q.Track, *q.Value, *q.Samples, want, rate*120)
				}
			}
			code, out, _ = runQueryCmd(t.Context(), "--show-queries", file)
			if code != 0 || !strings.Contains(out, sourceTitle(src.kind)+" "+src.address(srv.URL)) || !strings.Contains(squash(out), "errorRate 2m canary 10% 240 ok") {
				t.Errorf("text output (exit %d) does not name the source or show the canary's error rate:\n%s", code, out)
			}
			srv.SetFail(http.StatusBadRequest) // the query refused: exit 2
			if code, out, stderr = runQueryCmd(t.Context(), file); code != ExitInvalid {
				t.Errorf("refused query: exit %d, want %d\n%s\n%s", code, ExitInvalid, out, stderr)
			}
			srv.SetFail(http.StatusServiceUnavailable)
			code, out, stderr = runQueryCmd(t.Context(), file)
			if code != ExitUnavailable || !strings.Contains(out, "did not answer") && !strings.Contains(stderr, "did not answer") {
				t.Errorf("outage: exit %d, want %d saying the source did not answer\n%s\n%s", code, ExitUnavailable, out, stderr)
			}
			for _, secret := range []string{ddKey, nrKey, awsSecret} {
				if strings.Contains(out+stderr, secret) {
					t.Errorf("output holds a credential:\n%s\n%s", out, stderr)
				}
			}
		})
	}
}
