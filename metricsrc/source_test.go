package metricsrc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

// TestMeasure: the value and requests answers make one Measurement; no
// data is a NoData measurement, not an error or a zero; a failure names
// the source, the template and the query sent.
func TestMeasure(t *testing.T) {
	ts, err := ParseTemplates(TemplateConfig{Defaults: defaults(), DefaultSelector: "{{.Track}}"})
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]func() (Value, error){}
	src := &Source{Kind: "test", Address: "http://h", Templates: ts, Service: "api",
		Run: func(_ context.Context, name, query string, _ canary.Query) (Value, error) { return answers[name]() }}
	q := canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackCanary, Window: time.Minute}
	num := func(v float64) func() (Value, error) { return func() (Value, error) { return Number(v) } }

	answers[QueryErrorRate], answers[QueryRequests] = num(0.02), num(1234.4)
	m, err := src.Measure(context.Background(), q)
	if err != nil || m.Value != 0.02 || m.Samples != 1234 || m.NoData {
		t.Errorf("ok: got %+v, %v; want 0.02 over 1234", m, err)
	}
	answers[QueryErrorRate], answers[QueryRequests] = func() (Value, error) { return Value{NoData: true}, nil }, num(0)
	if m, err = src.Measure(context.Background(), q); err != nil || !m.NoData || m.Samples != 0 {
		t.Errorf("nodata: got %+v, %v", m, err)
	}
	answers[QueryErrorRate] = func() (Value, error) { return Value{}, Several(4, []string{"a", "b", "c", "d"}) }
	_, err = src.Measure(context.Background(), q)
	want := "test http://h: errorRate query `err canary 60`: several series where one is expected: 4 series (aggregate them or narrow the selector): a, b, c, and 1 more"
	if err == nil || err.Error() != want || !errors.Is(err, ErrSeveralSeries) {
		t.Errorf("several: got %v, want %s", err, want)
	}
	answers[QueryErrorRate] = func() (Value, error) { return Number(1) }
	answers[QueryRequests] = func() (Value, error) { return Value{}, errors.New("connection refused") }
	if _, err = src.Measure(context.Background(), q); err == nil || !errors.Is(err, ErrUnavailable) ||
		!strings.Contains(err.Error(), "requests query `n canary api/default q=`") {
		t.Errorf("requests failing: got %v", err)
	}
	if v, err := Number(1 / zero()); err == nil {
		t.Errorf("infinity: got %v, want an error", v)
	}
}

func zero() float64 { return 0 }
