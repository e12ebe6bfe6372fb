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
		"step 1 (5%): 18,000 canary requests in the 30m hold, detecting +",
		"a canary like the stable passes within ",
		"latencyP95 worse than baseline by 20% for 1m: ok",
		"step 1 (5%): 1,200 canary requests per 2m window; with histograms it detects latencies",
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
		"latencyP95 > 600ms for 5m: CANNOT DECIDE",
		"step 1 (5%): 7.5 canary requests per 30s window, fewer than minRequests (100) even over 10 windows: it cannot pass (only decisive evidence breaches it); a window of 7m would do",
		"step 4 (50%): 75 canary requests per 30s window, pooled over 2 windows to reach minRequests (100); a 5xx rate of ",
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
	if want := "step 1 (5%): 300 canary requests per 30s window; its latencyP99 stands on 3 requests beyond it (want 500 in the window for 5: a window of 1m)"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
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
		i := strings.Index(out, "errorRate > 1% for 5s: ")
		j := strings.Index(out[i:], step)
		k := strings.Index(out[i+j:], "a 5xx rate of ")
		var v float64
		if _, err := fmt.Sscanf(out[i+j+k+len("a 5xx rate of "):], "%g%%", &v); err != nil {
			t.Fatalf("no rate for %s in:\n%s", step, out)
		}
		return v
	}
	l, h := rate(low, "step 1 (5%)"), rate(high, "step 1 (5%)")
	if !(h < l) || h <= 1 {
		t.Errorf("errorRate > 1%% at step 1 fires at %g%% at 50 req/s and %g%% at 1000 req/s; want above 1%% and lower with more traffic", l, h)
	}
}
