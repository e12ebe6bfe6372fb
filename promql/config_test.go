package promql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Setenv("PROM_TOKEN_EMPTY", "")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	const addr = "http://127.0.0.1:9090"
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no address", Config{}, `address "" is not an http(s) URL`},
		{"not a URL", Config{Address: "prometheus:9090"}, "is not an http(s) URL"},
		{"unknown template name", Config{Address: addr, Queries: map[string]string{"latncy": "x"}},
			"queries[latncy]: not a query name (use latency, errorRate, requestRate, requests, latencyBuckets)"},
		{"empty template", Config{Address: addr, Queries: map[string]string{"errorRate": " "}}, "queries[errorRate]: empty"},
		{"unknown variable", Config{Address: addr, Queries: map[string]string{"latency": `up{track="{{.Trak}}"}`}},
			"queries[latency]: template: latency:1:12: executing \"latency\" at <.Trak>: can't evaluate field Trak"},
		{"template syntax", Config{Address: addr, Queries: map[string]string{"requests": `up{track="{{.Track}"}`}},
			"queries[requests]: template: requests:1: bad character U+007D '}'"},
		{"unset env token", Config{Address: addr, BearerToken: "env:PROM_TOKEN_UNSET_XYZ"},
			"bearerToken: secret env:PROM_TOKEN_UNSET_XYZ: the environment variable PROM_TOKEN_UNSET_XYZ is not set"},
		{"empty env token", Config{Address: addr, BearerToken: "env:PROM_TOKEN_EMPTY"}, "secret env:PROM_TOKEN_EMPTY is empty"},
		{"missing token file", Config{Address: addr, BearerToken: canary.SecretRef("file:" + dir + "/nope")},
			"bearerToken: secret file:" + dir + "/nope: no such file or directory"},
		{"empty token file", Config{Address: addr, BearerToken: canary.SecretRef("file:" + empty)}, "bearerToken: secret file:" + empty + " is empty"},
		{"literal token", Config{Address: addr, BearerToken: "s3cr3t"}, "bearerToken: not a secret reference"},
		{"token and basic auth", Config{Address: addr, BearerToken: "env:X", BasicAuth: &BasicAuth{Username: "u"}}, "use one"},
		{"basic auth without user", Config{Address: addr, BasicAuth: &BasicAuth{}}, "basicAuth.username is required"},
		{"missing CA", Config{Address: addr, CAFile: dir + "/none.pem"}, "caFile: open " + dir + "/none.pem"},
		{"CA not PEM", Config{Address: addr, CAFile: notPEM}, "no PEM certificate"},
		{"negative timeout", Config{Address: addr, Timeout: -time.Second}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if canary.ErrorCode(err) != canary.EINVALID {
				t.Errorf("code %q, want %q", canary.ErrorCode(err), canary.EINVALID)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q repeats the secret", err)
			}
		})
	}
}

func TestValidateQueries(t *testing.T) {
	if err := ValidateQueries(map[string]string{"latency": `histogram_quantile({{.Quantile}}, x{svc="{{.Service}}",ns="{{.Namespace}}"}[{{.Window}}])`}); err != nil {
		t.Errorf("a valid template: %v", err)
	}
	if err := ValidateQueries(map[string]string{"requests": `{{.Trak}}`}); err == nil || !strings.Contains(err.Error(), "queries[requests]") {
		t.Errorf("a template with an unknown variable: %v, want an error naming queries[requests]", err)
	}
}

func TestAddressPasswordIsNotShown(t *testing.T) {
	s := newSource(t, Config{Address: "https://user:hunter2@prom.example:9090/prefix"})
	// The user info becomes basic auth and leaves the address.
	if got, want := s.Address(), "https://prom.example:9090/prefix"; got != want {
		t.Errorf("Address() = %q, want %q", got, want)
	}
	_, err := New(Config{Address: "https://user:hunter2@prom example"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v shows the password", err)
	}
}

func TestExprs(t *testing.T) {
	s := newSource(t, Config{Address: "http://prom:9090", Service: "checkout", Namespace: "shop", Queries: map[string]string{
		"requestRate": `sum(rate(http_requests_total{service="{{.Service}}",namespace="{{.Namespace}}",track="{{.Track}}"}[{{.Window}}]))`,
	}})
	tests := []struct {
		q         canary.Query
		wantName  string
		wantValue string
	}{
		{canary.Query{Metric: "latencyP95", Track: canary.TrackCanary, Window: 5 * time.Minute}, "latency",
			`histogram_quantile(0.95, sum by (le) (rate(canary_proxy_request_duration_seconds_bucket{track="canary"}[5m])))`},
		// P99.9 is a quantile of 0.999, not 0.9990000000000001.
		{canary.Query{Metric: "latencyP99.9", Track: canary.TrackStable, Window: 90 * time.Second}, "latency",
			`histogram_quantile(0.999, sum by (le) (rate(canary_proxy_request_duration_seconds_bucket{track="stable"}[1m30s])))`},
		{canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: 10 * time.Second}, "errorRate",
			`(sum(rate(canary_proxy_requests_total{track="canary",code="5xx"}[10s])) or vector(0)) / sum(rate(canary_proxy_requests_total{track="canary"}[10s]))`},
		{canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackCanary, Window: time.Hour}, "requestRate",
			`sum(rate(http_requests_total{service="checkout",namespace="shop",track="canary"}[1h]))`},
	}
	for _, tt := range tests {
		t.Run(string(tt.q.Metric), func(t *testing.T) {
			e, err := s.Exprs(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != tt.wantName || e.Value != tt.wantValue {
				t.Errorf("got %s %s, want %s %s", e.Name, e.Value, tt.wantName, tt.wantValue)
			}
			wantReq := `sum(increase(canary_proxy_requests_total{track="` + string(tt.q.Track) + `"}[` + FormatWindow(tt.q.Window) + `]))`
			if e.Requests != wantReq {
				t.Errorf("requests %s, want %s", e.Requests, wantReq)
			}
		})
	}
	for _, q := range []canary.Query{
		{Metric: canary.MetricBurnRate, Track: canary.TrackCanary, Window: time.Minute},
		{Metric: "cpu", Track: canary.TrackCanary, Window: time.Minute},
	} {
		if _, err := s.Exprs(q); err == nil || !strings.Contains(err.Error(), "unknown metric") {
			t.Errorf("Exprs(%s) error %v, want unknown metric", q.Metric, err)
		}
	}
	if _, err := s.Exprs(canary.Query{Metric: canary.MetricErrorRate, Track: "blue", Window: time.Minute}); err == nil {
		t.Error("Exprs accepted track blue")
	}
}

func TestFormatWindow(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "30s"}, {5 * time.Minute, "5m"}, {90 * time.Second, "1m30s"},
		{time.Hour, "1h"}, {1500 * time.Millisecond, "1s500ms"}, {24 * time.Hour, "1d"},
		{time.Millisecond + 1, "2ms"}, // PromQL has no sub-millisecond durations: round up
	}
	for _, tt := range tests {
		if got := FormatWindow(tt.d); got != tt.want {
			t.Errorf("FormatWindow(%s) = %s, want %s", tt.d, got, tt.want)
		}
	}
}

func TestFromPlan(t *testing.T) {
	p := &canary.Plan{Metadata: canary.Metadata{Name: "checkout", Namespace: "shop"}}
	if _, err := FromPlan(p); err == nil {
		t.Error("FromPlan accepted a plan without prometheus")
	}
	p.Spec.Analysis.Metrics.Prometheus = &canary.PrometheusMetrics{Address: "http://prom:9090", Timeout: canary.Duration(3 * time.Second),
		Queries: map[string]string{"requests": "sum(x)"}}
	cfg, err := FromPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Address != "http://prom:9090" || cfg.Service != "checkout" || cfg.Namespace != "shop" ||
		cfg.Timeout != 3*time.Second || cfg.Queries["requests"] != "sum(x)" {
		t.Errorf("FromPlan = %+v", cfg)
	}
}
