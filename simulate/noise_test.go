package simulate

import (
	"math"
	"testing"
	"time"
)

// TestExpectedKeepsFractionalErrors is the rounding case of issue 16: a
// canary 0.5pp worse than the stable (0.6% against 0.1%) of a service at
// 10 requests/s serves 15 requests an interval at 5%, 0.09 errors, which
// rounded to no errors every interval and passed. Without sampling the
// fractions now accumulate and the error rule (tolerance 0, 99%) rolls
// it back within its 2-hour step.
func TestExpectedKeepsFractionalErrors(t *testing.T) {
	sc := parseScenario(t, `rps: 10
stable: {errorRate: 0.1%}
canary: {errorRate: 0.6%}
`)
	res, err := Run(loadPlan(t, "errors-tolerance0.yaml"), sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.RolledBack || res.RollbackAt > 2*time.Hour {
		t.Errorf("phase %s, rolled back %v at %v: want a rollback within the 2h step", res.Phase, res.RolledBack, res.RollbackAt)
	}
	healthy, err := Run(loadPlan(t, "errors-tolerance0.yaml"), parseScenario(t, "rps: 10\nstable: {errorRate: 0.1%}\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if healthy.RolledBack {
		t.Errorf("a canary like the stable, expected values: rolled back at %v", healthy.RollbackAt)
	}
}

// TestErrorsBinomial: a track's errors are binomial given its requests
// (at 50% errors the variance of errors − requests/2 is requests/4), not
// drawn apart from them (Poisson: the variance would be 3× larger).
func TestErrorsBinomial(t *testing.T) {
	sc := parseScenario(t, "rps: 8\nstable: {errorRate: 50%}\n")
	tr := newTraffic(sc, Start, 10*time.Second, newRand(3, 3))
	tr.setWeight(Start, 25)
	var sum, sumSq, reqs float64
	const ticks = 20000
	for k := range ticks {
		td := tr.generate(time.Duration(k) * 10 * time.Second)
		n, e := td.requests[1], td.errors[1]
		if e > n || e != math.Round(e) {
			t.Fatalf("tick %d: %v errors of %v requests", k, e, n)
		}
		d := e - n/2
		sum, sumSq, reqs = sum+d, sumSq+d*d, reqs+n
	}
	mean, variance := sum/ticks, sumSq/ticks-(sum/ticks)*(sum/ticks)
	want := reqs / ticks / 4
	if math.Abs(mean) > 0.05 || math.Abs(variance-want) > 0.1*want {
		t.Errorf("errors − requests/2: mean %.3f, variance %.3f; want 0 and %.3f (binomial)", mean, variance, want)
	}
}

// TestNoiseModels checks the noise models against their definitions:
// AR(1) autocorrelation of the factors, the chance of slow intervals,
// the diurnal swing of traffic.
func TestNoiseModels(t *testing.T) {
	sc := parseScenario(t, `rps: 100
noise: {shared: 20%, latency: 10%, autocorrelation: 0.8, slow: 5%, slowBy: 3, diurnal: 50%, diurnalAt: 6h}
`)
	tr := newTraffic(sc, Start, 10*time.Second, newRand(5, 5))
	var prev, sxy, sxx float64
	slow := 0
	const draws = 20000
	for k := range draws {
		tr.drawNoise(time.Duration(k) * 30 * time.Second)
		x := math.Log(tr.sharedF) / 0.2
		if k > 0 {
			sxy, sxx = sxy+x*prev, sxx+prev*prev
		}
		prev = x
		// Own factors are lognormal with σ 10%: beyond 2 only when slow.
		if tr.latF[1] > 2 {
			slow++
		}
	}
	if r := sxy / sxx; math.Abs(r-0.8) > 0.03 {
		t.Errorf("lag-1 autocorrelation of the shared factor %.3f, want 0.8", r)
	}
	if f := float64(slow) / draws; math.Abs(f-0.05) > 0.01 {
		t.Errorf("slow intervals %.3f of draws, want 0.05", f)
	}
	exp := newTraffic(sc, Start, 10*time.Second, nil)
	if got := exp.m.rps(0) * exp.diurnal(0); math.Abs(got-150) > 1e-9 {
		t.Errorf("diurnal at its peak (diurnalAt 6h): %v requests/s, want 150", got)
	}
	if got := exp.diurnal(12 * time.Hour); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("diurnal 12h later: factor %v, want 0.5", got)
	}
	for _, bad := range []string{"autocorrelation: 1", "slow: 120%", "slowBy: 0.5", "diurnal: -10%"} {
		if _, err := Parse("s.yaml", []byte("rps: 10\nnoise: {"+bad+"}\n")); err == nil {
			t.Errorf("noise {%s}: no error", bad)
		}
	}
}
