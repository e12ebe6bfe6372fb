package promql

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/prometheus/common/model"
)

func bucketVector(pairs ...any) model.Vector {
	var v model.Vector
	for i := 0; i < len(pairs); i += 2 {
		v = append(v, &model.Sample{Metric: model.Metric{"le": model.LabelValue(pairs[i].(string))}, Value: model.SampleValue(pairs[i+1].(float64))})
	}
	return v
}

// TestDecumulate: cumulative buckets, in any order, become per-bucket
// counts; +Inf's excess joins the last finite bucket (rollout.go's
// LatencyBucket), le ≤ 0 the first positive one; increase()'s fractions
// are rounded and its uneven extrapolation never makes a count negative.
func TestDecumulate(t *testing.T) {
	tests := []struct {
		name string
		res  model.Value
		want []canary.LatencyBucket
	}{
		{"proxy-like, shuffled", bucketVector("0.5", 90.0, "0.1", 10.0, "+Inf", 100.0, "1", 97.0),
			[]canary.LatencyBucket{{UpperBound: 0.1, Count: 10}, {UpperBound: 0.5, Count: 80}, {UpperBound: 1, Count: 10}}},
		{"fractions from increase()", bucketVector("0.1", 10.4, "0.5", 90.9, "+Inf", 101.2),
			[]canary.LatencyBucket{{UpperBound: 0.1, Count: 10}, {UpperBound: 0.5, Count: 91}}}, // 80.5 and +Inf's 10.3
		{"a bucket below the previous one", bucketVector("0.1", 10.0, "0.2", 9.8, "0.5", 20.0, "+Inf", 20.0),
			[]canary.LatencyBucket{{UpperBound: 0.1, Count: 10}, {UpperBound: 0.2, Count: 0}, {UpperBound: 0.5, Count: 10}}},
		{"le=0 folded into the first positive", bucketVector("0", 3.0, "0.05", 5.0, "+Inf", 5.0),
			[]canary.LatencyBucket{{UpperBound: 0.05, Count: 5}}},
		{"NaN (one sample in the window) is 0", bucketVector("0.1", math.NaN(), "+Inf", 4.0),
			[]canary.LatencyBucket{{UpperBound: 0.1, Count: 4}}},
		{"no request", bucketVector("0.1", 0.0, "+Inf", 0.0), nil},
		{"empty", model.Vector{}, nil},
		{"only +Inf", bucketVector("+Inf", 7.0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cum, err := cumulative(tt.res)
			if err != nil {
				t.Fatal(err)
			}
			if got := decumulate(cum); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCumulativeErrors(t *testing.T) {
	tests := []struct {
		name string
		res  model.Value
		want string
	}{
		{"no le", model.Vector{&model.Sample{Metric: model.Metric{"track": "canary"}, Value: 1}}, "no le label"},
		{"two series per le", bucketVector("0.1", 1.0, "0.1", 2.0), "two series with le=0.1"},
		{"le not a number", bucketVector("fast", 1.0), `le "fast" is not a number`},
		{"negative count", bucketVector("0.1", -1.0), "not a count"},
		{"a scalar", &model.Scalar{Value: 1}, "not an instant vector of buckets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cumulative(tt.res); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestExprsLatencyBuckets: a latency renders the latencyBuckets query
// (overridable like the others); other metrics have none.
func TestExprsLatencyBuckets(t *testing.T) {
	s := newSource(t, Config{Address: "http://prom:9090"})
	e, err := s.Exprs(canary.Query{Metric: canary.MetricLatencyP95, Track: canary.TrackCanary, Window: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if want := `sum by (le) (increase(canary_proxy_request_duration_seconds_bucket{track="canary"}[5m]))`; e.Buckets != want {
		t.Errorf("buckets query %s, want %s", e.Buckets, want)
	}
	if e, _ := s.Exprs(canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute}); e.Buckets != "" {
		t.Errorf("errorRate has a buckets query %q", e.Buckets)
	}
	o := newSource(t, Config{Address: "http://prom:9090", Service: "checkout", Queries: map[string]string{
		QueryLatencyBuckets: `sum by (le) (increase(http_duration_seconds_bucket{svc="{{.Service}}",track="{{.Track}}"}[{{.Window}}]))`,
	}})
	e, _ = o.Exprs(canary.Query{Metric: "latencyP99", Track: canary.TrackStable, Window: 30 * time.Second})
	if want := `sum by (le) (increase(http_duration_seconds_bucket{svc="checkout",track="stable"}[30s]))`; e.Buckets != want {
		t.Errorf("overridden buckets query %s, want %s", e.Buckets, want)
	}
	if _, err := New(Config{Address: "http://prom:9090", Queries: map[string]string{QueryLatencyBuckets: `{{.Quantile`}}); err == nil || !strings.Contains(err.Error(), "queries[latencyBuckets]") {
		t.Errorf("a broken latencyBuckets template: error %v, want one naming it", err)
	}
}

// servedBuckets are the proxy's own histogram counts of track, read from
// its registry (what Prometheus scrapes, exactly), de-cumulated with the
// +Inf excess in the last finite bucket.
func (e *env) servedBuckets(t *testing.T, track canary.Track) []canary.LatencyBucket {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "canary_proxy_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			tr := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "track" {
					tr = l.GetValue()
				}
			}
			if tr != string(track) {
				continue
			}
			var cum []cumBucket
			for _, b := range m.GetHistogram().GetBucket() {
				cum = append(cum, cumBucket{le: b.GetUpperBound(), count: float64(b.GetCumulativeCount())})
			}
			cum = append(cum, cumBucket{le: math.Inf(1), count: float64(m.GetHistogram().GetSampleCount())})
			return decumulate(cum)
		}
	}
	t.Fatalf("no duration histogram of %s in the proxy's registry", track)
	return nil
}

// checkBuckets compares the latency distribution Prometheus gives for
// track over window at at (counters at rest, every request in the
// window) with what the proxy served: the same bounds, and in every
// bucket the served count scaled by increase()'s extrapolation, which
// is one factor for all buckets (their series share scrape times), within
// rounding: one request, or 1% of the total.
func (e *env) checkBuckets(t *testing.T, src *Source, track canary.Track, window time.Duration, at time.Time) {
	t.Helper()
	m, err := src.Measure(context.Background(), canary.Query{Metric: canary.MetricLatencyP95, Track: track, Window: window, At: at})
	if err != nil {
		t.Fatalf("measure %s: %v", track, err)
	}
	served := e.servedBuckets(t, track)
	if len(m.Latency) != len(served) {
		t.Fatalf("%s: %d buckets, the proxy has %d\ngot    %v\nserved %v", track, len(m.Latency), len(served), m.Latency, served)
	}
	var got, want int64
	for i := range served {
		if m.Latency[i].UpperBound != served[i].UpperBound {
			t.Fatalf("%s: bucket %d bound %v, the proxy's is %v", track, i, m.Latency[i].UpperBound, served[i].UpperBound)
		}
		got += m.Latency[i].Count
		want += served[i].Count
	}
	scale := float64(got) / float64(want)
	t.Logf("%s: %d requests in %d buckets, served %d (increase() scale %.3f)\ngot    %v\nserved %v", track, got, len(served), want, scale, m.Latency, served)
	if scale < 0.98 || scale > 1.15 {
		t.Errorf("%s: buckets hold %d requests, served %d: outside −2%%/+15%%", track, got, want)
	}
	if d := float64(got - m.Samples); math.Abs(d) > math.Max(2, 0.01*float64(got)) {
		t.Errorf("%s: buckets hold %d requests, the requests query %d", track, got, m.Samples)
	}
	nonEmpty := 0
	for i, b := range served {
		if b.Count > 0 {
			nonEmpty++
		}
		if d := math.Abs(float64(m.Latency[i].Count) - scale*float64(b.Count)); d > math.Max(1, 0.01*float64(want)) {
			t.Errorf("%s: bucket le=%v holds %d, served %d (×%.3f)", track, b.UpperBound, m.Latency[i].Count, b.Count, scale)
		}
	}
	if nonEmpty < 3 {
		t.Errorf("%s: the traffic fills %d buckets: the comparison tests little", track, nonEmpty)
	}
}
