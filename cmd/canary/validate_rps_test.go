package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/canary-dev/canary/plan"
)

func sampleSize(t *testing.T, file string, rps float64) (string, int) {
	t.Helper()
	p, err := plan.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	bad := writeSampleSize(&b, p, rps)
	return b.String(), bad
}

func TestSampleSizeEnoughTraffic(t *testing.T) {
	out, bad := sampleSize(t, "../../simulate/testdata/baseline.yaml", 200)
	if bad != 0 {
		t.Errorf("%d rules cannot decide at 200 requests/s, want none:\n%s", bad, out)
	}
	for _, want := range []string{
		"errorRate worse than baseline by 0.5pp for 1m: ok",
		"step 1 (5%), 30m hold: 18,000 canary requests in the hold\n    errorRate worse than baseline by 0.5pp for 1m: detecting +",
		"a canary like the stable passes within ",
		"latencyP95 worse than baseline by 20% for 1m: ok",
		"latencyP95 worse than baseline by 20% for 1m: 1,200 canary requests per 2m window; with histograms it detects latencies",
		"per interval (a source without histograms): 4 interval pairs per window, need 10 for 99.9%: use window: 5m",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestSampleSizeTooLittleTraffic(t *testing.T) {
	out, bad := sampleSize(t, "../../simulate/testdata/runbook.yaml", 5)
	if bad != 6 {
		t.Errorf("%d rules cannot decide at 5 requests/s, want all 6:\n%s", bad, out)
	}
	// 5% of 5 requests/s is 0.25/s: 100 requests take 400s, 7 intervals,
	// more than the 10 windows a rule pools.
	for _, want := range []string{
		"  latencyP95 > 600ms for 5m: CANNOT DECIDE at step 1 (5%)\n",
		"  step 1 (5%), 30m hold: 7.5 canary requests per 30s window, fewer than minRequests (100) even over 10 windows\n",
		"    latencyP95 > 600ms for 5m: CANNOT DECIDE: it cannot pass (only decisive evidence breaches it); a window of 7m would do",
		"  step 4 (50%), 30m hold: 75 canary requests per 30s window, pooled over 2 windows to reach minRequests (100)\n",
		"    errorRate > 1% for 5m: a 5xx rate of ",
		"fires it within the 30m hold 4 times in 5 (11 breaching evaluations in a row, 95% confidence)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out, bad = sampleSize(t, "../../simulate/testdata/baseline.yaml", 5)
	if bad == 0 || !strings.Contains(out, "the step pauses; raise the weight or analysis.maxHoldExtension") {
		t.Errorf("the baseline error rule at 5 requests/s: %d bad, want a pause predicted:\n%s", bad, out)
	}
}

// TestSampleSizeQuantileTail: a P99 rule over 300 requests stands on 3
// requests beyond the quantile.
func TestSampleSizeQuantileTail(t *testing.T) {
	p, err := plan.Load("../../simulate/testdata/runbook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Rules[0].Metric = "latencyP99"
	p.Spec.Rules[0].Judge = "point" // judged with confidence it counts slow requests instead
	var b bytes.Buffer
	writeSampleSize(&b, p, 200)
	if !strings.Contains(b.String(), "  step 1 (5%), 30m hold: 300 canary requests per 30s window\n") {
		t.Errorf("step 1's header lacks its 300 requests per window:\n%s", b.String())
	}
	if got, want := ruleAt(t, b.String(), "step 1 (5%)", p.Spec.Rules[0].DisplayName()), "its latencyP99 stands on 3 requests beyond it (want 500 in the window for 5: a window of 1m)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSampleSizeConfidence: a rule judged with confidence reports the
// rate that fires it within the hold 4 times in 5, the engine's own
// arithmetic (engine.AdviseThreshold, whose agreement with the engine is
// tested in the engine): more traffic fires it at a lower rate.
func TestSampleSizeConfidence(t *testing.T) {
	low, _ := sampleSize(t, "../../examples/local.yaml", 50)
	high, _ := sampleSize(t, "../../examples/local.yaml", 1000)
	rate := func(out, step string) float64 {
		line := ruleAt(t, out, step, "errorRate > 1% for 5s")
		var v float64
		if _, err := fmt.Sscanf(line, "a 5xx rate of %g%%", &v); err != nil {
			t.Fatalf("no rate for %s in:\n%s", step, out)
		}
		return v
	}
	l, h := rate(low, "step 1 (5%), 10s hold"), rate(high, "step 1 (5%), 10s hold")
	if !(h < l) || h <= 1 {
		t.Errorf("errorRate > 1%% at step 1 fires at %g%% at 50 req/s and %g%% at 1000 req/s; want above 1%% and lower with more traffic", l, h)
	}
}

// ruleAt is rule's verdict under the step whose header starts with step.
func ruleAt(t *testing.T, out, step, rule string) string {
	t.Helper()
	i := strings.Index(out, "\n  "+step)
	if i < 0 {
		t.Fatalf("no %s in:\n%s", step, out)
	}
	for _, line := range strings.Split(out[i+1:], "\n")[1:] {
		if !strings.HasPrefix(line, "    ") {
			break
		}
		if v, ok := strings.CutPrefix(line, "    "+rule+": "); ok {
			return v
		}
	}
	t.Fatalf("no %s under %s in:\n%s", rule, step, out)
	return ""
}

// TestSampleSizeStepFactsOnce: a step's traffic is printed once, in its
// header, and each rule says only its verdict under it; a rule is named
// once in the summary and once per step.
func TestSampleSizeStepFactsOnce(t *testing.T) {
	out, _ := sampleSize(t, "../../simulate/testdata/runbook.yaml", 1000)
	headers := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "  step ") {
			continue
		}
		headers++
		_, fact, _ := strings.Cut(line, " hold: ")
		if n := strings.Count(out, fact); !strings.Contains(fact, " canary requests per ") || n != 1 {
			t.Errorf("step fact %q is printed %d times, want once:\n%s", fact, n, out)
		}
	}
	if headers != 4 {
		t.Errorf("%d step headers, want 4:\n%s", headers, out)
	}
	p, err := plan.Load("../../simulate/testdata/runbook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Spec.Rules {
		if n := strings.Count(out, "  "+r.DisplayName()+": "); n != 5 {
			t.Errorf("%s is named %d times, want 5 (the summary and 4 steps):\n%s", r.DisplayName(), n, out)
		}
	}
	if v := ruleAt(t, out, "step 2 (10%), 30m hold", "errorRate > 5% for 1m"); !strings.HasPrefix(v, "a 5xx rate of ") {
		t.Errorf("step 2's errorRate > 5%% verdict %q", v)
	}
}
