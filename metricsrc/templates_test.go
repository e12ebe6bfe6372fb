package metricsrc

import (
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
)

func defaults() map[string]string {
	return map[string]string{
		QueryLatency:     `lat {{.Percentile}} {{.Quantile}} {{.Selector}} {{.Window}}`,
		QueryErrorRate:   `err {{.Selector}} {{.Seconds}}`,
		QueryRequestRate: `rate {{.Selector}}`,
		QueryRequests:    `n {{.Selector}} {{.Service}}/{{.Namespace}} q={{.Quantile}}`,
	}
}

func TestTemplatesRender(t *testing.T) {
	ts, err := ParseTemplates(TemplateConfig{Defaults: defaults(), DefaultSelector: `track={{.Track}}`,
		Selectors: map[string]string{"canary": `tg-canary-{{.Service}}`}})
	if err != nil {
		t.Fatal(err)
	}
	src := &Source{Kind: "test", Templates: ts, Service: "api", Namespace: "prod"}
	tests := []struct {
		q           canary.Query
		value, reqs string
		name        string
	}{
		{canary.Query{Metric: "latencyP99.9", Track: canary.TrackCanary, Window: 90 * time.Second},
			"lat 99.9 0.999 tg-canary-api 1m30s", "n tg-canary-api api/prod q=", QueryLatency},
		{canary.Query{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: 1500 * time.Millisecond},
			"err track=stable 2", "n track=stable api/prod q=", QueryErrorRate},
		{canary.Query{Metric: canary.MetricRequestRate, Track: canary.TrackStable, Window: time.Hour + 5*time.Second},
			"rate track=stable", "n track=stable api/prod q=", QueryRequestRate},
	}
	for _, tt := range tests {
		r, err := src.Render(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != tt.name || r.Value != tt.value || r.Requests != tt.reqs {
			t.Errorf("%v: got %+v, want %s %q %q", tt.q, r, tt.name, tt.value, tt.reqs)
		}
	}
	if got := FormatWindow(time.Hour + 5*time.Second); got != "1h5s" {
		t.Errorf("FormatWindow(1h5s) = %q", got)
	}
	if _, err := src.Render(canary.Query{Metric: canary.MetricBurnRate, Track: canary.TrackCanary, Window: time.Minute}); err == nil ||
		!strings.Contains(err.Error(), "unknown metric") {
		t.Errorf("burnRate: got %v, want unknown metric", err)
	}
}

func TestTemplatesRefuseTypos(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		selectors map[string]string
		want      string
	}{
		{"unknown variable", map[string]string{"latency": "{{.Trak}}"}, nil, "queries[latency]: "},
		{"syntax", map[string]string{"requests": "{{.Track"}, nil, "queries[requests]: "},
		{"unknown name", map[string]string{"latencyBuckets": "x"}, nil, "queries[latencyBuckets]: not a query name"},
		{"empty", map[string]string{"errorRate": " "}, nil, "queries[errorRate]: empty"},
		{"selector track", nil, map[string]string{"blue": "x"}, "selector[blue]: not a track"},
		{"selector variable", nil, map[string]string{"stable": "{{.Nope}}"}, "selector[stable]: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTemplates(TemplateConfig{Defaults: defaults(), Overrides: tt.overrides, DefaultSelector: "{{.Track}}",
				Selectors: tt.selectors, Language: "test"})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

// TestParseTemplateExtraVars: a source's own data embedding Vars (the web
// source's .Name) renders with both; a typo is an error when parsed that
// names the template and lists the extra variable too.
func TestParseTemplateExtraVars(t *testing.T) {
	type own struct {
		Vars
		Name string
	}
	tpl, err := ParseTemplate("url", `/q?m={{.Name}}&t={{.Track}}&p={{replace .Percentile "." "_"}}`, own{Vars: ProbeVars()}, ".Name")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Execute(own{Vars: Vars{Track: "stable", Percentile: "99.9"}, Name: "latency"})
	if want := "/q?m=latency&t=stable&p=99_9"; err != nil || got != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	_, err = ParseTemplate("url", `{{.Nme}}`, own{Vars: ProbeVars()}, ".Name")
	if err == nil || !strings.HasPrefix(err.Error(), "url: ") || !strings.Contains(err.Error(), "can't evaluate field Nme") ||
		!strings.Contains(err.Error(), ".LoadBalancer and .Name)") {
		t.Fatalf("got %v; want an error naming url, Nme and the variables up to .Name", err)
	}
}
