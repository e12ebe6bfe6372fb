package metricsrc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestNewValues: a value source built by NewValues sends each rendered
// query through its HTTP client (the bearer token read once, sent with
// both queries) and measures value and samples; bad templates and
// addresses are invalid errors starting with the kind.
func TestNewValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer tok-123" {
			http.Error(w, "Authorization "+got, http.StatusBadRequest)
			return
		}
		switch q := r.URL.Query().Get("q"); q {
		case "err canary 60":
			w.Write([]byte("0.25"))
		case "n canary api/prod q=":
			w.Write([]byte("80"))
		default:
			http.Error(w, "unexpected "+q, http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	t.Setenv("VALUES_TOKEN", "tok-123")
	cfg := ValuesConfig{Kind: "test", Service: "api", Namespace: "prod",
		Templates: TemplateConfig{Defaults: defaults(), DefaultSelector: "{{.Track}}", Language: "test query"},
		HTTP:      HTTPConfig{Address: srv.URL, BearerToken: "env:VALUES_TOKEN"},
		Connect: func(h *HTTP, ts *Templates) Run {
			return func(ctx context.Context, _, query string, q canary.Query) (Value, error) {
				if _, _, err := ts.Vars(q, "api", "prod"); err != nil {
					return Value{}, Bad("%v", err)
				}
				u := h.Base()
				u.RawQuery = "q=" + strings.ReplaceAll(query, " ", "+")
				body, err := h.Do(ctx, Request{Method: http.MethodGet, URL: u})
				if err != nil {
					return Value{}, err
				}
				f, err := strconv.ParseFloat(string(body), 64)
				if err != nil {
					return Value{}, Bad("%v", err)
				}
				return Number(f)
			}
		}}
	src, err := NewValues(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("VALUES_TOKEN", "changed") // read when built, not per query
	if src.Kind != "test" || src.Address != srv.URL {
		t.Errorf("kind %q address %q; want test, %s", src.Kind, src.Address, srv.URL)
	}
	m, err := src.Measure(context.Background(), canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute})
	if err != nil || m.Value != 0.25 || m.Samples != 80 {
		t.Fatalf("got %+v, %v; want 0.25 over 80", m, err)
	}
	bad := cfg
	bad.Templates.Overrides = map[string]string{QueryLatency: "{{.Trak}}"}
	if _, err := NewValues(bad); err == nil || canary.ErrorCode(err) != canary.EINVALID || !strings.HasPrefix(err.Error(), "test: queries[latency]: ") {
		t.Errorf("bad template: got %v; want invalid test: queries[latency]: …", err)
	}
	bad = cfg
	bad.HTTP.Address = "ftp://h"
	if _, err := NewValues(bad); err == nil || canary.ErrorCode(err) != canary.EINVALID || !strings.HasPrefix(err.Error(), "test: ") {
		t.Errorf("bad address: got %v; want invalid test: …", err)
	}
}

// TestFromPlan: a source's Config carries its plan section and the
// rollout's name and namespace; a plan without the section is invalid,
// naming it.
func TestFromPlan(t *testing.T) {
	p := &canary.Plan{}
	p.Metadata.Name, p.Metadata.Namespace = "api", "shop"
	if _, err := FromPlan(p, "influxdb", p.Spec.Analysis.Metrics.InfluxDB); err == nil || canary.ErrorCode(err) != canary.EINVALID ||
		err.Error() != "the plan has no analysis.metrics.influxdb" {
		t.Errorf("no section: got %v", err)
	}
	p.Spec.Analysis.Metrics.InfluxDB = &canary.InfluxDBMetrics{Database: "db"}
	c, err := FromPlan(p, "influxdb", p.Spec.Analysis.Metrics.InfluxDB)
	if err != nil || c.Plan != p.Spec.Analysis.Metrics.InfluxDB || c.Service != "api" || c.Namespace != "shop" {
		t.Errorf("got %+v, %v", c, err)
	}
}
