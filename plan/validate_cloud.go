package plan

import (
	"fmt"
	"strings"
	"time"

	canary "github.com/canary-dev/canary"
)

// apiQueries are the query templates of the datadog, cloudwatch and
// newRelic sources.
var apiQueries = []string{"requests", "errors", "latency"}

// cloudMetrics checks analysis.metrics.datadog, cloudwatch and newRelic,
// and that the interval is not shorter than the source's resolution.
func (v *validator) cloudMetrics(a *canary.Analysis, path string) {
	m := a.Metrics
	mpath := path + ".metrics"
	if d := m.Datadog; d != nil {
		p := mpath + ".datadog"
		v.url(p+".address", d.Address, "")
		v.secretRequired(p+".apiKey", d.APIKey, "env:DD_API_KEY")
		v.secretRequired(p+".applicationKey", d.ApplicationKey, "env:DD_APP_KEY")
		v.selector(p+".selector", d.Selector)
		v.nonNegative(p+".timeout", d.Timeout)
		v.apiQueries(p+".queries", d.Queries, "a Datadog metrics query template")
	}
	if n := m.NewRelic; n != nil {
		p := mpath + ".newRelic"
		if n.AccountID <= 0 {
			v.add(p+".accountID", "required: write the New Relic account ID the NRQL runs in, e.g. 1234567")
		}
		if r := strings.ToUpper(n.Region); r != "" && r != "US" && r != "EU" {
			v.add(p+".region", "%q is not a New Relic region: write US or EU (or address for another endpoint)", n.Region)
		}
		v.url(p+".address", n.Address, "")
		v.secretRequired(p+".apiKey", n.APIKey, "env:NEW_RELIC_API_KEY")
		v.selector(p+".selector", n.Selector)
		v.nonNegative(p+".timeout", n.Timeout)
		v.apiQueries(p+".queries", n.Queries, "an NRQL query template")
	}
	if c := m.CloudWatch; c != nil {
		v.cloudWatch(c, mpath+".cloudwatch")
	}
	switch r := v.resolution; {
	case r > 0 && v.interval < r:
		v.add(path+".interval", "%s is shorter than the metrics' resolution (%s, analysis.metrics.%s): a window cannot be shorter than one datapoint, so write at least %s",
			canary.FormatDuration(v.interval), canary.FormatDuration(r), v.resolutionField, canary.FormatDuration(r))
	case r > 0 && v.resolutionSteps && v.interval%r != 0:
		v.notSteps(path+".interval", v.interval)
	}
}

// notSteps refuses a window that is not a whole number of the
// resolution's steps.
func (v *validator) notSteps(path string, d time.Duration) {
	r := v.resolution
	v.add(path, "%s is not a multiple of the metrics' resolution (%s, analysis.metrics.%s): a window reads one point per step, so write %s or %s",
		canary.FormatDuration(d), canary.FormatDuration(r), v.resolutionField, canary.FormatDuration(d/r*r), canary.FormatDuration((d/r+1)*r))
}

func (v *validator) cloudWatch(c *canary.CloudWatchMetrics, p string) {
	v.url(p+".endpoint", c.Endpoint, "")
	v.required(p+".targetGroups.stable", c.TargetGroups.Stable, "the stable track's TargetGroup dimension, e.g. targetgroup/shop-stable/73e2d6bc24d8a067")
	v.required(p+".targetGroups.canary", c.TargetGroups.Canary, "the canary track's TargetGroup dimension, e.g. targetgroup/shop-canary/943f017f100becff")
	if len(c.Queries) < len(apiQueries) {
		v.required(p+".loadBalancer", c.LoadBalancer, "the ALB's LoadBalancer dimension, app/NAME/ID (the end of its ARN)")
	}
	switch d := c.Period.D(); {
	case d < 0:
		v.nonNegative(p+".period", c.Period)
	case d == 0:
	case d%canary.DefaultCloudWatchPeriod != 0 && !isOneOf(fmt.Sprint(d.Seconds()), []string{"1", "5", "10", "30"}):
		v.add(p+".period", "%s is not a CloudWatch period: write 60s or a multiple of it (1s, 5s, 10s or 30s for high-resolution metrics)", c.Period)
	}
	v.nonNegative(p+".timeout", c.Timeout)
	for _, name := range sortedKeys(c.Queries) {
		q, qp := c.Queries[name], p+".queries["+name+"]"
		if !isOneOf(name, apiQueries) {
			v.add(qp, "%q is not a query name: write %s", name, orList(apiQueries))
			continue
		}
		v.required(qp+".namespace", q.Namespace, "the metric's namespace, e.g. AWS/ApplicationELB")
		v.required(qp+".metricName", q.MetricName, "the metric's name, e.g. RequestCount")
	}
}

// selector checks per-track values: stable and canary, not empty.
func (v *validator) selector(p string, sel map[string]string) {
	for _, track := range sortedKeys(sel) {
		spath := p + "[" + track + "]"
		if !isOneOf(track, []string{string(canary.TrackStable), string(canary.TrackCanary)}) {
			v.add(spath, "%q is not a track: write stable or canary", track)
		} else if strings.TrimSpace(sel[track]) == "" {
			v.add(spath, "required: write the track's selector, or remove the entry for the default")
		}
	}
}

func (v *validator) apiQueries(p string, qs map[string]string, what string) {
	for _, name := range sortedKeys(qs) {
		qp := p + "[" + name + "]"
		switch {
		case !isOneOf(name, apiQueries):
			v.add(qp, "%q is not a query name: write %s", name, orList(apiQueries))
		case strings.TrimSpace(qs[name]) == "":
			v.add(qp, "required: write %s, or remove the entry for the built-in one", what)
		}
	}
}

// atLeastResolution checks that a window is not shorter than the metric
// source's resolution.
func (v *validator) atLeastResolution(path string, d canary.Duration) {
	switch r := v.resolution; {
	case d == 0 || r == 0:
	case d.D() < r:
		v.add(path, "%s is shorter than the metrics' resolution (%s, analysis.metrics.%s): write at least %s",
			d, canary.FormatDuration(r), v.resolutionField, canary.FormatDuration(r))
	case v.resolutionSteps && d.D()%r != 0:
		v.notSteps(path, d.D())
	}
}
