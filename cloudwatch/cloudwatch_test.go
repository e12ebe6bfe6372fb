package cloudwatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/canary-dev/canary/metricsrc/srvtest"
)

const (
	testKeyID  = "AKIATESTCANARY000001"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYTESTSECRET"
)

// testEnv gives the SDK's default chain static keys from the
// environment, and nothing from the machine's files or instance roles.
func testEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func testPlan(endpoint string) canary.CloudWatchMetrics {
	return canary.CloudWatchMetrics{Region: "eu-west-1", Endpoint: endpoint, LoadBalancer: "app/shop/50dc6c495c0c9188",
		TargetGroups: canary.TrackValues{Stable: "targetgroup/shop-stable/73e2d6bc24d8a067", Canary: "targetgroup/shop-canary/943f017f100becff"},
		Timeout:      canary.Duration(5 * time.Second)}
}

func newSource(t *testing.T, endpoint string) *metricsrc.Source {
	t.Helper()
	testEnv(t)
	src, err := New(context.Background(), Config{Plan: testPlan(endpoint), Env: metricsrc.Env{Service: "shop", Backoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

var at = time.Unix(1765000200, 0)

// byMetric answers the default metrics with the recorded results.
func byMetric(c call) (int, string) {
	switch _, _, metric, _, _, _ := c.stat(); metric {
	case "RequestCount":
		return 200, "requests.json"
	case "HTTPCode_Target_5XX_Count":
		return 200, "errors.json"
	}
	return 200, "latency.json"
}

// TestRequests checks every request of a latency and an errorRate
// measurement: the operation, SigV4 with the configured key and region,
// the CBOR input (times, dimensions per track, statistic, period).
func TestRequests(t *testing.T) {
	rec := newRecorded(t, byMetric)
	src := newSource(t, rec.URL)
	m, err := src.Measure(context.Background(), canary.Query{Metric: "latencyP99", Track: canary.TrackCanary, Window: 5 * time.Minute, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if m.NoData || m.Samples != 480 || m.Value != 0.2 {
		t.Errorf("latency: got %+v, want 0.2s (the two datapoints' mean) over 480 samples", m)
	}
	m, err = src.Measure(context.Background(), canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: 90 * time.Second, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if m.NoData || m.Samples != 480 || m.Value != 0.05 {
		t.Errorf("errorRate: got %+v, want 5%% of 480", m)
	}
	type want struct {
		stat   string
		period float64
		tg     string
		from   float64
	}
	wants := map[string]want{
		"latency/TargetResponseTime":       {"p99", 300, "targetgroup/shop-canary/943f017f100becff", 1764999900},
		"requests/RequestCount":            {"Sum", 300, "targetgroup/shop-canary/943f017f100becff", 1764999900},
		"errors/HTTPCode_Target_5XX_Count": {"Sum", 120, "targetgroup/shop-stable/73e2d6bc24d8a067", 1765000110},
		"requests/RequestCount/stable-90s": {"Sum", 120, "targetgroup/shop-stable/73e2d6bc24d8a067", 1765000110},
	}
	calls := rec.sent()
	if len(calls) != 4 {
		t.Fatalf("got %d requests, want 4", len(calls))
	}
	for _, c := range calls {
		checkSigned(t, c)
		id, ns, metric, stat, period, dims := c.stat()
		key := id + "/" + metric
		if w, ok := wants[key+"/stable-90s"]; ok && dims["TargetGroup"] == w.tg {
			key += "/stable-90s"
		}
		w, ok := wants[key]
		if !ok {
			t.Errorf("unexpected query %s %s %v", key, stat, dims)
			continue
		}
		delete(wants, key)
		if ns != ALB || stat != w.stat || period != w.period || dims["TargetGroup"] != w.tg ||
			dims["LoadBalancer"] != "app/shop/50dc6c495c0c9188" || len(dims) != 2 {
			t.Errorf("%s: got %s %s period %v %v, want %s %s period %v TargetGroup %s", key, ns, stat, period, dims, ALB, w.stat, w.period, w.tg)
		}
		if c.input["StartTime"] != w.from || c.input["EndTime"] != float64(at.Unix()) {
			t.Errorf("%s: time range %v..%v, want %v..%v", key, c.input["StartTime"], c.input["EndTime"], w.from, at.Unix())
		}
	}
	if len(wants) > 0 {
		t.Errorf("not sent: %v", wants)
	}
}

// checkSigned checks that c is GetMetricData over rpc-v2-cbor, signed
// (SigV4) with the test's key for eu-west-1.
func checkSigned(t *testing.T, c call) {
	t.Helper()
	if c.method != "POST" || c.path != "/service/GraniteServiceVersion20100801/operation/GetMetricData" ||
		c.protocol != "rpc-v2-cbor" || c.contentType != "application/cbor" {
		t.Errorf("got %s %s (%s, %s), want GetMetricData over rpc-v2-cbor", c.method, c.path, c.protocol, c.contentType)
	}
	if !strings.HasPrefix(c.auth, "AWS4-HMAC-SHA256 Credential="+testKeyID+"/") ||
		!strings.Contains(c.auth, "/eu-west-1/monitoring/aws4_request") || !strings.Contains(c.auth, "Signature=") {
		t.Errorf("Authorization %q is not SigV4 with %s in eu-west-1", c.auth, testKeyID)
	}
}

// TestNoData: no datapoints is no data (errors without datapoints count
// as none).
func TestNoData(t *testing.T) {
	rec := newRecorded(t, func(c call) (int, string) {
		if _, _, metric, _, _, _ := c.stat(); metric == "RequestCount" {
			return 200, "requests.json"
		}
		return 200, "empty.json"
	})
	src := newSource(t, rec.URL)
	q := canary.Query{Metric: "latencyP95", Track: canary.TrackCanary, Window: time.Minute, At: at}
	if m, err := src.Measure(context.Background(), q); err != nil || !m.NoData {
		t.Errorf("latency: got %+v, %v, want no data", m, err)
	}
	q.Metric = canary.MetricErrorRate
	if m, err := src.Measure(context.Background(), q); err != nil || m.NoData || m.Value != 0 || m.Samples != 480 {
		t.Errorf("errorRate: got %+v, %v, want 0 of 480", m, err)
	}
	rec.setAnswer(func(call) (int, string) { return 200, "empty.json" })
	if m, err := src.Measure(context.Background(), q); err != nil || !m.NoData {
		t.Errorf("errorRate without requests: got %+v, %v, want no data", m, err)
	}
}

// TestFailures: several results and a refused statistic are errors
// naming the query; throttling, 429 and 5xx are retried; the secret key
// never shows.
func TestFailures(t *testing.T) {
	file := func(status int, name string) srvtest.Reply { return reply(t, status, name) }
	cases := []srvtest.FailureCase{
		{Name: "several", Replies: []srvtest.Reply{file(200, "several.json")}, Kind: metricsrc.ErrSeveralSeries, Attempts: 1,
			Contains: []string{`latency query `, `"metricName":"TargetResponseTime"`, "2 MetricDataResults"}},
		{Name: "invalid", Replies: []srvtest.Reply{file(400, "invalid.json")}, Kind: metricsrc.ErrBadQuery, Attempts: 1,
			Contains: []string{"InvalidParameterValueException", "not a valid statistic"}},
		{Name: "throttled then 5xx", Replies: []srvtest.Reply{file(400, "throttled.json"), file(500, "internal.json"), file(200, "several.json")},
			Kind: metricsrc.ErrSeveralSeries, Attempts: 3, Contains: []string{"(after 3 attempts)"}},
		{Name: "429", Replies: []srvtest.Reply{file(429, "throttled.json"), file(200, "several.json")}, Kind: metricsrc.ErrSeveralSeries,
			Attempts: 2, Contains: []string{"(after 2 attempts)"}},
		{Name: "unavailable", Replies: []srvtest.Reply{file(500, "internal.json")}, Kind: metricsrc.ErrUnavailable, Attempts: 3,
			Contains: []string{"InternalServiceFault", "(after 3 attempts)"}},
		{Name: "denied", Replies: []srvtest.Reply{file(403, "invalid.json")}, Kind: metricsrc.ErrUnavailable, Attempts: 1,
			Contains: []string{"check the AWS credentials"}},
	}
	for i := range cases { // every error names the source and its address
		cases[i].Contains = append(cases[i].Contains, "cloudwatch http://127.0.0.1")
	}
	srvtest.Failures(t, cases, []string{testSecret}, func(t *testing.T, next func() srvtest.Reply) error {
		rec := srvtest.Record(t, func(c srvtest.Call) srvtest.Reply {
			if _, _, metric, _, _, _ := decode(t, c).stat(); metric == "RequestCount" {
				return reply(t, 200, "requests.json")
			}
			return next()
		})
		_, err := newSource(t, rec.URL).Measure(context.Background(),
			canary.Query{Metric: "latencyP95", Track: canary.TrackCanary, Window: time.Minute, At: at})
		return err
	})
}

// TestConfig: target groups and a region are required; templates are
// checked; without credentials the error says so and retries nothing.
func TestConfig(t *testing.T) {
	testEnv(t)
	for _, tt := range []struct {
		change func(*canary.CloudWatchMetrics)
		want   string
	}{
		{func(p *canary.CloudWatchMetrics) { p.TargetGroups.Canary = "" }, "targetGroups: the stable and canary target groups are required"},
		{func(p *canary.CloudWatchMetrics) { p.Region = "" }, "region: set it in the plan, or AWS_REGION"},
		{func(p *canary.CloudWatchMetrics) {
			p.Queries = map[string]canary.CloudWatchQuery{"latency": {Namespace: "X", MetricName: "Y", Stat: "p{{.Pct}}"}}
		}, "queries[latency]"},
		{func(p *canary.CloudWatchMetrics) {
			p.Queries = map[string]canary.CloudWatchQuery{"latency": {MetricName: "Y"}}
		}, "queries[latency]: namespace and metricName are required"},
		{func(p *canary.CloudWatchMetrics) { p.Endpoint = "ftp://x" }, "endpoint"},
	} {
		p := testPlan("")
		tt.change(&p)
		_, err := New(context.Background(), Config{Plan: p})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	rec := newRecorded(t, byMetric)
	src, err := New(context.Background(), Config{Plan: testPlan(rec.URL), Env: metricsrc.Env{Backoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Measure(context.Background(), canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackCanary, Window: time.Minute, At: at})
	if err == nil || !strings.Contains(err.Error(), "credentials") || len(rec.sent()) != 0 {
		t.Errorf("got %v after %d requests, want a credentials error before any request", err, len(rec.sent()))
	}
}
