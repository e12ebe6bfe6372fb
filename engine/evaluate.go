package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/canary-dev/canary"
)

// minBaselineBurn floors the baseline of a `vs: baseline` burn rule, so a
// baseline with no errors at all does not make any error an infinite
// multiple of it.
const minBaselineBurn = 0.1

// minStableBurn floors the stable's burn of a `vs: stable` burn rule at
// the error budget itself.
const minStableBurn = 1.0

// Queries returns the measurements the next call to Next needs at now:
// the baseline before traffic moves, then every rule's metric per track
// once an evaluation is due. Nil means none are due.
func Queries(p *canary.Plan, st canary.State, now time.Time) []canary.Query {
	m := &machine{p: p, st: st, now: now}
	if m.needBaselineNow() {
		return []canary.Query{{Metric: canary.MetricErrorRate, Track: canary.TrackStable, Window: m.baselineWindow(), At: now}}
	}
	if !m.evaluating() || now.Before(st.NextEvalAt) {
		return nil
	}
	var qs []canary.Query
	seen := map[canary.Query]bool{}
	for _, r := range p.Spec.Rules {
		for _, q := range m.ruleQueries(r) {
			if !seen[q] {
				seen[q] = true
				qs = append(qs, q)
			}
		}
	}
	return qs
}

// ruleQueries are the measurements rule r needs now: its metric on both
// tracks over its window (and over its short window, for a multi-window
// burn rule); see baselineQueries for baseline rules.
func (m *machine) ruleQueries(r canary.Rule) []canary.Query {
	if r.Compare == canary.CompareBaseline {
		return m.baselineQueries(r)
	}
	ws := []time.Duration{m.window(r)}
	if sw := r.ShortWindow.D(); sw > 0 && r.Metric == canary.MetricBurnRate {
		ws = append(ws, sw)
	}
	var qs []canary.Query
	for _, w := range ws {
		for _, t := range []canary.Track{canary.TrackCanary, canary.TrackStable} {
			qs = append(qs, canary.Query{Metric: baseMetric(r.Metric), Track: t, Window: w, At: m.dueAt()})
		}
	}
	return qs
}

// baseMetric is what a source measures for metric: burn is computed from
// the error rate of both tracks.
func baseMetric(metric canary.Metric) canary.Metric {
	if metric == canary.MetricBurnRate {
		return canary.MetricErrorRate
	}
	return metric
}

func (m *machine) window(r canary.Rule) time.Duration {
	if w := r.Window.D(); w > 0 {
		return w
	}
	return m.interval()
}

func (m *machine) forDuration(r canary.Rule) time.Duration {
	if f := r.For.D(); f > 0 {
		return f
	}
	return m.interval()
}

// evaluating reports whether rules are being judged: traffic has moved
// and the rollout is progressing (or paused while progressing).
func (m *machine) evaluating() bool {
	if m.st.NextEvalAt.IsZero() {
		return false
	}
	return m.st.Phase == canary.PhaseProgressing ||
		(m.st.Phase == canary.PhasePaused && m.st.PausedFrom == canary.PhaseProgressing)
}

func (m *machine) needBaseline() bool {
	for _, r := range m.p.Spec.Rules {
		if r.Metric == canary.MetricBurnRate && r.Vs == "baseline" {
			return true
		}
	}
	return false
}

func (m *machine) needBaselineNow() bool {
	return m.st.Phase == canary.PhasePreChecks && len(m.st.Outstanding) == 0 &&
		!m.st.BaselineTaken && m.needBaseline()
}

func (m *machine) baselineWindow() time.Duration {
	var w time.Duration
	for _, r := range m.p.Spec.Rules {
		if r.Metric == canary.MetricBurnRate && r.Vs == "baseline" && m.window(r) > w {
			w = m.window(r)
		}
	}
	return w
}

func (m *machine) objectiveBudget() float64 {
	obj := float64(m.p.Spec.SLO.Objective)
	if obj <= 0 || obj >= 1 {
		obj = canary.DefaultObjective
	}
	return 1 - obj
}

type obsKey struct {
	metric canary.Metric
	track  canary.Track
	window time.Duration
}

// observe records the baseline or runs an evaluation.
func (m *machine) observe(obs []canary.Observation) {
	if m.needBaselineNow() {
		m.recordBaseline(obs)
		return
	}
	if !m.evaluating() || m.now.Before(m.st.NextEvalAt) {
		return
	}
	m.evaluate(obs)
}

func (m *machine) recordBaseline(obs []canary.Observation) {
	m.st.BaselineTaken = true
	for _, o := range obs {
		if o.Query.Track != canary.TrackStable || o.Err != "" || o.Measurement.NoData || o.Measurement.Samples == 0 {
			continue
		}
		burn := o.Measurement.Value / m.objectiveBudget()
		m.st.BaselineBurn, m.st.BaselineRequests = &burn, o.Measurement.Samples
		m.emitf(canary.EvEvaluated, "", "baseline recorded: service burn %s over %s (%d requests)",
			canary.FormatValue(canary.KindMultiplier, burn), canary.FormatDuration(o.Query.Window), o.Measurement.Samples)
		return
	}
	m.emitf(canary.EvEvaluated, "", "no baseline burn before the rollout; burn rules vs baseline use the stable track's burn instead")
}

// dueAt is the nominal time of the evaluation due now: the latest tick of
// the step's grid (NextEvalAt, NextEvalAt + interval, …) at or before now,
// whatever the scheduler's jitter. Queries measure windows ending there.
func (m *machine) dueAt() time.Time {
	next := m.st.NextEvalAt
	if next.IsZero() || m.now.Before(next) {
		return next
	}
	return next.Add(m.now.Sub(next) / m.interval() * m.interval())
}

// evaluate judges every rule, updates their for-timers and acts on the
// most severe firing rule. It works on the evaluation's nominal time
// (dueAt), so the same observations decide alike however late it runs.
func (m *machine) evaluate(obs []canary.Observation) {
	at := m.dueAt()
	ticks := 1 + int(at.Sub(m.st.NextEvalAt)/m.interval())
	m.st.Tick += ticks
	idx := make(map[obsKey]canary.Observation, len(obs))
	for _, o := range obs {
		idx[obsKey{o.Query.Metric, o.Query.Track, o.Query.Window}] = o
	}
	evals := make([]canary.Evaluation, len(m.p.Spec.Rules))
	allJudged, outage := true, false
	for i, r := range m.p.Spec.Rules {
		ev, advance := m.judge(i, r, idx)
		m.updateRule(i, r, &ev, advance, at)
		evals[i] = ev
		allJudged = allJudged && ev.Verdict.Judged()
		outage = outage || ev.Verdict == canary.VerdictError || ev.Verdict == canary.VerdictNoData
	}
	m.st.Evaluations++
	if m.st.Phase == canary.PhaseProgressing {
		switch {
		case allJudged:
			m.st.Judged++
			m.st.JudgedTime += m.covered(at)
		case outage:
			m.st.OutageTime += time.Duration(ticks) * m.interval()
		}
	}
	m.st.LastEvalAt = at
	m.st.NextEvalAt = at.Add(m.interval())
	m.emit(canary.Event{Type: canary.EvEvaluated, Evaluations: evals, Message: summarize(evals)})
	m.actOnFiring(evals)
}

// covered is the time this evaluation, at nominal time at, vouches for:
// since the previous one (or the step's start), but no more than the
// shortest rule window, since a measurement speaks only for its window.
func (m *machine) covered(at time.Time) time.Duration {
	since := m.st.LastEvalAt
	if since.Before(m.st.StepStartedAt) {
		since = m.st.StepStartedAt
	}
	span := at.Sub(since)
	for _, r := range m.p.Spec.Rules {
		span = min(span, max(m.window(r), m.interval()))
	}
	return max(span, 0)
}

// judge computes rule i's verdict from the observations, and reports
// whether a breach advances the rule's streak (see updateRule).
func (m *machine) judge(i int, r canary.Rule, idx map[obsKey]canary.Observation) (canary.Evaluation, bool) {
	q, op := r.Threshold()
	w := m.window(r)
	ev := canary.Evaluation{Rule: r.DisplayName(), Metric: r.Metric, Window: w, Threshold: q.Value, Op: op}
	if r.Compare == canary.CompareBaseline {
		m.judgeBaseline(i, r, idx, &ev)
		return ev, true
	}
	c, s, stableOK, ok := observed(idx, r, w, &ev)
	if !ok {
		return ev, false
	}
	ev.Samples = c.Measurement.Samples
	if r.Metric != canary.MetricBurnRate {
		ev.Value = c.Measurement.Value
		if stableOK {
			v := s.Measurement.Value
			ev.Stable = &v
		}
	} else if !m.burn(r, c, s, stableOK, &ev) {
		return ev, false
	}
	advance := true
	if wc, p0, ok := m.windowCounts(r, c, s, stableOK); ok {
		advance = m.judgeProportion(r, m.pool(i, r, wc, p0), &ev)
	} else if !m.judgePoint(r, &ev, stableOK, s) {
		return ev, false
	}
	if sw := r.ShortWindow.D(); sw > 0 && r.Metric == canary.MetricBurnRate && ev.Verdict == canary.VerdictBreach {
		short, ok := m.shortBurn(r, idx, &ev)
		if !ok {
			return ev, false
		}
		if short <= q.Value {
			ev.Verdict = canary.VerdictPass
		}
	}
	return ev, advance
}

// observed looks up rule r's observations of both tracks over w, and
// whether the stable's can serve as a comparison; false, with ev's
// verdict set, when the canary's cannot be judged (not taken, an error,
// no data from either track). A canary without requests while the stable
// has some is a lack of evidence (a zero measurement), not a broken
// pipeline.
func observed(idx map[obsKey]canary.Observation, r canary.Rule, w time.Duration, ev *canary.Evaluation) (c, s canary.Observation, stableOK, ok bool) {
	c, okC := idx[obsKey{baseMetric(r.Metric), canary.TrackCanary, w}]
	s, okS := idx[obsKey{baseMetric(r.Metric), canary.TrackStable, w}]
	stableOK = okS && s.Err == "" && !s.Measurement.NoData && s.Measurement.Samples > 0
	switch {
	case !okC:
		ev.Verdict, ev.Detail = canary.VerdictError, "no measurement of the canary was taken"
		return c, s, stableOK, false
	case c.Err != "":
		ev.Verdict, ev.Detail = canary.VerdictError, c.Err
		return c, s, stableOK, false
	case c.Measurement.NoData && !stableOK:
		ev.Verdict, ev.Detail = canary.VerdictNoData, fmt.Sprintf("the source returned no data for either track over the last %s "+
			"(no traffic at all, or a broken metrics pipeline)", canary.FormatDuration(w))
		return c, s, stableOK, false
	case c.Measurement.NoData:
		c.Measurement = canary.Measurement{}
	}
	return c, s, stableOK, true
}

// judgePoint is the runbook's literal reading of a threshold rule: the
// window's value against the threshold, once the window holds
// minRequests canary requests. It reports false when insufficient.
func (m *machine) judgePoint(r canary.Rule, ev *canary.Evaluation, stableOK bool, s canary.Observation) bool {
	q, op := r.Threshold()
	if ev.Samples < m.minRequests() {
		ev.Verdict = canary.VerdictInsufficient
		var stable int64
		if stableOK {
			stable = s.Measurement.Samples
		}
		span := canary.FormatDuration(m.window(r))
		if ev.Samples == 0 {
			ev.Detail = fmt.Sprintf("no canary requests in the last %s (%s stable requests): %s", span, count(stable), moreTraffic)
		} else {
			ev.Detail = fmt.Sprintf("%s canary requests in the last %s (%s stable), need %d: %s",
				count(ev.Samples), span, count(stable), m.minRequests(), moreTraffic)
		}
		return false
	}
	ev.Verdict = canary.VerdictPass
	if (op == "above" && ev.Value > q.Value) || (op == "below" && ev.Value < q.Value) {
		ev.Verdict = canary.VerdictBreach
	}
	return true
}

// shortBurn measures a multi-window burn rule's burn over its short
// window into ev (ShortWindow, ShortValue). The short window confirms the
// burn is still going on, so it needs no minimum of requests: without
// traffic its burn is 0. It reports false (with the verdict set) when a
// measurement failed.
func (m *machine) shortBurn(r canary.Rule, idx map[obsKey]canary.Observation, ev *canary.Evaluation) (float64, bool) {
	sw := r.ShortWindow.D()
	ev.ShortWindow = sw
	c, s, problem := pair(idx, canary.MetricErrorRate, sw)
	if problem != "" {
		ev.Verdict, ev.Detail = canary.VerdictError, "short window: "+problem
		return 0, false
	}
	if c.Measurement.NoData {
		c.Measurement = canary.Measurement{}
	}
	stableOK := !s.Measurement.NoData && s.Measurement.Samples > 0
	if c.Measurement.Samples == 0 && !stableOK {
		v := 0.0
		ev.ShortValue = &v
		return 0, true
	}
	var sev canary.Evaluation
	if !m.burn(r, c, s, stableOK, &sev) {
		ev.Verdict, ev.Detail = sev.Verdict, "short window: "+sev.Detail
		return 0, false
	}
	ev.ShortValue = &sev.Value
	return sev.Value, true
}

// burn sets ev.Value to the whole service's burn rate: the error ratio of
// both tracks together over 1 − objective, divided by the baseline for
// `vs: baseline`. It reports false (with the verdict set) when it cannot.
func (m *machine) burn(r canary.Rule, c, s canary.Observation, stableOK bool, ev *canary.Evaluation) bool {
	if okS := s.Query.Metric != ""; okS && s.Err != "" {
		ev.Verdict, ev.Detail = canary.VerdictError, "stable: "+s.Err
		return false
	}
	nc, ns := float64(c.Measurement.Samples), 0.0
	if m.mirroredOnly() {
		nc = 0 // the canary's requests are mirrored copies: no user saw them
	}
	errs := c.Measurement.Value * nc
	if stableOK {
		ns = float64(s.Measurement.Samples)
		errs += s.Measurement.Value * ns
	}
	budget := m.objectiveBudget()
	service := errs / (nc + ns) / budget
	var stableBurn *float64
	if stableOK {
		b := s.Measurement.Value / budget
		stableBurn = &b
	}
	ev.Value, ev.Stable = service, stableBurn
	if r.Vs != "baseline" && r.Vs != "stable" {
		return true
	}
	return m.burnVs(r, service, stableBurn, ev)
}

// burnVs divides the service's burn by the baseline's (or the stable's)
// for `vs: baseline` and `vs: stable`, each at least its floor.
func (m *machine) burnVs(r canary.Rule, service float64, stableBurn *float64, ev *canary.Evaluation) bool {
	base := m.st.BaselineBurn
	if base == nil || r.Vs == "stable" {
		base = stableBurn
	}
	if base == nil {
		ev.Verdict, ev.Detail = canary.VerdictNoData, "no baseline burn and no stable traffic to compare with"
		return false
	}
	floor, name := minBaselineBurn, "baseline"
	if r.Vs == "stable" {
		// Against the stable, a stable within its budget counts as the
		// budget: a few errors more or less in a healthy stable's window
		// must not swing the ratio, and the rule then reads as vs: slo.
		floor, name = minStableBurn, "stable"
	}
	ev.Value = service / math.Max(*base, floor)
	ev.Detail = fmt.Sprintf("service burn %s vs %s %s", canary.FormatValue(canary.KindMultiplier, service), name,
		canary.FormatValue(canary.KindMultiplier, *base))
	return true
}

// updateRule moves rule i's for-timer, Prometheus style, on nominal
// time: a breach that advances the streak adds an interval to it (the
// first starts it at at), and the rule fires once its breaching
// evaluations span the rule's for — for: 4s at a 1s interval fires on the
// 5th consecutive breach. A pass clears it; insufficient, nodata, error
// and a breach that does not advance (see judgeProportion) leave it.
func (m *machine) updateRule(i int, r canary.Rule, ev *canary.Evaluation, advance bool, at time.Time) {
	rs := &m.st.Rules[i]
	rs.Verdict, rs.Detail = ev.Verdict, ""
	if !ev.Verdict.Judged() || (ev.Verdict == canary.VerdictBreach && !advance) {
		rs.Detail = ev.Detail
	}
	if ev.Verdict.Judged() {
		rs.Value, rs.Samples = ev.Value, ev.Samples
		m.rememberValue(r.Metric, ev)
	}
	switch {
	case ev.Verdict == canary.VerdictBreach && advance:
		if rs.Streak == 0 {
			rs.ActiveAt = at
			m.emit(canary.Event{Type: canary.EvRulePending, Rule: rs.Name, Urgency: canary.UrgencyLow,
				Message: fmt.Sprintf("%s pending: %s", rs.Name, valueText(r, ev))})
		}
		rs.Streak++
		rs.StreakTick = m.st.Tick
		ev.PendingFor = m.pendingFor(rs)
		if !rs.Firing && ev.PendingFor >= m.forDuration(r) {
			rs.Firing = true
			m.emit(canary.Event{Type: canary.EvRuleFiring, Rule: rs.Name, Urgency: r.Urgency,
				Message: fmt.Sprintf("%s firing: %s for %s", rs.Name, valueText(r, ev), canary.FormatDuration(ev.PendingFor))})
		}
		ev.Firing = rs.Firing
	case ev.Verdict == canary.VerdictPass:
		if rs.Streak > 0 {
			m.emit(canary.Event{Type: canary.EvRuleCleared, Rule: rs.Name,
				Message: fmt.Sprintf("%s cleared: %s", rs.Name, valueText(r, ev))})
		}
		rs.ActiveAt, rs.Firing, rs.Streak, rs.StreakTick = time.Time{}, false, 0, 0
	default:
		if rs.Streak > 0 {
			ev.PendingFor = m.pendingFor(rs)
			ev.Firing = rs.Firing
		}
	}
}

// pendingFor is how long rule state rs's breach has held: its advancing
// breaches, an interval apart.
func (m *machine) pendingFor(rs *canary.RuleState) time.Duration {
	return time.Duration(max(rs.Streak-1, 0)) * m.interval()
}

func (m *machine) rememberValue(metric canary.Metric, ev *canary.Evaluation) {
	if m.st.LastValues == nil {
		m.st.LastValues = map[string]float64{}
	}
	m.st.LastValues["canary:"+string(metric)] = ev.Value
	if ev.Stable != nil {
		m.st.LastValues["stable:"+string(metric)] = *ev.Stable
	}
}

// valueText is "latencyP95 742ms > 600ms".
func valueText(r canary.Rule, ev *canary.Evaluation) string {
	if r.Compare == canary.CompareBaseline {
		return baselineText(r, ev)
	}
	q, op := r.Threshold()
	rel := "≤"
	switch {
	case op == "above" && ev.Verdict == canary.VerdictBreach:
		rel = ">"
	case op == "below" && ev.Verdict == canary.VerdictBreach:
		rel = "<"
	case op == "below":
		rel = "≥"
	}
	s := fmt.Sprintf("%s %s %s %s", r.Metric, canary.FormatValue(q.Kind, ev.Value), rel, q.Text)
	if r.Vs == "baseline" || r.Vs == "stable" {
		s += " " + r.Vs
	}
	if ev.ShortValue != nil {
		s += fmt.Sprintf(" (%s: %s)", canary.FormatDuration(ev.ShortWindow), canary.FormatValue(q.Kind, *ev.ShortValue))
	}
	return s
}

// summarize is an evaluation's one-line message.
func summarize(evals []canary.Evaluation) string {
	counts := map[canary.Verdict]int{}
	for _, e := range evals {
		counts[e.Verdict]++
	}
	s := fmt.Sprintf("evaluated %d rules: %d pass", len(evals), counts[canary.VerdictPass])
	for _, v := range []canary.Verdict{canary.VerdictBreach, canary.VerdictInsufficient, canary.VerdictNoData, canary.VerdictError} {
		if counts[v] > 0 {
			s += fmt.Sprintf(", %d %s", counts[v], v)
		}
	}
	return s
}

// actOnFiring applies the most severe firing rule's action: immediate over
// gradual over pause, then higher urgency, then plan order.
func (m *machine) actOnFiring(evals []canary.Evaluation) {
	best := -1
	for i, r := range m.p.Spec.Rules {
		if !m.st.Rules[i].Firing {
			continue
		}
		if best < 0 || better(r, m.p.Spec.Rules[best]) {
			best = i
		}
	}
	if best < 0 {
		return
	}
	r := m.p.Spec.Rules[best]
	ev := evals[best]
	reason := fmt.Sprintf("%s for %s", valueText(r, &ev), canary.FormatDuration(ev.PendingFor))
	switch r.Action {
	case canary.ActionPause:
		if m.st.Phase != canary.PhasePaused {
			m.pause(r.Urgency, "rule "+r.DisplayName()+" fired: "+reason)
		}
	default:
		m.startRollback(r.Action, reason, r.Urgency, r.DisplayName(), evals)
	}
}

func better(a, b canary.Rule) bool {
	if canary.Severity(a.Action) != canary.Severity(b.Action) {
		return canary.Severity(a.Action) > canary.Severity(b.Action)
	}
	return a.Urgency.Rank() > b.Urgency.Rank()
}
