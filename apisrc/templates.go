package apisrc

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/canary-dev/canary"
	"github.com/prometheus/common/model"
)

// Query names: the keys of a source's queries.
const (
	// QueryRequests counts the requests in the window; it fills
	// Measurement.Samples and is the denominator of errorRate.
	QueryRequests = "requests"
	// QueryErrors counts the failed requests in the window.
	QueryErrors = "errors"
	// QueryLatency is a latency quantile in seconds.
	QueryLatency = "latency"
)

// QueryNames lists the query names in a fixed order.
var QueryNames = []string{QueryRequests, QueryErrors, QueryLatency}

// Vars are the values a query template sees.
type Vars struct {
	// Window is the window as a Prometheus duration: 30s, 5m, 1h30m.
	Window string
	// Seconds is the window in whole seconds (rounded up).
	Seconds int64
	// Track is stable or canary.
	Track string
	// Selector is the track's value in the source's tracks setting: a
	// tag, an NRQL condition, a target group.
	Selector string
	// Service is the service or application name.
	Service string
	// Namespace is the rollout's namespace.
	Namespace string
	// Quantile is the latency quantile as a decimal (0.95); Percentile
	// the same in percent (95, 99.9). Empty outside the latency query.
	Quantile, Percentile string
	// LoadBalancer is CloudWatch's ALB dimension.
	LoadBalancer string
	// Since and Until are the window's bounds in Unix milliseconds.
	Since, Until int64
}

// NewVars are v's window, track and time range for q; selectors gives
// the track's Selector.
func (v Vars) For(q canary.Query, selectors canary.TrackValues) Vars {
	v.Window = FormatWindow(q.Window)
	v.Seconds = int64(math.Ceil(q.Window.Seconds()))
	v.Track = string(q.Track)
	v.Selector = selectors.For(q.Track)
	v.Until = q.At.UnixMilli()
	v.Since = q.At.Add(-q.Window).UnixMilli()
	return v
}

// FormatWindow writes d as a Prometheus duration (5m, 30s, 1m30s).
func FormatWindow(d time.Duration) string {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return model.Duration(d).String()
}

// Templates are parsed query templates by name.
type Templates map[string]*template.Template

// ParseTemplates merges overrides over defaults (both by query name),
// parses every template and renders it once with sample values, so a
// typo such as {{.Trak}} fails at construction, naming the query.
func ParseTemplates(defaults, overrides map[string]string) (Templates, error) {
	texts := maps.Clone(defaults)
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		if !slices.Contains(QueryNames, name) {
			return nil, fmt.Errorf("queries[%s]: not a query name (use %s)", name, strings.Join(QueryNames, ", "))
		}
		if strings.TrimSpace(overrides[name]) == "" {
			return nil, fmt.Errorf("queries[%s]: empty (write a query template, or leave it out for the default)", name)
		}
		texts[name] = overrides[name]
	}
	ts := Templates{}
	for _, name := range QueryNames {
		t, err := ParseTemplate(name, texts[name])
		if err != nil {
			return nil, err
		}
		ts[name] = t
	}
	return ts, nil
}

// ParseTemplate parses one template and renders it with sample values.
func ParseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("queries[%s]: %w", name, err)
	}
	probe := Vars{Window: "5m", Seconds: 300, Track: "canary", Selector: "track:canary", Service: "svc",
		Namespace: "ns", Quantile: "0.95", Percentile: "95", LoadBalancer: "app/lb/1", Since: 1, Until: 2}
	if err := t.Execute(&bytes.Buffer{}, probe); err != nil {
		return nil, fmt.Errorf("queries[%s]: %w (the variables are .Window, .Seconds, .Track, .Selector, .Service, .Namespace, .Quantile, .Percentile, .LoadBalancer, .Since and .Until)", name, err)
	}
	return t, nil
}

// Render fills template name with v.
func (ts Templates) Render(name string, v Vars) (string, error) {
	return Render(ts[name], v)
}

// Render fills t with v.
func Render(t *template.Template, v Vars) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("render query %s: %w", t.Name(), err)
	}
	return b.String(), nil
}

// quantileVars sets v's Quantile and Percentile for q (0 < q < 1).
func quantileVars(v Vars, q float64) Vars {
	r := math.Round(q*1e10) / 1e10
	v.Quantile = strconv.FormatFloat(r, 'f', -1, 64)
	v.Percentile = strconv.FormatFloat(math.Round(q*1e8)/1e6, 'f', -1, 64)
	return v
}
