package metricsrc

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
)

// Query template names: the keys of a source's queries in a plan. A
// value source's (web, influxdb, graphite) are the Prometheus source's,
// less latencyBuckets; a counting source's (datadog, cloudwatch,
// newRelic) are CountNames.
const (
	// QueryLatency is a latency quantile in seconds; it sees .Quantile
	// and .Percentile.
	QueryLatency = "latency"
	// QueryErrorRate is the ratio of 5xx answers to all requests (0..1).
	QueryErrorRate = "errorRate"
	// QueryRequestRate is requests per second.
	QueryRequestRate = "requestRate"
	// QueryRequests is the number of requests in the window; it fills
	// Measurement.Samples, which minRequests and the confidence bounds of
	// threshold rules are judged on.
	QueryRequests = "requests"
	// QueryErrors is the number of failed requests in the window (a
	// counting source's).
	QueryErrors = "errors"
)

// QueryNames lists a value source's template names in a fixed order.
var QueryNames = []string{QueryLatency, QueryErrorRate, QueryRequestRate, QueryRequests}

// CountNames lists a counting source's template names (counts.go).
var CountNames = []string{QueryRequests, QueryErrors, QueryLatency}

// Vars are the values a query template sees: the Prometheus templates'
// variables, the window in seconds, the percentile, and the track's
// selector.
type Vars struct {
	// Window is the window as a Prometheus duration: 30s, 5m, 1m30s.
	Window string
	// Seconds is the window in whole seconds (rounded up): 30, 300, 90.
	Seconds int64
	// Track is stable or canary.
	Track string
	// Service is the rollout's name (the plan's metadata.name).
	Service string
	// Namespace is the rollout's namespace (metadata.namespace).
	Namespace string
	// Quantile is the latency quantile as a decimal, e.g. 0.95; empty in
	// the other templates.
	Quantile string
	// Percentile is the same as a percentage, e.g. 95 or 99.9; empty in
	// the other templates.
	Percentile string
	// Start and End are the window's bounds in Unix seconds: End is the
	// query's time (its At, or now), Start End minus Seconds.
	Start, End int64
	// Since and Until are the window's bounds in Unix milliseconds (NRQL's
	// SINCE and UNTIL).
	Since, Until int64
	// LoadBalancer is CloudWatch's ALB dimension (the plan's
	// loadBalancer); empty for other sources.
	LoadBalancer string
	// Selector is the track's selector rendered (a tag filter, a metric
	// path, a dimension value): how the track's series is told from the
	// other track's.
	Selector string
}

// Templates are a source's parsed query templates and its per-track
// selectors.
type Templates struct {
	queries   map[string]renderer
	selectors map[canary.Track]*template.Template
}

// TemplateConfig is what ParseTemplates reads.
type TemplateConfig struct {
	// Names are the template names (default: QueryNames); Defaults must
	// hold every one, Overrides only these.
	Names []string
	// Defaults are the source's default templates by name.
	Defaults map[string]string
	// Overrides replace defaults by name (the plan's queries).
	Overrides map[string]string
	// DefaultSelector is the selector template of both tracks unless
	// Selectors names one; it sees .Track, .Service and .Namespace.
	DefaultSelector string
	// Selectors are per-track selector templates (the plan's selector).
	Selectors map[string]string
	// Tracks, when set, are the per-track selectors as written, not
	// templates (the cloud sources' selector and targetGroups); they
	// replace DefaultSelector and Selectors.
	Tracks canary.TrackValues
	// JSON makes every query template a JSON document whose strings are
	// templates (CloudWatch's metric statistics): each string is rendered
	// and the document encoded again, so values need no escaping.
	JSON bool
	// Language names the query language in errors: "InfluxQL".
	Language string
}

var probe = Vars{Window: "5m", Seconds: 300, Track: string(canary.TrackCanary), Service: "svc", Namespace: "ns",
	Quantile: "0.95", Percentile: "95", Start: 1700000000, End: 1700000300, Since: 1700000000000, Until: 1700000300000,
	LoadBalancer: "app/lb/1", Selector: "sel"}

// varNames are Vars' fields as templates name them, for errors.
var varNames = []string{".Window", ".Seconds", ".Start", ".End", ".Since", ".Until", ".Track", ".Service",
	".Namespace", ".Quantile", ".Percentile", ".Selector", ".LoadBalancer"}

// ProbeVars are the sample values every template is rendered with once
// when it is parsed.
func ProbeVars() Vars { return probe }

// Funcs are the functions templates may call besides text/template's
// own (urlquery, printf, …): replace S OLD NEW (strings.ReplaceAll), e.g.
// {{replace .Percentile "." "_"}} for statsd's upper_99_9.
var Funcs = template.FuncMap{"replace": strings.ReplaceAll}

// ParseTemplates merges overrides over the defaults and parses and renders
// each template once with sample values, so a typo such as {{.Trak}} is an
// error naming the query when the source is built (and at validate).
func ParseTemplates(c TemplateConfig) (*Templates, error) {
	names := c.Names
	if names == nil {
		names = QueryNames
	}
	texts := maps.Clone(c.Defaults)
	for _, name := range slices.Sorted(maps.Keys(c.Overrides)) {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("queries[%s]: not a query name (use %s)", name, strings.Join(names, ", "))
		}
		if strings.TrimSpace(c.Overrides[name]) == "" {
			return nil, fmt.Errorf("queries[%s]: empty (write a %s template, or leave it out for the default)", name, c.Language)
		}
		texts[name] = c.Overrides[name]
	}
	ts := &Templates{queries: map[string]renderer{}, selectors: map[canary.Track]*template.Template{}}
	for _, name := range names {
		r, err := parseQuery("queries["+name+"]", texts[name], c.JSON)
		if err != nil {
			return nil, err
		}
		ts.queries[name] = r
	}
	return ts, ts.parseSelectors(c)
}

// parseSelectors parses c's per-track selectors into ts.
func (ts *Templates) parseSelectors(c TemplateConfig) error {
	for _, track := range []canary.Track{canary.TrackStable, canary.TrackCanary} {
		text, ok := c.Selectors[string(track)]
		switch {
		case c.Tracks != (canary.TrackValues{}):
			text = "{{" + strconv.Quote(c.Tracks.For(track)) + "}}"
		case !ok:
			text = c.DefaultSelector
		}
		t, err := parse("selector["+string(track)+"]", text)
		if err != nil {
			return err
		}
		ts.selectors[track] = t
	}
	for name := range c.Selectors {
		if name != string(canary.TrackStable) && name != string(canary.TrackCanary) {
			return fmt.Errorf("selector[%s]: not a track (use stable and canary)", name)
		}
	}
	return nil
}

func parse(what, text string) (*template.Template, error) {
	t, err := ParseTemplate(what, text, probe)
	if err != nil {
		return nil, err
	}
	return t.t, nil
}

// Template is one template over Vars, or over a source's own data that
// embeds Vars and adds variables (the web source's .Name and .Query),
// with the query templates' options (a missing key is an error) and
// Funcs.
type Template struct {
	t    *template.Template
	vars string
}

// ParseTemplate parses text as the template what and renders it once
// with probe (ProbeVars, or the source's data embedding them), so a typo
// such as {{.Trak}} is an error naming what when the source is built.
// extra names the variables probe adds to Vars', for errors: ".Name".
func ParseTemplate(what, text string, probe any, extra ...string) (*Template, error) {
	names := append(slices.Clone(varNames), extra...)
	vars := strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	t, err := template.New(what).Option("missingkey=error").Funcs(Funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	tt := &Template{t: t, vars: vars}
	if err := t.Execute(&bytes.Buffer{}, probe); err != nil {
		return nil, fmt.Errorf("%s: %w", what, tt.explain(err))
	}
	return tt, nil
}

// Execute renders t with data (of the probe's type).
func (t *Template) Execute(data any) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, data); err != nil {
		return "", t.explain(err)
	}
	return b.String(), nil
}

// explain adds the variables a template may use to an error rendering it.
func (t *Template) explain(err error) error {
	return fmt.Errorf("%w (the variables are %s)", err, t.vars)
}

// Vars returns the variables of q for a source measuring service in
// namespace (default: "default"), the track's selector rendered. The value template's name
// comes back too: latency (with .Quantile and .Percentile), errorRate or
// requestRate; another metric is ErrUnknownMetric.
func (ts *Templates) Vars(q canary.Query, service, namespace string) (Vars, string, error) {
	if namespace == "" {
		namespace = canary.DefaultNamespace
	}
	end := q.At
	if end.IsZero() {
		end = time.Now()
	}
	v := Vars{Window: FormatWindow(q.Window), Seconds: Seconds(q.Window), Track: string(q.Track),
		Service: service, Namespace: namespace, End: end.Unix(), Until: end.UnixMilli()}
	v.Start, v.Since = v.End-v.Seconds, end.Add(-q.Window).UnixMilli()
	if q.Track != canary.TrackStable && q.Track != canary.TrackCanary {
		return v, "", fmt.Errorf("measure %s of track %q: unknown track (want stable or canary)", q.Metric, q.Track)
	}
	if q.Window <= 0 {
		return v, "", fmt.Errorf("measure %s: window %s is not positive", q.Metric, q.Window)
	}
	var name string
	switch qt, isLatency := q.Metric.Quantile(); {
	case isLatency:
		name, v.Quantile, v.Percentile = QueryLatency, formatFloat(qt), formatFloat(qt*100)
	case q.Metric == canary.MetricErrorRate:
		name = QueryErrorRate
	case q.Metric == canary.MetricRequestRate:
		name = QueryRequestRate
	default:
		return v, "", fmt.Errorf("measure %q: %w", q.Metric, ErrUnknownMetric)
	}
	sel, err := execute(ts.selectors[q.Track], v)
	if err != nil {
		return v, "", err
	}
	v.Selector = sel
	return v, name, nil
}

// Render renders the template name with v.
func (ts *Templates) Render(name string, v Vars) (string, error) {
	r, ok := ts.queries[name]
	if !ok {
		return "", fmt.Errorf("render query %s: %w", name, ErrUnknownMetric)
	}
	return r.render(v)
}

func execute(t *template.Template, v Vars) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("render %s: %w", t.Name(), err)
	}
	return b.String(), nil
}

// FormatWindow writes d as a Prometheus duration (5m, 30s, 1m30s,
// 1h0m5s written 1h5s), rounded up to a whole second.
func FormatWindow(d time.Duration) string {
	s := Seconds(d)
	if s == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		n    int64
		unit string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if s >= u.n {
			fmt.Fprintf(&b, "%d%s", s/u.n, u.unit)
			s %= u.n
		}
	}
	return b.String()
}

// Seconds is d in whole seconds, rounded up.
func Seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// formatFloat writes q as a short decimal: 0.95, 0.999, 99.9 (ten
// decimals are more than any percentile has; 99.9/100 is not exact).
func formatFloat(q float64) string {
	return strconv.FormatFloat(math.Round(q*1e10)/1e10, 'f', -1, 64)
}
