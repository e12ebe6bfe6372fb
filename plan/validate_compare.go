package plan

import (
	"strings"
	"time"

	canary "github.com/canary-dev/canary"
)

// BaselineLatencyWindowIntervals is the default window of a latency rule
// with compare: baseline, in analysis intervals: enough per-interval
// values for the rank test to reach 99.9% confidence.
const BaselineLatencyWindowIntervals = 10

// defaultWindow is the window a rule gets when it names none.
func defaultWindow(r *canary.Rule, interval time.Duration) time.Duration {
	if _, latency := r.Metric.Quantile(); latency && r.Compare == canary.CompareBaseline {
		return BaselineLatencyWindowIntervals * interval
	}
	return interval
}

// compare checks a rule with compare set: a baseline rule on errorRate
// or a latency, with a tolerance in the metric's unit and no threshold.
func (v *validator) compare(r *canary.Rule, path string) {
	if r.Compare != canary.CompareBaseline {
		v.add(path+".compare", "%q is not a comparison: write baseline (the stable track over the same time), or remove compare for a threshold", r.Compare)
		return
	}
	_, latency := r.Metric.Quantile()
	switch {
	case r.Metric == canary.MetricBurnRate:
		v.add(path+".compare", "burnRate is the whole service's: compare its burn with vs: stable (or vs: baseline) and a threshold such as above: 2x, and remove compare")
	case r.Metric == canary.MetricRequestRate:
		v.add(path+".compare", "requestRate follows the weight, so it cannot be compared with the stable's: use a threshold (below: N)")
	}
	for _, t := range []struct {
		q    canary.Quantity
		name string
	}{{r.Above, "above"}, {r.Below, "below"}} {
		if !t.q.IsZero() {
			v.add(path+"."+t.name, "a rule with compare: baseline has no threshold: remove %s and say with worseBy how much worse than the stable the canary may be", t.name)
		}
	}
	v.worseBy(r, path, latency)
	if c := r.Confidence; c != 0 && (c <= 0.5 || c >= 1) {
		v.add(path+".confidence", "%s is not a confidence: write a percentage above 50%% and below 100%%, e.g. 99%% (or omit it for 99%%)", c)
	}
	if r.Metric == canary.MetricErrorRate && r.Window != 0 && r.Window.D() != v.interval {
		v.add(path+".window", "an errorRate rule with compare: baseline counts every request since the step started, so it has no window: remove window")
	}
}

// worseBy checks the tolerance's unit: percentage points for errorRate,
// a duration or a percentage for a latency.
func (v *validator) worseBy(r *canary.Rule, path string, latency bool) {
	q := r.WorseBy
	path += ".worseBy"
	switch {
	case q.IsZero():
		v.add(path, "required with compare: baseline: write how much worse than the stable the canary may be, e.g. worseBy: 0.5pp for errorRate or worseBy: 20%% for a latency")
	case r.Metric == canary.MetricErrorRate && q.Kind != canary.KindPercent:
		v.add(path, "%q is %s, but errorRate's tolerance is a difference of error rates: write percentage points, e.g. 0.5pp", q.Text, kindName[q.Kind])
	case latency && strings.HasSuffix(q.Text, "pp"):
		v.add(path, "%q is in percentage points, but %s's tolerance is a duration (50ms) or a relative change (20%%)", q.Text, r.Metric)
	case latency && q.Kind != canary.KindDuration && q.Kind != canary.KindPercent:
		v.add(path, "%q is %s, but %s's tolerance is a duration (50ms) or a relative change (20%%)", q.Text, kindName[q.Kind], r.Metric)
	}
}

// shortWindow checks a multi-window burn rule's second window.
func (v *validator) shortWindow(r *canary.Rule, path string) {
	sw := r.ShortWindow
	if sw == 0 {
		return
	}
	path += ".shortWindow"
	if r.Metric != canary.MetricBurnRate {
		v.add(path, "only burnRate rules have a second window: remove shortWindow")
		return
	}
	v.atLeastInterval(path, sw, "a window must span at least one interval")
	w := r.Window.D()
	if w == 0 {
		w = v.interval
	}
	if sw.D() >= w {
		v.add(path, "%s is not shorter than the window (%s): the short window confirms the burn is still going on, e.g. window: 1h, shortWindow: 5m",
			sw, canary.FormatDuration(w))
	}
}
