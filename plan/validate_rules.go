package plan

import (
	"fmt"

	canary "github.com/canary-dev/canary"
)

func (v *validator) steps(steps []canary.Step, path string) {
	if len(steps) == 0 {
		v.add(path, "required: list the traffic steps, e.g. [{weight: 5, hold: 30m}, {weight: 100}]")
		return
	}
	prev := 0 // the last valid weight
	for i, s := range steps {
		spath := fmt.Sprintf("%s[%d]", path, i)
		routed := len(s.Match) > 0 || s.Mirror != 0
		switch {
		case s.Weight == 0 && routed && i < len(steps)-1:
			// A match or mirror alone: no weighted traffic yet.
		case s.Weight < 1 || s.Weight > 100:
			v.add(spath+".weight", "%d is not a weight: write the canary's share of traffic in percent, 1 to 100 (no %% sign; 0 only with match or mirror)", s.Weight)
		case s.Weight < prev || (s.Weight == prev && !routed):
			v.add(spath+".weight", "%d does not exceed the previous step's %d: weights must increase, e.g. 5, 10, 25, 50, 100 (a step may repeat the weight only with match or mirror)", s.Weight, prev)
		default:
			prev = s.Weight
		}
		switch {
		case s.Weight == 100 && routed:
			v.add(spath, "the 100 step sends every request to the new version: remove its match and mirror")
		case s.Weight == 100 && s.Hold != 0:
			v.add(spath+".hold", "the 100 step promotes at once and has no hold: remove it (hold the step before instead)")
		case s.Weight != 100 && s.Hold <= 0:
			v.add(spath+".hold", "required: every step before 100 holds its weight for a while, e.g. hold: 30m")
		}
		if s.Approval != nil {
			v.approval(s.Approval, spath+".approval")
		}
	}
	if last := steps[len(steps)-1]; last.Weight >= 1 && last.Weight < 100 {
		v.add(fmt.Sprintf("%s[%d].weight", path, len(steps)-1),
			"the last step must be weight 100 (reaching it promotes): add {weight: 100} at the end")
	}
}

func (v *validator) approval(a *canary.Approval, path string) {
	switch {
	case !a.Manual && a.Webhook == "":
		v.add(path, "set exactly one of manual: true or webhook: URL")
	case a.Manual && a.Webhook != "":
		v.add(path+".webhook", "only one of manual and webhook may be set: remove one of them")
	default:
		v.url(path+".webhook", a.Webhook, "")
	}
	v.nonNegative(path+".timeout", a.Timeout)
}

// kindName names a threshold's unit in messages.
var kindName = map[canary.QuantityKind]string{
	canary.KindDuration:   "a duration",
	canary.KindPercent:    "a percentage",
	canary.KindMultiplier: "a multiplier",
	canary.KindNumber:     "a plain number",
}

// Rule field values.
var (
	ruleActions = []string{canary.ActionRollbackGradual, canary.ActionRollbackImmediate, canary.ActionPause}
	urgencies   = []string{string(canary.UrgencyLow), string(canary.UrgencyMedium), string(canary.UrgencyHigh), string(canary.UrgencyCritical)}
	vsValues    = []string{VsSLO, VsBaseline, VsStable}
)

func (v *validator) rules(rules []canary.Rule, path string) {
	if len(rules) == 0 {
		v.add(path, "required: write at least one rule, e.g. {metric: errorRate, above: 1%%, action: rollback-gradual}")
		return
	}
	seen := v.names("rule")
	for i := range rules {
		r := &rules[i]
		rpath := fmt.Sprintf("%s[%d]", path, i)
		v.rule(r, rpath)
		seen.check(rpath, rpath+".name", v.ruleName(r))
	}
}

// ruleName is the name the rule will have after Defaults.
func (v *validator) ruleName(r *canary.Rule) string {
	d := *r
	if d.For == 0 {
		d.For = canary.Duration(v.interval)
	}
	if d.Window == 0 {
		d.Window = canary.Duration(defaultWindow(r, v.interval))
	}
	return d.DisplayName()
}

func (v *validator) rule(r *canary.Rule, path string) {
	v.metric(r, path)
	switch {
	case r.Compare != "":
		v.compare(r, path)
	case r.Above.IsZero() && r.Below.IsZero():
		v.add(path, "set a threshold: exactly one of above or below, e.g. above: 600ms")
	case !r.Above.IsZero() && !r.Below.IsZero():
		v.add(path+".below", "only one of above and below may be set: remove one of them")
	}
	if r.Compare == "" {
		if !r.WorseBy.IsZero() {
			v.add(path+".worseBy", "only rules with compare: baseline have a tolerance: remove worseBy, or add compare: baseline")
		}
		if c := r.Confidence; c != 0 && (c <= 0.5 || c >= 1) {
			v.add(path+".confidence", "%s is not a confidence: write a percentage above 50%% and below 100%%, e.g. 95%% (or omit it for analysis.confidence)", c)
		}
	}
	v.judging(*r, path)
	switch {
	case r.Vs == "":
	case !isOneOf(r.Vs, vsValues):
		v.add(path+".vs", "%q is not a burn baseline: write %s", r.Vs, orList(vsValues))
	case r.Metric != canary.MetricBurnRate:
		v.add(path+".vs", "only burnRate rules compare against slo or baseline: remove vs")
	}
	v.atLeastInterval(path+".window", r.Window, "a window must span at least one interval")
	v.atLeastResolution(path+".window", r.Window)
	v.atLeastResolution(path+".shortWindow", r.ShortWindow)
	v.shortWindow(r, path)
	v.atLeastInterval(path+".for", r.For, "the rule is judged once per interval")
	switch {
	case r.Action == "":
		v.add(path+".action", "required: write what to do when the rule fires: %s", orList(ruleActions))
	case !isOneOf(r.Action, ruleActions):
		v.add(path+".action", "%q is not an action: write %s", r.Action, orList(ruleActions))
	}
	v.urgency(path+".urgency", r.Urgency)
}

// metric checks the metric and that the threshold is in its unit.
func (v *validator) metric(r *canary.Rule, path string) {
	switch {
	case r.Metric == "":
		v.add(path+".metric", "required: write the metric to judge: errorRate, requestRate, burnRate or a latency quantile such as latencyP95")
		return
	case !r.Metric.Known():
		v.add(path+".metric", "%q is not a metric: write errorRate, requestRate, burnRate, or a latency quantile latencyPNN such as latencyP50, latencyP95, latencyP99 or latencyP99.9", r.Metric)
		return
	}
	q, op := r.Threshold()
	if q.IsZero() || q.Kind == r.Metric.Kind() {
		return
	}
	var how string
	switch r.Metric.Kind() {
	case canary.KindDuration:
		how = "is a latency: write the threshold as a duration, e.g. 600ms"
	case canary.KindPercent:
		how = "is a ratio: write the threshold as a percentage, e.g. 1%"
	case canary.KindMultiplier:
		how = "is a multiple of the error budget: write the threshold with an x, e.g. 2x"
	default:
		how = "is in requests per second: write the threshold as a plain number, e.g. 50"
	}
	v.add(path+"."+op, "%q is %s, but %s %s", q.Text, kindName[q.Kind], r.Metric, how)
}

func (v *validator) atLeastInterval(path string, d canary.Duration, why string) {
	if d != 0 && d.D() < v.interval {
		iv := canary.FormatDuration(v.interval)
		v.add(path, "%s is shorter than analysis.interval (%s): %s, so write at least %s (or omit it for one interval)", d, iv, why, iv)
	}
}

func (v *validator) urgency(path string, u canary.Urgency) {
	if u != "" && u.Rank() == 0 {
		v.add(path, "%q is not an urgency: write %s", u, orList(urgencies))
	}
}

// judging checks a threshold rule's judge and pass.
func (v *validator) judging(r canary.Rule, path string) {
	judges, passes := []string{canary.JudgeConfidence, canary.JudgePoint}, []string{canary.PassEstimate, canary.PassEvidence}
	switch {
	case r.Judge == "":
	case r.Compare != "":
		v.add(path+".judge", "a rule with compare: baseline is always judged with confidence: remove judge")
	case !isOneOf(r.Judge, judges):
		v.add(path+".judge", "%q is not a way to judge: write %s", r.Judge, orList(judges))
	}
	switch {
	case r.Pass == "":
	case r.Compare != "":
		v.add(path+".pass", "a rule with compare: baseline passes on evidence already: remove pass")
	case !isOneOf(r.Pass, passes):
		v.add(path+".pass", "%q is not a way to pass: write %s", r.Pass, orList(passes))
	case r.Judge == canary.JudgePoint && r.Pass == canary.PassEvidence:
		v.add(path+".pass", "pass: evidence needs judge: confidence: remove judge: point, or pass")
	}
}
