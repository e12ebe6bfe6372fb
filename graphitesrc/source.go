// Package graphitesrc is the Graphite metric source
// (analysis.metrics.graphite): one render API request
// (GET /render?target=…&from=…&until=…&format=json) per query, built on
// metricsrc. Each target must yield one series summarized to one value
// over the window; that value is the measurement, a series of nulls or no
// series is no data.
//
// The default targets read statsd's names under its default (legacy)
// namespace, the service's requests counted per track:
//
//	stats_counts.SERVICE.TRACK.requests    a counter of all requests
//	stats_counts.SERVICE.TRACK.errors      a counter of 5xx answers
//	stats.timers.SERVICE.TRACK.latency     a timer in milliseconds,
//	                                       read as .upper_PP (statsd's
//	                                       percentThreshold must list PP)
//
// where TRACK is the track's selector (default: stable or canary).
package graphitesrc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// Kind names the source in errors and in `canary query`.
const Kind = "graphite"

// DefaultSelector is the metric path node of a track: its name.
const DefaultSelector = `{{.Track}}`

// The default targets. summarize(…, "1y", …, true) makes one bucket
// starting at the window's start, longer than any window: one value. The
// error counter is summed with the requests counter scaled to 0, so a
// track that never failed (statsd sent no errors counter) has an error
// rate of 0, not no data. The request rate is the window's requests
// divided by its seconds (scaleToSeconds of a bucket as long as the
// window). The latency is the mean over the window of statsd's
// per-flush upper_PP (statsd computes percentiles per flush interval;
// Graphite cannot merge them exactly), milliseconds to seconds.
const (
	requestsPath            = `stats_counts.{{.Service}}.{{.Selector}}.requests`
	errorsPath              = `stats_counts.{{.Service}}.{{.Selector}}.errors`
	DefaultRequestsQuery    = `summarize(` + requestsPath + `, "1y", "sum", true)`
	DefaultErrorRateQuery   = `divideSeries(summarize(sumSeries(` + errorsPath + `, scale(` + requestsPath + `, 0)), "1y", "sum", true), ` + DefaultRequestsQuery + `)`
	DefaultRequestRateQuery = `scaleToSeconds(summarize(` + requestsPath + `, "{{.Seconds}}s", "sum", true), 1)`
	DefaultLatencyQuery     = `scale(summarize(stats.timers.{{.Service}}.{{.Selector}}.latency.upper_{{replace .Percentile "." "_"}}, "1y", "average", true), 0.001)`
)

// DefaultQueries returns a new map of the default targets by name.
func DefaultQueries() map[string]string {
	return metricsrc.Queries(DefaultLatencyQuery, DefaultErrorRateQuery, DefaultRequestRateQuery, DefaultRequestsQuery)
}

// Config configures the Graphite source: Plan is the plan's
// analysis.metrics.graphite.
type Config = metricsrc.Config[canary.GraphiteMetrics]

// FromPlan returns the Config of p's analysis.metrics.graphite.
func FromPlan(p *canary.Plan) (Config, error) {
	return metricsrc.FromPlan(p, "graphite", p.Spec.Analysis.Metrics.Graphite)
}

type source struct {
	http      *metricsrc.HTTP
	templates *metricsrc.Templates
	service   string
	namespace string
}

// New validates cfg, reads its secrets and parses its templates. It does
// not contact the server. Every problem is a canary.EINVALID error.
func New(cfg Config) (*metricsrc.Source, error) {
	m := cfg.Plan
	if m == nil {
		return nil, canary.Errorf(canary.EINVALID, "graphite: no configuration")
	}
	hc := cfg.HTTP
	hc.Address, hc.Timeout, hc.CAFile = m.Address, m.Timeout.D(), m.CAFile
	hc.BasicAuth, hc.BearerToken = m.BasicAuth, m.BearerToken
	return metricsrc.NewValues(metricsrc.ValuesConfig{Kind: Kind, HTTP: hc, Service: cfg.Service, Namespace: cfg.Namespace,
		Templates: metricsrc.TemplateConfig{Defaults: DefaultQueries(), Overrides: m.Queries,
			DefaultSelector: DefaultSelector, Selectors: m.Selector, Language: "render target"},
		Connect: func(h *metricsrc.HTTP, ts *metricsrc.Templates) metricsrc.Run {
			return (&source{http: h, templates: ts, service: cfg.Service, namespace: cfg.Namespace}).run
		}})
}

// series is one element of the render API's JSON: datapoints are
// [value, timestamp] pairs, value null where nothing was stored.
type series struct {
	Target     string        `json:"target"`
	Datapoints [][2]*float64 `json:"datapoints"`
}

// run sends one render target over q's window and reads its one value.
func (s *source) run(ctx context.Context, _, target string, q canary.Query) (metricsrc.Value, error) {
	v, _, err := s.templates.Vars(q, s.service, s.namespace)
	if err != nil {
		return metricsrc.Value{}, metricsrc.Bad("%v", err)
	}
	u := s.http.Base()
	u.Path = strings.TrimSuffix(u.Path, "/") + "/render"
	u.RawQuery = url.Values{"target": {target}, "format": {"json"},
		"from": {strconv.FormatInt(v.Start, 10)}, "until": {strconv.FormatInt(v.End, 10)}}.Encode()
	body, err := s.http.Do(ctx, metricsrc.Request{URL: u})
	if err != nil {
		return metricsrc.Value{}, err
	}
	var all []series
	if err := json.Unmarshal(body, &all); err != nil {
		return metricsrc.Value{}, metricsrc.Bad("the answer is not the render API's JSON (%v)", err)
	}
	switch {
	case len(all) == 0:
		return metricsrc.Value{NoData: true}, nil
	case len(all) > 1:
		names := make([]string, len(all))
		for i, sr := range all {
			names[i] = sr.Target
		}
		return metricsrc.Value{}, metricsrc.Several(len(all), names)
	}
	var values []float64
	for _, dp := range all[0].Datapoints {
		if dp[0] != nil {
			values = append(values, *dp[0])
		}
	}
	switch len(values) {
	case 0:
		return metricsrc.Value{NoData: true}, nil
	case 1:
		return metricsrc.Number(values[0])
	}
	return metricsrc.Value{}, &metricsrc.Failure{Kind: metricsrc.ErrSeveralSeries,
		Err: fmt.Errorf("%d points (summarize the target to one value over the window, e.g. summarize(…, \"1y\", \"sum\", true))", len(values))}
}
