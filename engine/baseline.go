package engine

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/analysis"
)

// Baseline rules (compare: baseline) judge the canary against the stable
// track over the same time with a test from package analysis:
//
//   - errorRate: the counts of both tracks since the step started (each
//     evaluation adds the interval just past) in a mixture sequential
//     probability ratio test, always valid however often it is checked,
//     and the same since later starts spread through the hold;
//   - a latency: when the source gives histograms (Measurement.Latency),
//     the signed-rank test on the per-interval Hodges-Lehmann shifts of
//     the canary's latencies over the stable's (analysis.ShiftTest: the
//     interval, not the request, is the unit of independence), else the
//     signed-rank test on the pairs of per-interval quantiles the rule
//     remembers.
//
// Worse beyond worseBy with the rule's confidence is a breach; not worse
// with that confidence a pass; anything in between is insufficient, so a
// step's hold never completes on a comparison too weak to see a problem.

// Comparison data kinds (canary.Comparison.Data).
const (
	dataRequests  = "requests"
	dataIntervals = "intervals"
	dataShifts    = "interval shifts"
)

// baselineQueries are what a baseline rule needs measured: the interval
// just past (error counts, per-interval quantiles) and, for a latency,
// the rule's window (histograms).
func (m *machine) baselineQueries(r canary.Rule) []canary.Query {
	ws := []time.Duration{m.interval()}
	if _, latency := r.Metric.Quantile(); latency && m.window(r) != m.interval() {
		ws = append(ws, m.window(r))
	}
	var qs []canary.Query
	for _, w := range ws {
		for _, t := range []canary.Track{canary.TrackCanary, canary.TrackStable} {
			qs = append(qs, canary.Query{Metric: r.Metric, Track: t, Window: w, At: m.now})
		}
	}
	return qs
}

// errorChains is how many sequential tests of the error rates start in
// each step: one at its start and the others at even spacing through its
// hold. A rollout runs errorChains per step with a hold, each at its
// share of 1 − confidence, so the chance of a false breach in the whole
// rollout stays within 1 − confidence, and a regression that begins late
// is judged on data mostly its own. Tests never span two steps: when the
// weight and the error rates change at once, counts pooled across steps
// would show the canary worse (or better) than the stable when at every
// moment it was not.
const errorChains = 6

// maxChains is the number of error tests a rollout of the plan may run.
func (m *machine) maxChains() int {
	n := 0
	for i := range m.p.Spec.Steps {
		if m.holdOf(i) > 0 {
			n++
		}
	}
	return errorChains * max(n, 1)
}

// evidence returns rule i's baseline evidence.
func (m *machine) evidence(i int) *canary.BaselineEvidence {
	rs := &m.st.Rules[i]
	if rs.Baseline == nil {
		rs.Baseline = &canary.BaselineEvidence{}
	}
	return rs.Baseline
}

// chainSpacing is the time between the starts of a step's error tests.
func (m *machine) chainSpacing() time.Duration {
	hold := m.holdOf(m.st.Step)
	return max(hold/errorChains, m.interval())
}

// addCounts adds an interval's counts to the step's tests, first
// starting a new test when one is due: at the step's first evaluation
// (dropping the previous step's), then every chainSpacing.
func (m *machine) addCounts(b *canary.BaselineEvidence, d canary.ErrorCounts) {
	start := m.now.Add(-m.interval())
	if n := len(b.Counts); n > 0 && b.Counts[n-1].Since.Before(m.st.StepStartedAt) {
		b.Counts = nil
	}
	if n := len(b.Counts); n == 0 || (n < errorChains && !start.Before(b.Counts[n-1].Since.Add(m.chainSpacing()))) {
		b.Counts = append(b.Counts, canary.ErrorCounts{Since: start})
	}
	for k := range b.Counts {
		c := &b.Counts[k]
		c.CanaryRequests += d.CanaryRequests
		c.CanaryErrors += d.CanaryErrors
		c.StableRequests += d.StableRequests
		c.StableErrors += d.StableErrors
	}
}

func (m *machine) confidence(r canary.Rule) float64 {
	if c := float64(r.Confidence); c > 0.5 && c < 1 {
		return c
	}
	return canary.DefaultConfidence
}

// pair returns the canary's and the stable's observations of metric over
// w, or an error verdict's detail when one is missing or failed.
func pair(idx map[obsKey]canary.Observation, metric canary.Metric, w time.Duration) (c, s canary.Observation, problem string) {
	c, okC := idx[obsKey{metric, canary.TrackCanary, w}]
	s, okS := idx[obsKey{metric, canary.TrackStable, w}]
	switch {
	case !okC:
		return c, s, "no measurement of the canary was taken"
	case !okS:
		return c, s, "no measurement of the stable was taken"
	case c.Err != "":
		return c, s, c.Err
	case s.Err != "":
		return c, s, "stable: " + s.Err
	}
	return c, s, ""
}

// judgeBaseline judges rule i, a baseline rule, into ev.
func (m *machine) judgeBaseline(i int, r canary.Rule, idx map[obsKey]canary.Observation, ev *canary.Evaluation) {
	ev.Op = "above"
	if r.Metric == canary.MetricErrorRate {
		m.judgeErrorBaseline(i, r, idx, ev)
		return
	}
	m.judgeLatencyBaseline(i, r, idx, ev)
}

// judgeErrorBaseline adds the interval's error counts to the step's tests
// and judges with them: a breach when any test finds the canary worse, a
// pass when the test since the step started finds it not worse.
func (m *machine) judgeErrorBaseline(i int, r canary.Rule, idx map[obsKey]canary.Observation, ev *canary.Evaluation) {
	c, s, problem := pair(idx, r.Metric, m.interval())
	if problem != "" {
		ev.Verdict, ev.Detail = canary.VerdictError, problem
		return
	}
	b := m.evidence(i)
	m.addCounts(b, intervalCounts(c, s))
	all := b.Counts[0]
	ev.Samples = int64(math.Round(all.CanaryRequests))
	need := float64(max(m.minRequests(), 1))
	if all.CanaryRequests < need || all.StableRequests == 0 {
		ev.Verdict = canary.VerdictInsufficient
		ev.Detail = fmt.Sprintf("%.0f canary and %.0f stable requests since the step started, need %.0f canary requests and some stable ones",
			all.CanaryRequests, all.StableRequests, need)
		return
	}
	tol := r.WorseBy.Value
	// Each test at its share of the error the rule allows.
	conf := 1 - (1-m.confidence(r))/float64(m.maxChains())
	cmp, cnt, err := compareCounts(b.Counts, need, tol, conf)
	if err != nil {
		ev.Verdict, ev.Detail = canary.VerdictError, "compare error rates: "+err.Error()
		return
	}
	stable := cnt.StableErrors / cnt.StableRequests
	ev.Samples = int64(math.Round(cnt.CanaryRequests))
	ev.Value, ev.Stable, ev.Threshold = cnt.CanaryErrors/cnt.CanaryRequests, &stable, stable+tol
	m.decide(r, cmp, dataRequests, false, ev)
}

// intervalCounts are one interval's requests and errors of each track
// (none for a track without data).
func intervalCounts(c, s canary.Observation) canary.ErrorCounts {
	var d canary.ErrorCounts
	if !c.Measurement.NoData {
		d.CanaryRequests, d.CanaryErrors = float64(c.Measurement.Samples), errorCount(c.Measurement)
	}
	if !s.Measurement.NoData {
		d.StableRequests, d.StableErrors = float64(s.Measurement.Samples), errorCount(s.Measurement)
	}
	return d
}

// compareCounts tests each of a step's counts that has enough requests
// and returns the evidence to show with its counts: the test since the
// step started (counts[0]), or the one that found the canary worse.
func compareCounts(counts []canary.ErrorCounts, need, tol, conf float64) (analysis.Comparison, canary.ErrorCounts, error) {
	var worst, first analysis.Comparison
	worstAt := 0
	for k, cnt := range counts {
		if cnt.CanaryRequests < need || cnt.StableRequests == 0 {
			continue
		}
		cmp, err := analysis.CompareErrorRates(analysis.Counts{
			CanaryRequests: cnt.CanaryRequests, CanaryErrors: cnt.CanaryErrors,
			StableRequests: cnt.StableRequests, StableErrors: cnt.StableErrors,
		}, tol, conf, analysis.MixtureScale(tol))
		if err != nil {
			return analysis.Comparison{}, canary.ErrorCounts{}, err
		}
		if k == 0 {
			first, worst = cmp, cmp
		} else if cmp.P < worst.P {
			worst, worstAt = cmp, k
		}
	}
	if worst.Outcome() == analysis.Worse {
		return worst, counts[worstAt], nil
	}
	return first, counts[0], nil
}

// errorCount is a measurement's number of errors: its error ratio times
// its requests, not rounded: a source's count may be fractional (an
// extrapolated increase, or simulate's expected values), and rounding each
// interval's count would lose evidence that accumulates over many (0.09
// errors an interval rounds to none, every interval).
func errorCount(ms canary.Measurement) float64 {
	return ms.Value * float64(ms.Samples)
}

// judgeLatencyBaseline compares the latencies of both tracks over the
// rule's window.
func (m *machine) judgeLatencyBaseline(i int, r canary.Rule, idx map[obsKey]canary.Observation, ev *canary.Evaluation) {
	ci, si, problem := pair(idx, r.Metric, m.interval())
	if problem != "" {
		ev.Verdict, ev.Detail = canary.VerdictError, problem
		return
	}
	m.remember(i, r, ci, si)
	c, s, problem := pair(idx, r.Metric, m.window(r))
	if problem != "" {
		ev.Verdict, ev.Detail = canary.VerdictError, problem
		return
	}
	if c.Measurement.NoData {
		ev.Verdict, ev.Detail = canary.VerdictNoData, "the source returned no data for the canary"
		return
	}
	ev.Samples = c.Measurement.Samples
	ev.Value = c.Measurement.Value
	if !s.Measurement.NoData {
		v := s.Measurement.Value
		ev.Stable = &v
	}
	relative := r.WorseBy.Kind == canary.KindPercent
	if ev.Stable != nil {
		ev.Threshold = *ev.Stable + r.WorseBy.Value
		if relative {
			ev.Threshold = *ev.Stable * (1 + r.WorseBy.Value)
		}
	}
	if len(c.Measurement.Latency) == 0 || len(s.Measurement.Latency) == 0 {
		m.judgeIntervals(i, r, relative, ev)
		return
	}
	m.judgeShifts(i, r, relative, ev)
}

// judgeShifts compares the remembered per-interval shifts of the
// canary's latencies over the stable's (from the sources' histograms)
// with the signed-rank test: the interval is the unit of independence, so
// neither noise both tracks share in an interval nor noise that moves one
// track's whole interval passes for evidence (docs/statistics.md).
func (m *machine) judgeShifts(i int, r canary.Rule, relative bool, ev *canary.Evaluation) {
	if ev.Samples < m.minRequests() {
		ev.Verdict = canary.VerdictInsufficient
		ev.Detail = fmt.Sprintf("%d canary requests in %s, need %d", ev.Samples, canary.FormatDuration(m.window(r)), m.minRequests())
		return
	}
	var shifts []float64
	for _, iv := range m.evidence(i).Intervals {
		if iv.Shift != nil {
			shifts = append(shifts, *iv.Shift)
		}
	}
	if len(shifts) == 0 {
		ev.Verdict = canary.VerdictInsufficient
		ev.Detail = fmt.Sprintf("no interval in the last %s with %d requests on both tracks to compare",
			canary.FormatDuration(m.shiftWindow(r)), shiftRequests)
		return
	}
	cmp, err := analysis.ShiftTest(shifts, r.WorseBy.Value, m.confidence(r), relative)
	if errors.Is(err, analysis.ErrConstant) {
		// Every interval's shift is the tolerance: no evidence either way.
		cmp = analysis.Comparison{Test: analysis.TestIntervalShifts, Tolerance: r.WorseBy.Value, Confidence: m.confidence(r),
			P: 1, Lower: math.Inf(-1), Upper: math.Inf(1), CanaryN: float64(len(shifts)), StableN: float64(len(shifts))}
	} else if err != nil {
		ev.Verdict, ev.Detail = canary.VerdictError, "compare latencies: "+err.Error()
		return
	}
	m.decide(r, cmp, dataShifts, relative, ev)
}

// shiftRequests is how many requests each track needs in an interval for
// its shift to be remembered.
const shiftRequests = 10

// shiftIntervals is the fewest intervals the shifts are kept for: a
// window of one interval holds one shift, too few for any confidence.
const shiftIntervals = 10

// shiftWindow is how long a rule remembers per-interval shifts: its
// window, but at least shiftIntervals intervals.
func (m *machine) shiftWindow(r canary.Rule) time.Duration {
	return max(m.window(r), shiftIntervals*m.interval())
}

// judgeIntervals compares the remembered per-interval quantiles in pairs
// (each interval's canary and stable values) with the signed-rank test:
// pairing cancels what both tracks share in an interval, such as load or
// a slow dependency, and the test is corrected for autocorrelated
// intervals as the shift test is (analysis.QuantilePairsTest).
func (m *machine) judgeIntervals(i int, r canary.Rule, relative bool, ev *canary.Evaluation) {
	cs, ss := intervalPairs(m.st.Rules[i].Baseline, relative)
	if len(cs) == 0 {
		ev.Verdict = canary.VerdictInsufficient
		ev.Detail = fmt.Sprintf("no interval in the last %s with enough requests on both tracks (%d each) to compare",
			canary.FormatDuration(m.window(r)), analysis.QuantileRequests(quantile(r)))
		return
	}
	cmp, err := analysis.QuantilePairsTest(cs, ss, r.WorseBy.Value, m.confidence(r), relative)
	if errors.Is(err, analysis.ErrConstant) {
		// Every pair differs by exactly the tolerance: no evidence either way.
		cmp = analysis.Comparison{Test: analysis.TestSignedRank, Tolerance: r.WorseBy.Value, Confidence: m.confidence(r),
			P: 1, Lower: math.Inf(-1), Upper: math.Inf(1), CanaryN: float64(len(cs)), StableN: float64(len(ss))}
	} else if err != nil {
		ev.Verdict, ev.Detail = canary.VerdictError, "compare latencies: "+err.Error()
		return
	}
	m.decide(r, cmp, dataIntervals, relative, ev)
}

func quantile(r canary.Rule) float64 {
	q, _ := r.Metric.Quantile()
	return q
}

// remember records the interval's values of both tracks and forgets
// those older than the window: with latency histograms the shift of the
// canary over the stable, when each track served shiftRequests (kept for
// shiftWindow); without, the quantiles, when each stands on enough
// requests.
func (m *machine) remember(i int, r canary.Rule, c, s canary.Observation) {
	b := m.evidence(i)
	keep := b.Intervals[:0:0]
	for _, iv := range b.Intervals {
		w := m.window(r)
		if iv.Shift != nil {
			w = m.shiftWindow(r)
		}
		if iv.At.After(m.now.Add(-w)) {
			keep = append(keep, iv)
		}
	}
	cm, sm := c.Measurement, s.Measurement
	iv := canary.IntervalValues{At: m.now, Canary: cm.Value, Stable: sm.Value}
	switch {
	case cm.NoData || sm.NoData:
	case len(cm.Latency) > 0 && len(sm.Latency) > 0:
		if cm.Samples >= shiftRequests && sm.Samples >= shiftRequests {
			if d, ok := intervalShift(cm.Latency, sm.Latency, r.WorseBy.Kind == canary.KindPercent); ok {
				iv.Shift = &d
				keep = append(keep, iv)
			}
		}
	default:
		need := analysis.QuantileRequests(quantile(r))
		if cm.Samples >= need && sm.Samples >= need {
			keep = append(keep, iv)
		}
	}
	b.Intervals = keep
}

// intervalShift is the Hodges-Lehmann shift of an interval's canary
// latencies over the stable's, of their logarithms when relative.
func intervalShift(ch, sh []canary.LatencyBucket, relative bool) (float64, bool) {
	x, err := histogramSample(ch)
	if err != nil {
		return 0, false
	}
	y, err := histogramSample(sh)
	if err != nil {
		return 0, false
	}
	d, err := analysis.IntervalShift(x, y, relative)
	return d, err == nil && !math.IsNaN(d)
}

// intervalPairs are the remembered per-interval values of both tracks;
// for a relative comparison only positive ones.
func intervalPairs(b *canary.BaselineEvidence, relative bool) (cs, ss []float64) {
	if b == nil {
		return nil, nil
	}
	for _, iv := range b.Intervals {
		if iv.Shift != nil || (relative && (iv.Canary <= 0 || iv.Stable <= 0)) {
			continue
		}
		cs, ss = append(cs, iv.Canary), append(ss, iv.Stable)
	}
	return cs, ss
}

// histogramSample turns a source's latency buckets into a sample.
func histogramSample(buckets []canary.LatencyBucket) (analysis.Sample, error) {
	bounds := make([]float64, len(buckets))
	counts := make([]float64, len(buckets))
	for i, b := range buckets {
		bounds[i], counts[i] = b.UpperBound, float64(b.Count)
	}
	return analysis.NewHistogram(bounds, counts)
}

// decide turns a comparison into the evaluation's verdict and record.
func (m *machine) decide(r canary.Rule, cmp analysis.Comparison, data string, relative bool, ev *canary.Evaluation) {
	if bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }; bad(cmp.Estimate) || bad(cmp.P) {
		// Events are JSON: no NaN or infinity may reach them.
		ev.Verdict, ev.Detail = canary.VerdictInsufficient, fmt.Sprintf("%s vs stable: no estimate from %s", r.Metric, data)
		return
	}
	ev.Comparison = &canary.Comparison{
		Test: cmp.Test, Data: data, Estimate: cmp.Estimate, Lower: finite(cmp.Lower), Upper: finite(cmp.Upper), P: cmp.P,
		Tolerance: cmp.Tolerance, Confidence: cmp.Confidence, Relative: relative,
		CanaryN: int64(math.Round(cmp.CanaryN)), StableN: int64(math.Round(cmp.StableN)),
	}
	switch cmp.Outcome() {
	case analysis.Worse:
		ev.Verdict = canary.VerdictBreach
	case analysis.NotWorse:
		ev.Verdict = canary.VerdictPass
	default:
		ev.Verdict = canary.VerdictInsufficient
		ev.Detail = fmt.Sprintf("%s vs stable: %s; %s confidence needs more %s", r.Metric, comparisonText(r, ev.Comparison),
			canary.FormatPercent(cmp.Confidence), data)
	}
}

// finite returns a pointer to v, or nil for an infinite bound.
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// comparisonText is "+1.2pp (bounds +0.6pp, +1.9pp; worseBy 0.5pp)".
func comparisonText(r canary.Rule, c *canary.Comparison) string {
	f := func(v float64) string {
		switch {
		case c.Relative:
			return signed(v, canary.FormatPercent(math.Abs(v)))
		case r.Metric == canary.MetricErrorRate:
			s := canary.FormatPercent(math.Abs(v))
			return signed(v, s[:len(s)-1]+"pp")
		}
		return signed(v, canary.FormatValue(canary.KindDuration, math.Abs(v)))
	}
	b := func(p *float64) string {
		if p == nil {
			return "none"
		}
		return f(*p)
	}
	return fmt.Sprintf("%s (bounds %s, %s; worseBy %s)", f(c.Estimate), b(c.Lower), b(c.Upper), r.WorseBy.Text)
}

func signed(v float64, abs string) string {
	if v < 0 {
		return "-" + abs
	}
	return "+" + abs
}

// baselineText is "errorRate 1.5% vs stable 0.1%: +1.4pp (bounds +0.6pp,
// +2.2pp; worseBy 0.5pp)".
func baselineText(r canary.Rule, ev *canary.Evaluation) string {
	kind := r.Metric.Kind()
	s := fmt.Sprintf("%s %s", r.Metric, canary.FormatValue(kind, ev.Value))
	if ev.Stable != nil {
		s += " vs stable " + canary.FormatValue(kind, *ev.Stable)
	}
	if ev.Comparison != nil {
		s += ": " + comparisonText(r, ev.Comparison)
	}
	return s
}

// ErrorTestConfidence is the confidence each of the sequential tests of
// an errorRate rule with compare: baseline runs at in a rollout of p: the
// rule's confidence shared among the errorChains tests of every step
// with a hold. Sample-size arithmetic (canary validate --expected-rps)
// uses it to predict what the engine will decide.
func ErrorTestConfidence(p *canary.Plan, r canary.Rule) float64 {
	m := &machine{p: p}
	return 1 - (1-m.confidence(r))/float64(m.maxChains())
}

// ErrorTestSpacing is the time between the starts of a step's error
// tests for a step with this hold.
func ErrorTestSpacing(p *canary.Plan, hold time.Duration) time.Duration {
	m := &machine{p: p}
	return max(hold/errorChains, m.interval())
}
