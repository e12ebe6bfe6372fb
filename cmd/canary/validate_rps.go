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
	"gonum.org/v1/gonum/stat/distuv"
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

// step is one weighted step of a plan, for the arithmetic.
type sizeStep struct {
	label  string
	weight float64 // canary share, 0..1
	hold   time.Duration
}

// writeSampleSize prints, per rule, whether the plan's weights and holds
// gather enough requests at rps to decide, the smallest regression each
// step can detect, and a window or hold that would suffice. It uses the
// arithmetic the engine decides with (package analysis). It returns the
// number of rules that cannot decide at some step.
func writeSampleSize(w io.Writer, p *canary.Plan, rps float64) int {
	var steps []sizeStep
	for i, s := range p.Spec.Steps {
		if s.Weight < 100 {
			steps = append(steps, sizeStep{fmt.Sprintf("step %d (%d%%)", i+1, s.Weight), float64(s.Weight) / 100, s.Hold.D()})
		}
	}
	fmt.Fprintf(w, "  at %s requests/s (the canary gets its step's weight of them):\n", num(rps))
	bad := 0
	for _, r := range p.Spec.Rules {
		lines, ok := ruleSampleSize(p, r, rps, steps)
		mark := "ok"
		if !ok {
			mark, bad = "CANNOT DECIDE", bad+1
		}
		fmt.Fprintf(w, "  %s: %s\n", r.DisplayName(), mark)
		for _, l := range lines {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	return bad
}

// ruleSampleSize is one rule's lines and whether it decides at every step.
func ruleSampleSize(p *canary.Plan, r canary.Rule, rps float64, steps []sizeStep) ([]string, bool) {
	switch {
	case r.Compare == canary.CompareBaseline && r.Metric == canary.MetricErrorRate:
		return errorBaselineSize(p, r, rps, steps)
	case r.Compare == canary.CompareBaseline:
		return latencyBaselineSize(p, r, rps, steps)
	case r.Metric == canary.MetricRequestRate:
		return []string{"judges traffic itself: no sample size"}, true
	}
	return thresholdSize(p, r, rps, steps)
}

// thresholdSize: per step, what a threshold rule's windows hold and, for
// a rule judged with confidence, the proportion that fires it within the
// step's hold 4 times in 5 — the engine's own arithmetic
// (engine.AdviseThreshold: its pooling, its bounds and for). A rule
// judged by point needs minRequests canary requests per window.
func thresholdSize(p *canary.Plan, r canary.Rule, rps float64, steps []sizeStep) ([]string, bool) {
	win := r.Window.D()
	minReq := p.Spec.Analysis.MinRequests
	q, latency := r.Metric.Quantile()
	var lines []string
	ok := true
	for _, s := range steps {
		a := engine.AdviseThreshold(p, r, rps*s.weight, rps, s.hold, analysis.Power)
		if !a.Proportion {
			line, good := pointSize(p, r, rps, s)
			lines, ok = append(lines, line), ok && good
			continue
		}
		n := rps * s.weight * win.Seconds()
		line := fmt.Sprintf("%s: %s canary requests per %s window", s.label, num(n), canary.FormatDuration(win))
		switch {
		case !a.Enough:
			ok = false
			line += fmt.Sprintf(", fewer than minRequests (%d) even over %d windows: it cannot pass (only decisive evidence breaches it); a window of %s would do",
				minReq, a.Pooled, windowFor(float64(minReq), rps*s.weight, p.Spec.Analysis.Interval.D()))
		case a.Pooled > 1:
			line += fmt.Sprintf(", pooled over %d windows to reach minRequests (%d)", a.Pooled, minReq)
		}
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
			line += fmt.Sprintf("; its for (%d breaching evaluations in a row) is longer than the %s hold: it fires only while the step waits for it",
				a.Breaches, canary.FormatDuration(s.hold))
		case math.IsInf(a.Fires, 1):
			line += fmt.Sprintf("; nothing fires it within the %s hold (%d breaching evaluations in a row)", canary.FormatDuration(s.hold), a.Breaches)
		default:
			line += fmt.Sprintf("; %s fires it within the %s hold %d times in 5 (%d breaching evaluations in a row, %s confidence)",
				what, canary.FormatDuration(s.hold), int(math.Round(analysis.Power*5)), a.Breaches, pctText(a.Confidence))
		}
		lines = append(lines, line)
	}
	return lines, ok
}

// pointSize is a judge: point rule's line at step s: each window needs
// minRequests canary requests (and a latency quantile enough requests
// beyond it); an errorRate threshold is crossed reliably from the rate
// that exceeds it in Power of windows.
func pointSize(p *canary.Plan, r canary.Rule, rps float64, s sizeStep) (string, bool) {
	win := r.Window.D()
	need := int64(p.Spec.Analysis.MinRequests)
	q, latency := r.Metric.Quantile()
	if latency && analysis.QuantileRequests(q) > need {
		need = analysis.QuantileRequests(q)
	}
	n := rps * s.weight * win.Seconds()
	line := fmt.Sprintf("%s: %s canary requests per %s window", s.label, num(n), canary.FormatDuration(win))
	switch {
	case int64(n) < int64(p.Spec.Analysis.MinRequests):
		return line + fmt.Sprintf(", need %d (minRequests): insufficient; a window of %s would do", p.Spec.Analysis.MinRequests,
			windowFor(float64(p.Spec.Analysis.MinRequests), rps*s.weight, p.Spec.Analysis.Interval.D())), false
	case int64(n) < need:
		line += fmt.Sprintf("; its %s stands on %s requests beyond it (want %d in the window for %d: a window of %s)",
			r.Metric, num(n*(1-q)), need, analysis.TailRequests, windowFor(float64(need), rps*s.weight, p.Spec.Analysis.Interval.D()))
	case r.Metric == canary.MetricErrorRate && r.Below.IsZero():
		line += fmt.Sprintf(": a 5xx rate of %.2f%% breaches in %d%% of windows", 100*rateDetected(r.Above.Value, n), int(analysis.Power*100))
	}
	return line, true
}

// rateDetected is the error rate whose window rate exceeds threshold t
// with probability Power over n requests (normal approximation).
func rateDetected(t, n float64) float64 {
	z := distuv.UnitNormal.Quantile(analysis.Power)
	lo, hi := t, 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if mid-z*math.Sqrt(mid*(1-mid)/n) > t {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
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
func errorBaselineSize(p *canary.Plan, r canary.Rule, rps float64, steps []sizeStep) ([]string, bool) {
	tol := r.WorseBy.Value
	conf := engine.ErrorTestConfidence(p, r)
	tau := analysis.MixtureScale(tol)
	// A stable that meets its objective exactly (plan/defaults.go set it).
	p0 := 1 - float64(p.Spec.SLO.Objective)
	ext := p.Spec.Analysis.MaxHoldExtension.D()
	lines := []string{fmt.Sprintf("each of its tests at %s confidence; assumes the stable fails %s of requests (1 − slo.objective)", pctText(conf), canary.FormatPercent(p0))}
	ok := true
	for _, s := range steps {
		canaryRPS, ratio := rps*s.weight, (1-s.weight)/s.weight
		pass := analysis.RequestsToPass(ratio, p0, tol, conf, tau)
		passAfter := time.Duration(pass / canaryRPS * float64(time.Second))
		n := canaryRPS * s.hold.Seconds()
		line := fmt.Sprintf("%s: %s canary requests in the %s hold, detecting +%s by its end", s.label, num(n), canary.FormatDuration(s.hold),
			points(analysis.DetectableErrorDiff(n, n*ratio, p0, tol, conf, tau)))
		limit := s.hold
		if ext > 0 {
			limit = ext
		}
		switch {
		case math.IsInf(pass, 1) || passAfter > limit:
			ok = false
			line += fmt.Sprintf("; a canary like the stable passes only after %s, past the hold's extension (%s): the step pauses; raise the weight or analysis.maxHoldExtension", dur(passAfter, pass), canary.FormatDuration(limit))
		default:
			line += fmt.Sprintf("; a canary like the stable passes within %s (4 times in 5), so the step takes up to %s", dur(passAfter, pass),
				canary.FormatDuration((s.hold + passAfter).Round(time.Second)))
		}
		target := 2 * tol
		if d := holdToDetect(canaryRPS, ratio, p0, target, tol, conf, tau); d > s.hold {
			line += fmt.Sprintf("; to detect +%s (twice worseBy) hold %s", points(target), canary.FormatDuration(d))
		}
		lines = append(lines, line)
	}
	return lines, ok
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
func latencyBaselineSize(p *canary.Plan, r canary.Rule, rps float64, steps []sizeStep) ([]string, bool) {
	q, _ := r.Metric.Quantile()
	conf := float64(r.Confidence) // plan/defaults.go set it for compare: baseline
	win, iv := r.Window.D(), p.Spec.Analysis.Interval.D()
	k := int(win / iv)
	minK := analysis.MinIntervals(conf)
	ok := true
	var lines []string
	if k < minK {
		lines = append(lines, fmt.Sprintf("per interval (a source without histograms): %d interval pairs per window, need %d for %s: use window: %s",
			k, minK, pctText(conf), canary.FormatDuration(time.Duration(minK)*iv)))
	} else {
		lines = append(lines, fmt.Sprintf("per interval (a source without histograms): %d interval pairs per window (need %d)", k, minK))
	}
	need := analysis.QuantileRequests(q)
	for _, s := range steps {
		n, m := rps*s.weight*win.Seconds(), rps*(1-s.weight)*win.Seconds()
		line := fmt.Sprintf("%s: %s canary requests per %s window", s.label, num(n), canary.FormatDuration(win))
		if n < float64(p.Spec.Analysis.MinRequests) {
			ok = false
			line += fmt.Sprintf(", need %d (minRequests): insufficient", p.Spec.Analysis.MinRequests)
		} else if r.WorseBy.Kind == canary.KindPercent {
			line += fmt.Sprintf("; with histograms it detects latencies %.0f%% higher (for log-latencies of σ %.1f)",
				100*analysis.DetectableShift(n, m, latencySigma, r.WorseBy.Value, conf), latencySigma)
		}
		if perIv := rps * s.weight * iv.Seconds(); perIv < float64(need) {
			line += fmt.Sprintf("; per interval only %s requests, need %d for a %s: compares only with histograms", num(perIv), need, r.Metric)
		}
		lines = append(lines, line)
	}
	return lines, ok && k >= 1
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
