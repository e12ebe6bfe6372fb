package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/analysis"
)

// Threshold rules judged with confidence (issue 15): every threshold rule
// on errorRate, a latency quantile or burnRate is a proportion — the share
// of the canary's requests that failed, of those slower than the latency
// threshold (against 1 − q), of the service's requests that failed
// (against the multiple of the error budget) — judged with the always
// valid test of analysis.TestProportion:
//
//   - breach: the lower confidence bound is above the threshold. For a
//     rule on the canary's own requests this needs no minimum of requests
//     (8 of 8 failing is evidence); a burn rule needs minRequests canary
//     requests (the stable's errors are no evidence against a canary
//     without traffic).
//   - pass: the estimate is at or below the threshold over at least
//     minRequests canary requests (pass: evidence: the upper bound is).
//   - otherwise insufficient. A window too small or too close to decide
//     pools the step's earlier windows (at most poolWindows in all).

// poolWindows caps how many windows (this one and earlier ones of the same
// step) a threshold rule pools to decide.
const poolWindows = 10

// proportion is a threshold rule's counts over the windows it judged.
type proportion struct {
	n, k, kHigh, canary, stable int64
	stableHits                  int64
	span                        time.Duration // the time the windows cover
	p0                          float64       // the threshold as a proportion
	conf                        float64
	fresh                       canary.WindowCounts // the windows an earlier breach of the streak did not count
	rel                         *relative           // a burn rule vs: stable or baseline; nil otherwise
}

// thresholdConfidence is rule r's confidence as a threshold rule.
func (m *machine) thresholdConfidence(r canary.Rule) float64 {
	if c := float64(r.Confidence); c > 0.5 && c < 1 {
		return c
	}
	if c := float64(m.p.Spec.Analysis.Confidence); c > 0.5 && c < 1 {
		return c
	}
	return canary.DefaultThresholdConfidence
}

// windowCounts reads this evaluation's counts of threshold rule r from its
// observations c (canary) and s (stable), and its threshold as a
// proportion. ok is false when the rule is not a proportion (requestRate,
// a below threshold, judge: point, a latency without its distribution,
// a threshold at or past 100%).
func (m *machine) windowCounts(r canary.Rule, c, s canary.Observation, stableOK bool) (wc canary.WindowCounts, p0 float64, ok bool) {
	q, op := r.Threshold()
	if op != "above" || r.Judge == canary.JudgePoint {
		return wc, 0, false
	}
	wc = canary.WindowCounts{Tick: m.st.Tick, Requests: c.Measurement.Samples, Canary: c.Measurement.Samples}
	if stableOK {
		wc.Stable = s.Measurement.Samples
	}
	switch quant, isLatency := r.Metric.Quantile(); {
	case r.Metric == canary.MetricErrorRate:
		wc.Hits, p0 = observedHits(c), q.Value
	case r.Metric == canary.MetricBurnRate:
		m.burnCounts(&wc, c, s, stableOK)
		p0 = q.Value * m.objectiveBudget() * m.burnBase(r, s, stableOK)
	case isLatency:
		if len(c.Measurement.Latency) == 0 && c.Measurement.Samples > 0 {
			return wc, 0, false
		}
		wc.Requests, wc.Hits, wc.HitsHigh = slowCounts(c.Measurement.Latency, q.Value)
		wc.Canary = wc.Requests
		p0 = 1 - quant
	default:
		return wc, 0, false
	}
	if wc.HitsHigh < wc.Hits {
		wc.HitsHigh = wc.Hits
	}
	return wc, p0, p0 > 0 && p0 < 1
}

// observedHits is the number of requests behind a ratio observation o
// (its value times its samples).
func observedHits(o canary.Observation) int64 {
	return int64(math.Round(o.Measurement.Value * float64(o.Measurement.Samples)))
}

// burnCounts fills wc's hits and requests for a burnRate rule: the
// canary's failed requests (none while its traffic is only mirrored
// copies, which no user saw) plus, with stableOK, the stable's.
func (m *machine) burnCounts(wc *canary.WindowCounts, c, s canary.Observation, stableOK bool) {
	wc.Hits = observedHits(c)
	if m.mirroredOnly() {
		wc.Hits, wc.Requests = 0, 0
	}
	if stableOK {
		wc.StableHits = observedHits(s)
		wc.Requests += s.Measurement.Samples
		wc.Hits += wc.StableHits
	}
}

// slowCounts counts the requests of a latency distribution, those slower
// than t for certain (their bucket's lower bound is at or above t) and
// those that may be (their bucket's upper bound is above t).
func slowCounts(bs []canary.LatencyBucket, t float64) (n, slow, maybe int64) {
	lower := 0.0
	for _, b := range bs {
		n += b.Count
		if lower >= t {
			slow += b.Count
		}
		if b.UpperBound > t {
			maybe += b.Count
		}
		lower = b.UpperBound
	}
	return n, slow, maybe
}

// burnBase is what a burn rule's multiple applies to besides the error
// budget: 1 for vs: slo; the baseline or stable burn (floored) otherwise,
// taken as known.
func (m *machine) burnBase(r canary.Rule, s canary.Observation, stableOK bool) float64 {
	if r.Vs != "baseline" && r.Vs != "stable" {
		return 1
	}
	var base *float64
	if r.Vs == "baseline" {
		base = m.st.BaselineBurn
	}
	if base == nil && stableOK {
		b := s.Measurement.Value / m.objectiveBudget()
		base = &b
	}
	floor := minBaselineBurn
	if r.Vs == "stable" {
		floor = minStableBurn
	}
	if base == nil {
		return floor
	}
	return math.Max(*base, floor)
}

// pool adds rule i's earlier windows of the step to this one's until the
// counts are enough to decide (or poolWindows are in), and remembers this
// window. Windows are taken a window's length of ticks apart, so none
// overlap.
func (m *machine) pool(i int, r canary.Rule, wc canary.WindowCounts, p0 float64) proportion {
	rs := &m.st.Rules[i]
	w := m.window(r)
	p := proportion{p0: p0, conf: m.thresholdConfidence(r), span: w, rel: m.relativeFor(r)}
	p.add(wc)
	p.addFresh(wc, rs.StreakTick)
	step := max(1, int((w+m.interval()-1)/m.interval()))
	want := wc.Tick - step
	for j := len(rs.Windows) - 1; j >= 0 && p.windows(w) < poolWindows && !m.decided(r, p); j-- {
		e := rs.Windows[j]
		if e.Tick > want {
			continue
		}
		if e.Tick < want {
			break // a gap: the window of tick want was not measured
		}
		p.add(e)
		p.addFresh(e, rs.StreakTick)
		p.span += w
		want -= step
	}
	if len(rs.Windows) < poolWindows {
		rs.Windows = append(rs.Windows, wc)
	} else {
		// The last poolWindows-1 and wc in a new array of exactly
		// poolWindows (one allocation, where appending and then copying
		// took two): the state this one was cloned from keeps its own.
		kept := make([]canary.WindowCounts, poolWindows-1, poolWindows)
		copy(kept, rs.Windows[len(rs.Windows)-(poolWindows-1):])
		rs.Windows = append(kept, wc)
	}
	return p
}

func (p *proportion) windows(w time.Duration) int { return int(p.span / w) }

func (p *proportion) add(wc canary.WindowCounts) {
	p.n += wc.Requests
	p.k += wc.Hits
	p.kHigh += wc.HitsHigh
	p.canary += wc.Canary
	p.stable += wc.Stable
	p.stableHits += wc.StableHits
	if p.rel != nil && !p.rel.baseline && p.stable > 0 {
		p.p0 = p.rel.mult * math.Max(float64(p.stableHits)/float64(p.stable), p.rel.floor)
	}
}

// addFresh counts wc's requests as new evidence unless the streak's last
// advancing breach (at tick streakTick) already counted them.
func (p *proportion) addFresh(wc canary.WindowCounts, streakTick int) {
	if wc.Tick <= streakTick {
		return
	}
	p.fresh.Requests += wc.Requests
	p.fresh.Hits += wc.Hits
}

// decided reports whether p's counts decide rule r either way.
func (m *machine) decided(r canary.Rule, p proportion) bool {
	v, _ := m.proportionVerdict(r, p)
	return v == canary.VerdictBreach || v == canary.VerdictPass
}

// proportionVerdict judges the counts.
func (m *machine) proportionVerdict(r canary.Rule, p proportion) (canary.Verdict, string) {
	enough := p.canary >= m.minRequests() && p.canary > 0
	ownRequests := r.Metric != canary.MetricBurnRate
	b := p.bounds()
	if (ownRequests || enough) && p.n > 0 && analysis.ProportionAbove(p.k, p.n, b.breach, b.conf) {
		return canary.VerdictBreach, ""
	}
	if !enough {
		return canary.VerdictInsufficient, "few"
	}
	est := float64(p.kHigh) / float64(p.n)
	if r.Pass == canary.PassEvidence {
		if analysis.ProportionBelow(p.kHigh, p.n, b.pass, b.conf) {
			return canary.VerdictPass, ""
		}
		return canary.VerdictInsufficient, "evidence"
	}
	if est <= p.p0 {
		return canary.VerdictPass, ""
	}
	return canary.VerdictInsufficient, "close"
}

// judgeProportion sets ev's verdict, value and detail from the pooled
// counts, and reports whether a breach advances the rule's streak.
func (m *machine) judgeProportion(r canary.Rule, p proportion, ev *canary.Evaluation) bool {
	verdict, why := m.proportionVerdict(r, p)
	ev.Verdict = verdict
	ev.Samples = p.canary
	if p.n > 0 && p.windows(m.window(r)) > 1 {
		if _, lat := r.Metric.Quantile(); !lat {
			ev.Value = m.proportionValue(r, float64(p.kHigh)/float64(p.n), p.p0)
		}
	}
	switch verdict {
	case canary.VerdictBreach:
		b := p.bounds()
		lo := analysis.ProportionLower(p.k, p.n, b.conf)
		ev.Detail = fmt.Sprintf("%s of %s %s in the last %s: %s lower bound %s > %s",
			count(p.k), count(p.n), hitWord(r), canary.FormatDuration(p.span), canary.FormatPercent(b.conf),
			canary.FormatPercent(lo), canary.FormatPercent(b.breach)) + b.why
		if p.fresh.Requests == 0 || float64(p.fresh.Hits) <= p.p0*float64(p.fresh.Requests) {
			ev.Detail += "; carried by requests an earlier breach already counted, so `for` does not advance"
			return false
		}
		return true
	case canary.VerdictInsufficient:
		ev.Detail = m.insufficientText(r, p, why)
	}
	return false
}

// proportionValue turns a pooled proportion back into the rule's units
// where it can (an error rate, a burn); a latency keeps the window's
// quantile.
func (m *machine) proportionValue(r canary.Rule, share, p0 float64) float64 {
	switch r.Metric {
	case canary.MetricErrorRate:
		return share
	case canary.MetricBurnRate:
		q, _ := r.Threshold()
		return share * q.Value / p0
	}
	return 0
}

// insufficientText says what an insufficient threshold rule misses, in
// words a person acts on.
func (m *machine) insufficientText(r canary.Rule, p proportion, why string) string {
	span := canary.FormatDuration(p.span)
	switch why {
	case "few":
		if p.canary == 0 {
			return fmt.Sprintf("no canary requests in the last %s (%s stable requests): %s", span, count(p.stable), moreTraffic)
		}
		return fmt.Sprintf("%s canary requests in the last %s (%s stable), need %d or decisive evidence: %s",
			count(p.canary), span, count(p.stable), m.minRequests(), moreTraffic)
	case "evidence":
		b := p.bounds()
		return fmt.Sprintf("%s of %s %s in the last %s: pass: evidence needs the %s upper bound (%s) at or below %s",
			count(p.kHigh), count(p.n), hitWord(r), span, canary.FormatPercent(b.conf),
			canary.FormatPercent(analysis.ProportionUpper(p.kHigh, p.n, b.conf)), canary.FormatPercent(b.pass)) + b.why
	}
	b := p.bounds()
	return fmt.Sprintf("%s of %s %s in the last %s: above %s, but not with %s confidence (lower bound %s)",
		count(p.k), count(p.n), hitWord(r), span, canary.FormatPercent(p.p0), canary.FormatPercent(p.conf),
		canary.FormatPercent(analysis.ProportionLower(p.k, p.n, b.conf))) + b.why
}

const moreTraffic = "send more traffic, lengthen `window`, or see `canary validate --expected-rps`"

// hitWord names what a rule's proportion counts.
func hitWord(r canary.Rule) string {
	switch r.Metric {
	case canary.MetricErrorRate:
		return "canary requests failed"
	case canary.MetricBurnRate:
		return "service requests failed"
	}
	q, _ := r.Threshold()
	return "canary requests slower than " + q.Text
}

// count is n with thousands separated: 1,034.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
