package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// series is one measured quantity: a metric over a window (and, for burn,
// whether it is relative to the baseline), as the rules judge it.
type series struct {
	metric   canary.Metric
	window   time.Duration
	baseline bool
}

// stat sums up one series over one step.
type stat struct {
	op                       string // "above" or "below": what worse means
	thresholds               []string
	canary, canaryWorst      float64
	hasCanary                bool
	stable, stableWorst      float64
	hasStable                bool
	evaluations, judged, bad int
}

// stepStats are the series of one step, in the plan's rule order.
type stepStats struct {
	step  int
	order []series
	stats map[series]*stat
}

// seriesOf is the series an evaluation belongs to.
func (rep *report) seriesOf(e canary.Evaluation) series {
	return series{metric: e.Metric, window: e.Window, baseline: rep.vsBaseline[e.Rule]}
}

// stepStats gathers the evaluations of every step traffic reached.
func (rep *report) stepStats() []*stepStats {
	var out []*stepStats
	byStep := map[int]*stepStats{}
	for _, ev := range rep.evals {
		ss := byStep[ev.Step]
		if ss == nil {
			ss = &stepStats{step: ev.Step, stats: map[series]*stat{}}
			byStep[ev.Step] = ss
			out = append(out, ss)
		}
		groups := map[series][]canary.Evaluation{}
		var keys []series
		for _, e := range ev.Evaluations {
			k := rep.seriesOf(e)
			if groups[k] == nil {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], e)
		}
		for _, k := range keys {
			st := ss.stats[k]
			if st == nil {
				st = &stat{op: groups[k][0].Op}
				ss.stats[k] = st
				ss.order = append(ss.order, k)
			}
			st.add(groups[k])
		}
	}
	slices.SortStableFunc(out, func(a, b *stepStats) int { return a.step - b.step })
	return out
}

// add takes in one evaluation of the rules of one series, which share
// their measurement.
func (st *stat) add(evals []canary.Evaluation) {
	st.evaluations++
	for _, e := range evals {
		th := opSymbol(e.Op) + " " + canary.FormatValue(e.Metric.Kind(), e.Threshold)
		if !slices.Contains(st.thresholds, th) {
			st.thresholds = append(st.thresholds, th)
		}
	}
	e := evals[0]
	if !e.Verdict.Judged() {
		return
	}
	st.judged++
	for _, x := range evals {
		if x.Verdict == canary.VerdictBreach {
			st.bad++
			break
		}
	}
	st.canary, st.canaryWorst = e.Value, worse(st.op, st.canaryWorst, e.Value, st.hasCanary)
	st.hasCanary = true
	if e.Stable != nil {
		st.stable, st.stableWorst = *e.Stable, worse(st.op, st.stableWorst, *e.Stable, st.hasStable)
		st.hasStable = true
	}
}

// worse is the worse of the worst so far and v: the higher for a rule
// that breaches above its threshold, the lower for one below.
func worse(op string, worst, v float64, had bool) float64 {
	switch {
	case !had:
		return v
	case op == "below":
		return min(worst, v)
	}
	return max(worst, v)
}

func opSymbol(op string) string {
	if op == "below" {
		return "<"
	}
	return ">"
}

// metrics is a table per rollout of every series per step: the canary's
// and the stable's last and worst judged values.
func (rep *report) metrics(b *strings.Builder) {
	b.WriteString("## Metrics per step\n\n")
	all := rep.stepStats()
	if len(all) == 0 {
		b.WriteString("No evaluation took place: traffic never reached the canary.\n\n")
		return
	}
	b.WriteString("Canary and stable tracks over each rule's window; *last* is the last judged value in the step, " +
		"*worst* the highest (the lowest for a `below` rule). *Judged* counts the evaluations with enough " +
		"requests to judge; *breached* those above (or below) a threshold. burnRate is the whole service's " +
		"(both tracks), so it shows in the canary column.\n\n")
	b.WriteString("| step | metric | thresholds | canary last | canary worst | stable last | stable worst | judged | breached |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, ss := range all {
		for _, k := range ss.order {
			st := ss.stats[k]
			kind := k.metric.Kind()
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %d/%d | %d |\n",
				rep.stepLabel(ss.step), rep.seriesName(k, ss), strings.Join(st.thresholds, ", "),
				value(kind, st.canary, st.hasCanary), value(kind, st.canaryWorst, st.hasCanary),
				value(kind, st.stable, st.hasStable), value(kind, st.stableWorst, st.hasStable),
				st.judged, st.evaluations, st.bad)
		}
	}
	b.WriteString("\n")
}

// seriesName is "latencyP95", with the window when a metric is measured
// over several, and "vs baseline" for relative burn.
func (rep *report) seriesName(k series, ss *stepStats) string {
	s := string(k.metric)
	if k.metric == canary.MetricBurnRate {
		s += " (service)"
	}
	if k.baseline {
		s += " vs baseline"
	}
	for _, o := range ss.order {
		if o.metric == k.metric && o.window != k.window {
			return s + " over " + canary.FormatDuration(k.window)
		}
	}
	return s
}

func value(kind canary.QuantityKind, v float64, ok bool) string {
	if !ok {
		return "—"
	}
	if kind == canary.KindNumber {
		return canary.FormatValue(kind, v) + "/s"
	}
	return canary.FormatValue(kind, v)
}
