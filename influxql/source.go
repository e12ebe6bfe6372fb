// Package influxql is the InfluxDB metric source
// (analysis.metrics.influxdb): InfluxQL over InfluxDB 1.x's HTTP API
// (GET /query, also served by InfluxDB 2.x for 1.x clients), built on
// metricsrc. Each query must answer one series of one row; its last
// column is the value.
package influxql

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/metricsrc"
)

// Kind names the source in errors and in `canary query`.
const Kind = "influxdb"

// DefaultSelector picks a track's points: the service and track tags.
const DefaultSelector = `"service" = '{{.Service}}' AND "track" = '{{.Track}}'`

// The default queries read one point per request in the measurement
// http_requests, tagged service and track, with the fields duration_ms
// (the request's latency in milliseconds) and status (the HTTP status
// code, an integer), between the window's start and end. A 5xx status
// divided by 500 and floored is 1, any other 0, so its mean is the
// error ratio.
const (
	where                   = `WHERE {{.Selector}} AND time > {{.Start}}s AND time <= {{.End}}s`
	DefaultLatencyQuery     = `SELECT PERCENTILE("duration_ms", {{.Percentile}}) / 1000 FROM "http_requests" ` + where
	DefaultErrorRateQuery   = `SELECT MEAN("e") FROM (SELECT FLOOR("status" / 500) AS "e" FROM "http_requests" ` + where + `)`
	DefaultRequestRateQuery = `SELECT COUNT("status") / {{.Seconds}} FROM "http_requests" ` + where
	DefaultRequestsQuery    = `SELECT COUNT("status") FROM "http_requests" ` + where
)

// DefaultQueries returns a new map of the default templates by name.
func DefaultQueries() map[string]string {
	return metricsrc.Queries(DefaultLatencyQuery, DefaultErrorRateQuery, DefaultRequestRateQuery, DefaultRequestsQuery)
}

// Config configures the InfluxDB source: Plan is the plan's
// analysis.metrics.influxdb.
type Config = metricsrc.Config[canary.InfluxDBMetrics]

// FromPlan returns the Config of p's analysis.metrics.influxdb.
func FromPlan(p *canary.Plan) (Config, error) {
	return metricsrc.FromPlan(p, "influxdb", p.Spec.Analysis.Metrics.InfluxDB)
}

type source struct {
	http *metricsrc.HTTP
	db   string
	rp   string
}

// New validates cfg, reads its secrets and parses its templates. It does
// not contact the server. Every problem is a canary.EINVALID error.
func New(cfg Config) (*metricsrc.Source, error) {
	m := cfg.Plan
	if m == nil || m.Database == "" {
		return nil, canary.Errorf(canary.EINVALID, "influxdb: a database is required")
	}
	hc := cfg.HTTP
	hc.Address, hc.Timeout, hc.CAFile, hc.BasicAuth = m.Address, m.Timeout.D(), m.CAFile, m.BasicAuth
	if m.Token != "" {
		hc.BearerToken, hc.BearerScheme = m.Token, "Token"
	}
	return metricsrc.NewValues(metricsrc.ValuesConfig{Kind: Kind, HTTP: hc, Service: cfg.Service, Namespace: cfg.Namespace,
		Templates: metricsrc.TemplateConfig{Defaults: DefaultQueries(), Overrides: m.Queries,
			DefaultSelector: DefaultSelector, Selectors: m.Selector, Language: "InfluxQL"},
		Connect: func(h *metricsrc.HTTP, _ *metricsrc.Templates) metricsrc.Run {
			return (&source{http: h, db: m.Database, rp: m.RetentionPolicy}).run
		}})
}

// answer is /query's JSON.
type answer struct {
	Results []struct {
		Error  string `json:"error"`
		Series []struct {
			Name    string            `json:"name"`
			Tags    map[string]string `json:"tags"`
			Columns []string          `json:"columns"`
			Values  [][]any           `json:"values"`
		} `json:"series"`
	} `json:"results"`
	Error string `json:"error"`
}

// run sends one InfluxQL statement and reads its one value.
func (s *source) run(ctx context.Context, _, query string, _ canary.Query) (metricsrc.Value, error) {
	u := s.http.Base()
	u.Path = strings.TrimSuffix(u.Path, "/") + "/query"
	v := url.Values{"db": {s.db}, "q": {query}, "epoch": {"s"}}
	if s.rp != "" {
		v.Set("rp", s.rp)
	}
	u.RawQuery = v.Encode()
	body, err := s.http.Do(ctx, metricsrc.Request{URL: u})
	if err != nil {
		return metricsrc.Value{}, err
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return metricsrc.Value{}, metricsrc.Bad("the answer is not InfluxDB's JSON (%v)", err)
	}
	switch {
	case a.Error != "":
		return metricsrc.Value{}, metricsrc.Bad("%s", a.Error)
	case len(a.Results) != 1:
		return metricsrc.Value{}, metricsrc.Bad("%d results: write one statement", len(a.Results))
	case a.Results[0].Error != "":
		return metricsrc.Value{}, metricsrc.Bad("%s", a.Results[0].Error)
	}
	series := a.Results[0].Series
	switch {
	case len(series) == 0:
		return metricsrc.Value{NoData: true}, nil
	case len(series) > 1:
		names := make([]string, len(series))
		for i, sr := range series {
			names[i] = fmt.Sprintf("%s%v", sr.Name, sr.Tags)
		}
		return metricsrc.Value{}, metricsrc.Several(len(series), names)
	}
	sr := series[0]
	switch {
	case len(sr.Values) == 0:
		return metricsrc.Value{NoData: true}, nil
	case len(sr.Values) > 1:
		return metricsrc.Value{}, &metricsrc.Failure{Kind: metricsrc.ErrSeveralSeries,
			Err: fmt.Errorf("%d rows (remove GROUP BY time(), or aggregate over the window)", len(sr.Values))}
	}
	row := sr.Values[0]
	if len(row) == 0 {
		return metricsrc.Value{NoData: true}, nil
	}
	switch x := row[len(row)-1].(type) {
	case nil:
		return metricsrc.Value{NoData: true}, nil
	case float64:
		return metricsrc.Number(x)
	default:
		return metricsrc.Value{}, metricsrc.Bad("column %s is %v, not a number", sr.Columns[len(sr.Columns)-1], x)
	}
}
