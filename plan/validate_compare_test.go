package plan

import (
	"testing"
	"time"

	canary "github.com/canary-dev/canary"
)

// baselineRule replaces the base plan's rule.
func baselineRule(rule string) []edit {
	return []edit{{"    - metric: errorRate\n      above: 1%\n      action: rollback-gradual\n", rule}}
}

var compareCases = []struct {
	name  string
	edits []edit
	want  []string
}{
	{"baseline with a threshold", baselineRule("    - {metric: errorRate, compare: baseline, worseBy: 0.5pp, above: 1%, action: pause}\n"),
		[]string{`plan.yaml:16:69: spec.rules[0].above: a rule with compare: baseline has no threshold: remove above and say with worseBy how much worse than the stable the canary may be`}},
	{"baseline without tolerance", baselineRule("    - {metric: errorRate, compare: baseline, action: pause}\n"),
		[]string{`plan.yaml:16:7: spec.rules[0].worseBy: required with compare: baseline: write how much worse than the stable the canary may be, e.g. worseBy: 0.5pp for errorRate or worseBy: 20% for a latency`}},
	{"compare unknown", baselineRule("    - {metric: errorRate, compare: stable, worseBy: 0.5pp, action: pause}\n"),
		[]string{`plan.yaml:16:36: spec.rules[0].compare: "stable" is not a comparison: write baseline (the stable track over the same time), or remove compare for a threshold`}},
	{"baseline burn", baselineRule("    - {metric: burnRate, compare: baseline, worseBy: 2x, action: pause}\n"),
		[]string{`plan.yaml:16:35: spec.rules[0].compare: burnRate is the whole service's: compare its burn with vs: stable (or vs: baseline) and a threshold such as above: 2x, and remove compare`}},
	{"error tolerance as duration", baselineRule("    - {metric: errorRate, compare: baseline, worseBy: 50ms, action: pause}\n"),
		[]string{`plan.yaml:16:55: spec.rules[0].worseBy: "50ms" is a duration, but errorRate's tolerance is a difference of error rates: write percentage points, e.g. 0.5pp`}},
	{"latency tolerance in points", baselineRule("    - {metric: latencyP95, compare: baseline, worseBy: 5pp, action: pause}\n"),
		[]string{`plan.yaml:16:56: spec.rules[0].worseBy: "5pp" is in percentage points, but latencyP95's tolerance is a duration (50ms) or a relative change (20%)`}},
	{"confidence out of range", baselineRule("    - {metric: errorRate, compare: baseline, worseBy: 0.5pp, confidence: 50%, action: pause}\n"),
		[]string{`plan.yaml:16:74: spec.rules[0].confidence: 50% is not a confidence: write a percentage above 50% and below 100%, e.g. 99% (or omit it for 99%)`}},
	{"threshold confidence out of range", baselineRule("    - {metric: errorRate, above: 1%, confidence: 100%, action: pause}\n"),
		[]string{`plan.yaml:16:50: spec.rules[0].confidence: 100% is not a confidence: write a percentage above 50% and below 100%, e.g. 95% (or omit it for analysis.confidence)`}},
	{"unknown judge", baselineRule("    - {metric: errorRate, above: 1%, judge: exact, action: pause}\n"),
		[]string{`plan.yaml:16:45: spec.rules[0].judge: "exact" is not a way to judge: write confidence or point`}},
	{"pass evidence judged by point", baselineRule("    - {metric: errorRate, above: 1%, judge: point, pass: evidence, action: pause}\n"),
		[]string{`plan.yaml:16:58: spec.rules[0].pass: pass: evidence needs judge: confidence: remove judge: point, or pass`}},
	{"tolerance without compare", baselineRule("    - {metric: errorRate, above: 1%, worseBy: 1pp, action: pause}\n"),
		[]string{`plan.yaml:16:47: spec.rules[0].worseBy: only rules with compare: baseline have a tolerance: remove worseBy, or add compare: baseline`}},
	{"error baseline with a window", baselineRule("    - {metric: errorRate, compare: baseline, worseBy: 0.5pp, window: 5m, action: pause}\n"),
		[]string{`plan.yaml:16:70: spec.rules[0].window: an errorRate rule with compare: baseline counts every request since the step started, so it has no window: remove window`}},
	{"short window on a latency", baselineRule("    - {metric: latencyP95, above: 1s, window: 1h, shortWindow: 5m, action: pause}\n"),
		[]string{`plan.yaml:16:64: spec.rules[0].shortWindow: only burnRate rules have a second window: remove shortWindow`}},
	{"short window not shorter", baselineRule("    - {metric: burnRate, above: 14.4x, window: 5m, shortWindow: 1h, action: pause}\n"),
		[]string{`plan.yaml:16:65: spec.rules[0].shortWindow: 1h is not shorter than the window (5m): the short window confirms the burn is still going on, e.g. window: 1h, shortWindow: 5m`}},
	{"points are percentages", baselineRule("    - {metric: errorRate, compare: baseline, worseBy: 0.5p, action: pause}\n"),
		[]string{`plan.yaml:16:55: spec.rules[0].worseBy: "0.5p" is not a threshold (use a latency like 600ms, a percentage like 1%, a multiplier like 2x, or a number)`}},
}

func TestCompareValidation(t *testing.T) {
	for _, tt := range compareCases {
		t.Run(tt.name, func(t *testing.T) {
			checkPlan(t, with(t, tt.edits...), tt.want)
		})
	}
}

// TestCompareDefaults checks the defaults a baseline rule gets and its
// derived name.
func TestCompareDefaults(t *testing.T) {
	p, err := Parse("plan.yaml", []byte(with(t, baselineRule(
		"    - {metric: errorRate, compare: baseline, worseBy: 0.5pp, for: 2m, action: rollback-immediate}\n"+
			"    - {metric: latencyP95, compare: baseline, worseBy: 20%, confidence: 99.9%, action: rollback-gradual}\n"+
			"    - {metric: burnRate, above: 14.4x, window: 1h, shortWindow: 5m, action: rollback-immediate}\n"+
			"    - {metric: burnRate, above: 2x, vs: stable, for: 10m, action: rollback-gradual}\n")...)))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Spec.Rules
	tests := []struct {
		got, want any
		what      string
	}{
		{r[0].Confidence, canary.Percent(0.99), "errorRate confidence"},
		{r[0].WorseBy.Value, 0.005, "0.5pp"},
		{r[0].Window.D(), 30 * time.Second, "errorRate window"},
		{r[1].Window.D(), 5 * time.Minute, "latency window (10 intervals)"},
		{r[1].Confidence, canary.Percent(0.999), "latency confidence"},
		{r[0].Name, "errorRate worse than baseline by 0.5pp for 2m", "name"},
		{r[1].Name, "latencyP95 worse than baseline by 20% for 30s", "name"},
		{r[2].Name, "burnRate > 14.4x over 1h and 5m for 30s", "name"},
		{r[3].Name, "burnRate > 2x vs stable for 10m", "name"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.what, tt.got, tt.want)
		}
	}
}
