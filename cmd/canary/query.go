package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/metricsrc"
	"github.com/canary-dev/canary/plan"
	"github.com/canary-dev/canary/promql"
	provs "github.com/canary-dev/canary/providers"
	"github.com/spf13/cobra"
)

type queryFlags struct {
	output  string
	address string
	at      string
	exprs   bool
}

func newQueryCmd() *cobra.Command {
	var f queryFlags
	c := &cobra.Command{
		Use:   "query PLAN",
		Short: "Run a plan's metric queries now and print the values per track",
		Long:  queryLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if f.output != "" && f.output != "json" && f.output != "text" {
				return usageError{fmt.Errorf("-o %q: use json or text", f.output)}
			}
			at := time.Now()
			if f.at != "" {
				t, err := time.Parse(time.RFC3339, f.at)
				if err != nil {
					return usageError{fmt.Errorf("--at %q: not an RFC 3339 time (e.g. 2025-08-14T09:30:00Z)", f.at)}
				}
				at = t
			}
			p, err := plan.Load(args[0])
			if err != nil {
				return err
			}
			src, err := querySource(c.Context(), p, f.address)
			if err != nil {
				return err
			}
			rep := runQueries(c.Context(), p, src, at)
			if f.output == "json" {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.print(c.OutOrStdout(), f.exprs)
			}
			return rep.err()
		},
	}
	c.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	c.Flags().StringVar(&f.address, "address", "", "Prometheus URL to query instead of the plan's analysis.metrics.prometheus.address")
	c.Flags().StringVar(&f.at, "at", "", "evaluate at this RFC 3339 time instead of now")
	c.Flags().BoolVar(&f.exprs, "show-queries", false, "print the PromQL of every row (text output; JSON always has it)")
	return c
}

const queryLong = `Query runs every query a rollout of the plan would make at one evaluation of
a step with traffic moved, exactly those the engine makes — each rule's
metric for the canary and the stable track over the rule's window, a burn
rule's shortWindow too, a compare: baseline rule's per-interval queries,
and the requests query behind each sample count — against the plan's
metric source (analysis.metrics: prometheus, web, influxdb, graphite,
datadog, cloudwatch or newRelic),
and prints value, samples and status (ok, nodata or error) per track. Use
it to debug a plan before a release: a nodata row is a query that matches
nothing (or a track with no requests in the window); an error row names
the query and what the server said.

--address queries another Prometheus server (a port-forward, a staging
Prometheus), also for a plan that uses the builtin metrics (with the
default queries, which read canary's own proxy metrics).

Exit codes: 0 every query answered (nodata included), 2 a query is wrong
(syntax, several series, not a number) or the plan is invalid, 5 the
source could not be reached or failed.`

// querySource is the plan's metric source as the runner and the operator
// build it (providers.Metrics); with address, the plan's Prometheus (or
// the default queries of a builtin plan) against that server.
func querySource(ctx context.Context, p *canary.Plan, address string) (canary.MetricSource, error) {
	env := provs.Env{Host: "canary query", PrometheusAddress: address}
	switch prov := p.Spec.Analysis.Metrics.Provider(); {
	case prov == "prometheus" || (prov == "builtin" && address != ""):
		return provs.Prometheus(ctx, p, env)
	case prov == "builtin":
		return nil, canary.Errorf(canary.EINVALID,
			"the plan measures with the %s metrics, not Prometheus or another metric server: set analysis.metrics (prometheus, web, influxdb, graphite, datadog, cloudwatch or newRelic), or pass --address to try the default Prometheus queries against a server",
			prov)
	case address != "":
		return nil, canary.Errorf(canary.EINVALID, "--address is a Prometheus URL, but the plan measures with analysis.metrics.%s: leave it out", prov)
	}
	return provs.Metrics(ctx, p, env)
}

// queryReport is the result of `canary query`.
type queryReport struct {
	Rollout   string `json:"rollout"`
	Namespace string `json:"namespace"`
	// Source is the kind of metric source: prometheus, web, influxdb…
	Source  string     `json:"source"`
	Address string     `json:"address"`
	At      time.Time  `json:"at"`
	Queries []queryRow `json:"queries"`
}

// queryRow is one metric of one track over one window.
type queryRow struct {
	Metric canary.Metric `json:"metric"`
	Track  canary.Track  `json:"track"`
	Window string        `json:"window"`
	// Rules are the display names of the rules judged on this row.
	Rules []string `json:"rules"`
	// Name is the query template: latency, errorRate or requestRate.
	Name         string `json:"query"`
	Expr         string `json:"expr"`
	RequestsExpr string `json:"requestsExpr"`
	// Status of the value query, and Value when ok.
	Status string   `json:"status"`
	Value  *float64 `json:"value,omitempty"`
	Error  string   `json:"error,omitempty"`
	// SamplesStatus of the requests query, and Samples when ok.
	SamplesStatus string `json:"samplesStatus"`
	Samples       *int64 `json:"samples,omitempty"`
	SamplesError  string `json:"samplesError,omitempty"`
	// BucketsExpr is the latencyBuckets query of a latency row; Buckets
	// how many buckets of the latency histogram hold requests, and
	// BucketRequests how many requests they hold (compare: baseline rules
	// compare these distributions).
	BucketsExpr    string `json:"bucketsExpr,omitempty"`
	BucketsStatus  string `json:"bucketsStatus,omitempty"`
	Buckets        *int   `json:"buckets,omitempty"`
	BucketRequests *int64 `json:"bucketRequests,omitempty"`
	BucketsError   string `json:"bucketsError,omitempty"`

	errs []error
}

// Row statuses.
const (
	statusOK     = "ok"
	statusNoData = "nodata"
	statusError  = "error"
)

// runQueries runs the queries an evaluation of p makes
// (engine.PlanQueries) on src, a few at a time. A Prometheus source's rows
// show each query's expressions and answers (runRow); any other source's
// show its measurements (measureRow).
func runQueries(ctx context.Context, p *canary.Plan, src canary.MetricSource, at time.Time) *queryReport {
	qs := engine.PlanQueries(p, at)
	rep := &queryReport{Rollout: p.Metadata.Name, Namespace: p.Metadata.Namespace, At: at.UTC(),
		Queries: make([]queryRow, len(qs))}
	prom, _ := src.(*promql.Source)
	gen, _ := src.(*metricsrc.Source)
	switch {
	case prom != nil:
		rep.Source, rep.Address = "prometheus", prom.Address()
	case gen != nil:
		rep.Source, rep.Address = gen.Kind, gen.Address
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, q := range qs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if prom != nil {
				rep.Queries[i] = runRow(ctx, prom, q.Query, q.Rules)
			} else {
				rep.Queries[i] = measureRow(ctx, src, q.Query, q.Rules)
			}
		})
	}
	wg.Wait()
	return rep
}

// measureRow is one query measured by a source that is not Prometheus,
// with the queries it sends when it says (a metricsrc.Source).
func measureRow(ctx context.Context, src canary.MetricSource, q canary.Query, rules []string) queryRow {
	row := queryRow{Metric: q.Metric, Track: q.Track, Window: promql.FormatWindow(q.Window), Rules: rules}
	if gen, ok := src.(*metricsrc.Source); ok {
		if r, err := gen.Render(q); err == nil {
			row.Name, row.Expr, row.RequestsExpr = r.Name, r.Value, r.Requests
		}
	}
	m, err := src.Measure(ctx, q)
	switch {
	case err != nil:
		row.Status, row.SamplesStatus, row.Error = statusError, statusError, err.Error()
		row.errs = append(row.errs, err)
		return row
	case m.NoData:
		row.Status = statusNoData
	default:
		row.Status, row.Value = statusOK, &m.Value
	}
	row.SamplesStatus, row.Samples = statusOK, &m.Samples
	if len(m.Latency) > 0 {
		n, total := countBuckets(m.Latency)
		row.BucketsStatus, row.Buckets, row.BucketRequests = statusOK, &n, &total
	}
	return row
}

func runRow(ctx context.Context, src *promql.Source, q canary.Query, rules []string) queryRow {
	row := queryRow{Metric: q.Metric, Track: q.Track, Window: promql.FormatWindow(q.Window), Rules: rules}
	e, err := src.Exprs(q)
	if err != nil {
		row.Status, row.SamplesStatus, row.Error = statusError, statusError, err.Error()
		row.errs = append(row.errs, err)
		return row
	}
	row.Name, row.Expr, row.RequestsExpr, row.BucketsExpr = e.Name, e.Value, e.Requests, e.Buckets
	var req promql.Value
	var reqErr error
	var buckets []canary.LatencyBucket
	var bucketsErr error
	var wg sync.WaitGroup
	wg.Go(func() { req, reqErr = src.Instant(ctx, promql.QueryRequests, e.Requests, q.At) })
	if e.Buckets != "" {
		wg.Go(func() { buckets, bucketsErr = src.Buckets(ctx, promql.QueryLatencyBuckets, e.Buckets, q.At) })
	}
	val, valErr := src.Instant(ctx, e.Name, e.Value, q.At)
	wg.Wait()
	if e.Buckets != "" {
		switch {
		case bucketsErr != nil:
			row.BucketsStatus, row.BucketsError = statusError, bucketsErr.Error()
			row.errs = append(row.errs, bucketsErr)
		case len(buckets) == 0:
			row.BucketsStatus = statusNoData
		default:
			n, total := countBuckets(buckets)
			row.BucketsStatus, row.Buckets, row.BucketRequests = statusOK, &n, &total
		}
	}
	switch {
	case valErr != nil:
		row.Status, row.Error = statusError, valErr.Error()
		row.errs = append(row.errs, valErr)
	case val.NoData:
		row.Status = statusNoData
	default:
		row.Status, row.Value = statusOK, &val.V
	}
	switch {
	case reqErr != nil:
		row.SamplesStatus, row.SamplesError = statusError, reqErr.Error()
		row.errs = append(row.errs, reqErr)
	case req.NoData:
		row.SamplesStatus = statusNoData
	default:
		n := int64(max(req.V, 0) + 0.5)
		row.SamplesStatus, row.Samples = statusOK, &n
	}
	return row
}

// countBuckets returns how many latency buckets hold requests, and how
// many requests they hold.
func countBuckets(buckets []canary.LatencyBucket) (n int, total int64) {
	for _, b := range buckets {
		if b.Count > 0 {
			n++
			total += b.Count
		}
	}
	return n, total
}

// print writes the report as a table, then the errors and hints.
func (r *queryReport) print(w io.Writer, exprs bool) {
	fmt.Fprintf(w, "rollout %s (namespace %s), %s %s, at %s\n\n", r.Rollout, r.Namespace, sourceTitle(r.Source), r.Address,
		r.At.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tWINDOW\tTRACK\tVALUE\tSAMPLES\tSTATUS\tRULES")
	nodata := false
	for _, q := range r.Queries {
		value, samples := q.Status, q.SamplesStatus
		if q.Value != nil {
			value = formatMetric(q.Metric, *q.Value)
		}
		if q.Samples != nil {
			samples = fmt.Sprint(*q.Samples)
		}
		nodata = nodata || q.Status == statusNoData || q.SamplesStatus == statusNoData
		status := q.Status
		switch {
		case q.Buckets != nil:
			status += fmt.Sprintf(", histogram %d buckets, %d requests", *q.Buckets, *q.BucketRequests)
		case q.BucketsStatus != "":
			status += ", histogram " + q.BucketsStatus
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", q.Metric, q.Window, q.Track, value, samples, status,
			strings.Join(q.Rules, "; "))
	}
	_ = tw.Flush()
	if exprs {
		fmt.Fprintln(w)
		for _, q := range r.Queries {
			fmt.Fprintf(w, "%s %s %s:\n  %s: %s\n", q.Metric, q.Window, q.Track, q.Name, q.Expr)
			if q.Name != "requests" { // an API source's requestRate row sends the requests query only
				fmt.Fprintf(w, "  requests: %s\n", q.RequestsExpr)
			}
			if q.BucketsExpr != "" {
				fmt.Fprintf(w, "  latencyBuckets: %s\n", q.BucketsExpr)
			}
		}
	}
	if nodata {
		fmt.Fprintln(w, "\nnodata: the query returned no series or NaN: no requests on that track in the window (a canary at weight 0), or labels that match nothing. Rules are not judged on no data.")
	}
	var errs []string
	for _, q := range r.Queries {
		if q.Error != "" {
			errs = append(errs, fmt.Sprintf("%s %s %s: %s", q.Metric, q.Window, q.Track, q.Error))
		}
		if q.SamplesError != "" && q.SamplesError != q.Error {
			errs = append(errs, fmt.Sprintf("%s %s %s samples: %s", q.Metric, q.Window, q.Track, q.SamplesError))
		}
		if q.BucketsError != "" {
			errs = append(errs, fmt.Sprintf("%s %s %s histogram: %s", q.Metric, q.Window, q.Track, q.BucketsError))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nerrors:\n  %s\n", strings.Join(errs, "\n  "))
	}
}

// formatMetric writes a value in the unit rules use for metric.
func formatMetric(m canary.Metric, v float64) string {
	if m.Kind() == canary.KindNumber {
		return fmt.Sprintf("%.2f/s", v)
	}
	return canary.FormatValue(m.Kind(), v)
}

// err is the command's result: invalid when a query is wrong, unavailable
// when Prometheus failed, nil when every query answered.
func (r *queryReport) err() error {
	failed, bad := 0, false
	for _, q := range r.Queries {
		if len(q.errs) > 0 {
			failed++
		}
		for _, e := range q.errs {
			bad = bad || errors.Is(e, promql.ErrBadQuery) || errors.Is(e, promql.ErrSeveralSeries) ||
				errors.Is(e, promql.ErrUnknownMetric) || errors.Is(e, metricsrc.ErrBadQuery) ||
				errors.Is(e, metricsrc.ErrSeveralSeries) || errors.Is(e, metricsrc.ErrUnknownMetric)
		}
	}
	switch {
	case failed == 0:
		return nil
	case bad:
		return canary.Errorf(canary.EINVALID, "%d of %d rows failed: a query template is wrong (see the errors above)", failed, len(r.Queries))
	}
	return canary.Errorf(canary.EUNAVAILABLE, "%d of %d rows failed: %s %s did not answer (see the errors above)", failed, len(r.Queries), sourceTitle(r.Source), r.Address)
}

// sourceTitle names a source kind in the report: Prometheus, InfluxDB…
func sourceTitle(kind string) string {
	switch kind {
	case "prometheus", "":
		return "Prometheus"
	case "influxdb":
		return "InfluxDB"
	case "graphite":
		return "Graphite"
	case "datadog":
		return "Datadog"
	case "cloudwatch":
		return "CloudWatch"
	case "newRelic":
		return "New Relic"
	}
	return kind
}
