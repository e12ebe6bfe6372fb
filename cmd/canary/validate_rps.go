package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/analysis"
	"github.com/canary-dev/canary/engine"
	"github.com/spf13/cobra"
)

// latencySigma is the spread of log-latencies the latency arithmetic
// assumes (a lognormal whose P95 is 2.3 times its median).
const latencySigma = 0.5

// addExpectedRPSFlag adds --expected-rps to validate and returns its
// value (0: not given).
func addExpectedRPSFlag(c *cobra.Command) *float64 {
	return c.Flags().Float64("expected-rps", 0,
		"the service's requests per second: say per rule whether the steps' weights and holds gather enough requests to decide")
}

// sizeStep is one weighted step of a plan, for the arithmetic.
type sizeStep struct {
	label  string
	weight float64 // canary share, 0..1
	hold   time.Duration
}

// stepSize is what one rule's arithmetic says at one step: the traffic
// fact it stands on (shared by the rules with the same window, so printed
// once per step) and the rule's own verdict.
type stepSize struct {
	fact, verdict string
	ok            bool
}

// ruleSize is one rule's arithmetic: lines about the rule as a whole and
// one stepSize per step (none for a rule without a sample size).
type ruleSize struct {
	head  []string
	steps []stepSize
}

// undecided names the steps at which the rule cannot decide ("": none).
func (r ruleSize) undecided(steps []sizeStep) string {
	var at []string
	for j, s := range r.steps {
		if !s.ok {
			at = append(at, steps[j].label)
		}
	}
	return strings.Join(at, ", ")
}

// writeSampleSize prints whether the plan's weights and holds gather
// enough requests at rps to decide: first each rule's verdict (ok or
// CANNOT DECIDE) with what holds at every step, then per step its traffic
// once and each rule's verdict under it. It uses the arithmetic the
// engine decides with (package analysis). It returns the number of rules
// that cannot decide at some step.
func writeSampleSize(w io.Writer, p *canary.Plan, rps float64) int {
	var steps []sizeStep
	for i, s := range p.Spec.Steps {
		if s.Weight < 100 {
			steps = append(steps, sizeStep{fmt.Sprintf("step %d (%d%%)", i+1, s.Weight), float64(s.Weight) / 100, s.Hold.D()})
		}
	}
	fmt.Fprintf(w, "  at %s requests/s (the canary gets its step's weight of them):\n", num(rps))
	sizes := make([]ruleSize, len(p.Spec.Rules))
	bad := 0
	for i, r := range p.Spec.Rules {
		sizes[i] = ruleSampleSize(p, r, rps, steps)
		mark := "ok"
		if at := sizes[i].undecided(steps); at != "" {
			mark, bad = "CANNOT DECIDE at "+at, bad+1
		}
		fmt.Fprintf(w, "  %s: %s\n", r.DisplayName(), mark)
		for _, l := range sizes[i].head {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	for j, s := range steps {
		writeStepSize(w, p, s, j, sizes)
	}
	return bad
}

// writeStepSize prints step j: the fact most of its rules share, once,
// then each rule's verdict (with its own fact when it differs).
func writeStepSize(w io.Writer, p *canary.Plan, s sizeStep, j int, sizes []ruleSize) {
	count := map[string]int{}
	common := ""
	for _, rs := range sizes {
		if j < len(rs.steps) {
			f := rs.steps[j].fact
			if count[f]++; count[f] > count[common] {
				common = f
			}
		}
	}
	head := fmt.Sprintf("  %s, %s hold", s.label, canary.FormatDuration(s.hold))
	if common != "" {
		head += ": " + common
	}
	fmt.Fprintln(w, head)
	for i, rs := range sizes {
		if j >= len(rs.steps) {
			continue
		}
		st := rs.steps[j]
		line := st.verdict
		if st.fact != common {
			line = st.fact + "; " + line
		}
		if !st.ok {
			line = "CANNOT DECIDE: " + line
		}
		fmt.Fprintf(w, "    %s: %s\n", p.Spec.Rules[i].DisplayName(), line)
	}
}

// ruleSampleSize is one rule's arithmetic at every step.
func ruleSampleSize(p *canary.Plan, r canary.Rule, rps float64, steps []sizeStep) ruleSize {
	switch {
	case r.Compare == canary.CompareBaseline && r.Metric == canary.MetricErrorRate:
		return errorBaselineSize(p, r, rps, steps)
	case r.Compare == canary.CompareBaseline:
		return latencyBaselineSize(p, r, rps, steps)
	case r.Metric == canary.MetricRequestRate:
		return ruleSize{head: []string{"judges traffic itself: no sample size"}}
	}
	return thresholdSize(p, r, rps, steps)
}

// windowFact is the canary requests of a step in one window of win.
func windowFact(rps float64, s sizeStep, win time.Duration) string {
	return fmt.Sprintf("%s canary requests per %s window", num(rps*s.weight*win.Seconds()), canary.FormatDuration(win))
}

// thresholdSize: per step, what a threshold rule's windows hold and, for
// a rule judged with confidence, the proportion that fires it within the
// step's hold 4 times in 5 — the engine's own arithmetic
// (engine.AdviseThreshold: its pooling, its bounds and for). A rule
// judged by point needs minRequests canary requests per window.
func thresholdSize(p *canary.Plan, r canary.Rule, rps float64, steps []sizeStep) ruleSize {
	var rs ruleSize
	for _, s := range steps {
		a := engine.AdviseThreshold(p, r, rps*s.weight, rps, s.hold, analysis.Power)
		if !a.Proportion {
			rs.steps = append(rs.steps, pointSize(p, r, rps, s))
			continue
		}
		st := stepSize{fact: windowFact(rps, s, r.Window.D()), ok: true}
		minReq := p.Spec.Analysis.MinRequests
		switch {
		case !a.Enough:
			st.fact += fmt.Sprintf(", fewer than minRequests (%d) even over %d windows", minReq, a.Pooled)
			st.verdict, st.ok = fmt.Sprintf("it cannot pass (only decisive evidence breaches it); a window of %s would do",
				windowFor(float64(minReq), rps*s.weight, p.Spec.Analysis.Interval.D())), false
		case a.Pooled > 1:
			st.fact += fmt.Sprintf(", pooled over %d windows to reach minRequests (%d)", a.Pooled, minReq)
		}
		st.verdict = joinVerdict(st.verdict, thresholdVerdict(p, r, s, a))
		rs.steps = append(rs.steps, st)
	}
	return rs
}

// joinVerdict joins two parts of a verdict with "; ".
func joinVerdict(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// thresholdVerdict says what fires a rule judged with confidence within
// step s's hold.
func thresholdVerdict(p *canary.Plan, r canary.Rule, s sizeStep, a engine.ThresholdAdvice) string {
	q, latency := r.Metric.Quantile()
	var what string
	switch {
	case r.Metric == canary.MetricBurnRate:
		what = fmt.Sprintf("a service burn of %.1fx", a.Fires/a.Threshold*r.Above.Value)
	case latency:
		what = fmt.Sprintf("%s of requests slower than %s (%s at %s is %s)", pct1(a.Fires), r.Above.Text,
			r.Metric, r.Above.Text, canary.FormatPercent(1-q))
	default:
		what = "a 5xx rate of " + pct1(a.Fires)
	}
	switch {
	case s.hold < time.Duration(a.Breaches-1)*p.Spec.Analysis.Interval.D():
		return fmt.Sprintf("its for (%d breaching evaluations in a row) is longer than the %s hold: it fires only while the step waits for it",
			a.Breaches, canary.FormatDuration(s.hold))
	case math.IsInf(a.Fires, 1):
		return fmt.Sprintf("nothing fires it within the %s hold (%d breaching evaluations in a row)", canary.FormatDuration(s.hold), a.Breaches)
	}
	return fmt.Sprintf("%s fires it within the %s hold %d times in 5 (%d breaching evaluations in a row, %s confidence)",
		what, canary.FormatDuration(s.hold), int(math.Round(analysis.Power*5)), a.Breaches, pctText(a.Confidence))
}

// pointSize is a judge: point rule's verdict at step s, from the engine's
// engine.AdvisePoint: each window needs minRequests canary requests (and
// a latency quantile enough requests beyond it); an errorRate threshold
// is crossed reliably from the rate that exceeds it in Power of windows.
func pointSize(p *canary.Plan, r canary.Rule, rps float64, s sizeStep) stepSize {
	a := engine.AdvisePoint(p, r, rps*s.weight)
	n := a.Requests
	st := stepSize{fact: windowFact(rps, s, r.Window.D()), ok: true}
	iv := p.Spec.Analysis.Interval.D()
	switch {
	case int64(n) < a.MinRequests:
		st.verdict, st.ok = fmt.Sprintf("need %d (minRequests): insufficient; a window of %s would do", a.MinRequests,
			windowFor(float64(a.MinRequests), rps*s.weight, iv)), false
	case int64(n) < a.Need:
		q, _ := r.Metric.Quantile()
		st.verdict = fmt.Sprintf("its %s stands on %s requests beyond it (want %d in the window for %d: a window of %s)",
			r.Metric, num(n*(1-q)), a.Need, analysis.TailRequests, windowFor(float64(a.Need), rps*s.weight, iv))
	case a.Fires > 0:
		st.verdict = fmt.Sprintf("a 5xx rate of %.2f%% breaches in %d%% of windows", 100*a.Fires, int(analysis.Power*100))
	default:
		st.verdict = "enough requests per window"
	}
	return st
}

// windowFor is the window (in whole intervals) that gathers need requests
// at perSecond.
func windowFor(need, perSecond float64, interval time.Duration) string {
	if perSecond <= 0 {
		return "none (no traffic)"
	}
	d := time.Duration(need / perSecond * float64(time.Second))
	return canary.FormatDuration(max((d+interval-1)/interval*interval, interval))
}

// errorBaselineSize: the sequential test of a step must first show a
// canary as good as the stable within worseBy (the hold extends until
// then), and detects by the end of the hold a difference of some size.
func errorBaselineSize(p *canary.Plan, r canary.Rule, rps float64, steps []sizeStep) ruleSize {
	tol := r.WorseBy.Value
	conf := engine.ErrorTestConfidence(p, r)
	tau := analysis.MixtureScale(tol)
	// A stable that meets its objective exactly (plan/defaults.go set it).
	p0 := 1 - float64(p.Spec.SLO.Objective)
	ext := p.Spec.Analysis.MaxHoldExtension.D()
	rs := ruleSize{head: []string{fmt.Sprintf("each of its tests at %s confidence; assumes the stable fails %s of requests (1 − slo.objective)", pctText(conf), canary.FormatPercent(p0))}}
	for _, s := range steps {
		canaryRPS, ratio := rps*s.weight, (1-s.weight)/s.weight
		pass := analysis.RequestsToPass(ratio, p0, tol, conf, tau)
		passAfter := time.Duration(pass / canaryRPS * float64(time.Second))
		n := canaryRPS * s.hold.Seconds()
		st := stepSize{fact: fmt.Sprintf("%s canary requests in the hold", num(n)), ok: true}
		st.verdict = fmt.Sprintf("detecting +%s by its end", points(analysis.DetectableErrorDiff(n, n*ratio, p0, tol, conf, tau)))
		limit := s.hold
		if ext > 0 {
			limit = ext
		}
		switch {
		case math.IsInf(pass, 1) || passAfter > limit:
			st.ok = false
			st.verdict += fmt.Sprintf("; a canary like the stable passes only after %s, past the hold's extension (%s): the step pauses; raise the weight or analysis.maxHoldExtension", dur(passAfter, pass), canary.FormatDuration(limit))
		default:
			st.verdict += fmt.Sprintf("; a canary like the stable passes within %s (4 times in 5), so the step takes up to %s", dur(passAfter, pass),
				canary.FormatDuration((s.hold + passAfter).Round(time.Second)))
		}
		target := 2 * tol
		if d := holdToDetect(canaryRPS, ratio, p0, target, tol, conf, tau); d > s.hold {
			st.verdict += fmt.Sprintf("; to detect +%s (twice worseBy) hold %s", points(target), canary.FormatDuration(d))
		}
		rs.steps = append(rs.steps, st)
	}
	return rs
}

// holdToDetect is the time at canaryRPS after which a difference of
// target is detected with Power.
func holdToDetect(canaryRPS, ratio, p0, target, tol, conf, tau float64) time.Duration {
	lo, hi := 1.0, 1.0
	det := func(n float64) bool { return analysis.DetectableErrorDiff(n, n*ratio, p0, tol, conf, tau) <= target }
	for !det(hi) {
		lo, hi = hi, hi*2
		if hi > 1e13 {
			return time.Duration(math.MaxInt64)
		}
	}
	for hi-lo > 1 {
		mid := math.Floor((lo + hi) / 2)
		if det(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return time.Duration(hi / canaryRPS * float64(time.Second)).Round(time.Second)
}

// latencyBaselineSize: with histograms the rank test compares every
// request of the window; without, one quantile per interval, which needs
// enough intervals per window and enough requests per interval.
func latencyBaselineSize(p *canary.Plan, r canary.Rule, rps float64, steps []sizeStep) ruleSize {
	q, _ := r.Metric.Quantile()
	conf := float64(r.Confidence) // plan/defaults.go set it for compare: baseline
	win, iv := r.Window.D(), p.Spec.Analysis.Interval.D()
	k := int(win / iv)
	minK := analysis.MinIntervals(conf)
	var rs ruleSize
	if k < minK {
		rs.head = append(rs.head, fmt.Sprintf("per interval (a source without histograms): %d interval pairs per window, need %d for %s: use window: %s",
			k, minK, pctText(conf), canary.FormatDuration(time.Duration(minK)*iv)))
	} else {
		rs.head = append(rs.head, fmt.Sprintf("per interval (a source without histograms): %d interval pairs per window (need %d)", k, minK))
	}
	need := analysis.QuantileRequests(q)
	for _, s := range steps {
		n, m := rps*s.weight*win.Seconds(), rps*(1-s.weight)*win.Seconds()
		st := stepSize{fact: windowFact(rps, s, win), ok: k >= 1}
		if n < float64(p.Spec.Analysis.MinRequests) {
			st.ok = false
			st.verdict = fmt.Sprintf("need %d (minRequests): insufficient", p.Spec.Analysis.MinRequests)
		} else if r.WorseBy.Kind == canary.KindPercent {
			st.verdict = fmt.Sprintf("with histograms it detects latencies %.0f%% higher (for log-latencies of σ %.1f)",
				100*analysis.DetectableShift(n, m, latencySigma, r.WorseBy.Value, conf), latencySigma)
		}
		if perIv := rps * s.weight * iv.Seconds(); perIv < float64(need) {
			st.verdict = joinVerdict(st.verdict, fmt.Sprintf("per interval only %s requests, need %d for a %s: compares only with histograms", num(perIv), need, r.Metric))
		}
		if st.verdict == "" {
			st.verdict = "enough requests per window"
		}
		rs.steps = append(rs.steps, st)
	}
	return rs
}

func num(v float64) string {
	switch {
	case math.IsInf(v, 0):
		return "∞"
	case v >= 100:
		s := fmt.Sprintf("%.0f", v)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func points(v float64) string {
	if math.IsInf(v, 1) {
		return "nothing (too few requests)"
	}
	return strings.TrimSuffix(canary.FormatPercent(v), "%") + "pp"
}

func pctText(v float64) string { return canary.FormatPercent(v) }

// pct1 is a ratio as a percentage with at most one decimal: 35.9%.
func pct1(v float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", 100*v), "0"), ".") + "%"
}

func dur(d time.Duration, n float64) string {
	if math.IsInf(n, 1) {
		return "never"
	}
	return canary.FormatDuration(d.Round(time.Second))
}
