package analysis

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestCompareErrorRatesAgainstSciPy checks the mixture likelihood ratio
// and the confidence bounds against numerical integration and root
// finding in SciPy (testdata/msprt/reference.py, which does not use the
// closed forms).
func TestCompareErrorRatesAgainstSciPy(t *testing.T) {
	for _, row := range readCSV(t, filepath.Join("testdata", "msprt", "reference.csv")) {
		c := Counts{num(t, row, "nc"), num(t, row, "ec"), num(t, row, "ns"), num(t, row, "es")}
		tol, conf, tau := num(t, row, "tol"), num(t, row, "conf"), num(t, row, "tau")
		got, err := CompareErrorRates(c, tol, conf, tau)
		if err != nil {
			t.Fatal(err)
		}
		if want := num(t, row, "estimate"); !closeTo(got.Estimate, want, 1e-12, 1e-15) {
			t.Errorf("%+v: estimate = %v, want %v", c, got.Estimate, want)
		}
		if lr, want := mixtureLR(got.Estimate, diffVariance(c), tol, tau), num(t, row, "lr_at_tol"); !closeTo(lr, want, 1e-9, 0) {
			t.Errorf("%+v: likelihood ratio at the tolerance = %.15g, want %.15g", c, lr, want)
		}
		if want := math.Min(1, 1/num(t, row, "lr_at_tol")); got.Estimate > tol && !closeTo(got.P, want, 1e-9, 0) {
			t.Errorf("%+v: P = %v, want %v", c, got.P, want)
		}
		if want := num(t, row, "lower"); !closeTo(got.Lower, want, 1e-9, 1e-14) {
			t.Errorf("%+v: lower = %.15g, want %.15g", c, got.Lower, want)
		}
		if want := num(t, row, "upper"); !closeTo(got.Upper, want, 1e-9, 1e-14) {
			t.Errorf("%+v: upper = %.15g, want %.15g", c, got.Upper, want)
		}
	}
}

// TestCompareErrorRatesAlwaysValid checks the point of the sequential
// test: looking after every interval of a long rollout, a canary exactly
// as good as the stable (plus the tolerance) is declared worse in at most
// 1 − confidence of rollouts, at high and at low traffic; a fixed-sample
// z-test looked at as often would fail far more often.
func TestCompareErrorRatesAlwaysValid(t *testing.T) {
	if testing.Short() {
		t.Skip("Monte Carlo")
	}
	tests := []struct {
		name           string
		canaryPerLook  int
		stablePerLook  int
		stableRate     float64
		tolerance      float64
		looks          int
		confidence     float64
		maxFalseAlarms float64
	}{
		{"5% of 200 rps, 30s looks, 2h", 300, 5700, 0.001, 0, 240, 0.95, 0.05},
		{"low traffic", 15, 285, 0.002, 0, 240, 0.95, 0.05},
		{"at the tolerance", 300, 5700, 0.001, 0.005, 240, 0.95, 0.05},
		{"high error rates", 300, 300, 0.05, 0, 120, 0.9, 0.10},
	}
	const runs = 2000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			canaryRate := tt.stableRate + tt.tolerance
			bc := distuv.Binomial{N: float64(tt.canaryPerLook), P: canaryRate, Src: rng}
			bs := distuv.Binomial{N: float64(tt.stablePerLook), P: tt.stableRate, Src: rng}
			alarms, naive := 0, 0
			zCrit := std.Quantile(tt.confidence)
			for range runs {
				var c Counts
				alarmed, naiveAlarmed := false, false
				for range tt.looks {
					c = c.Add(Counts{float64(tt.canaryPerLook), bc.Rand(), float64(tt.stablePerLook), bs.Rand()})
					cmp, err := CompareErrorRates(c, tt.tolerance, tt.confidence, MixtureScale(tt.tolerance))
					if err != nil {
						t.Fatal(err)
					}
					alarmed = alarmed || cmp.Outcome() == Worse
					if se := math.Sqrt(diffVariance(c)); (cmp.Estimate-tt.tolerance)/se > zCrit {
						naiveAlarmed = true
					}
				}
				if alarmed {
					alarms++
				}
				if naiveAlarmed {
					naive++
				}
			}
			rate := float64(alarms) / runs
			t.Logf("false alarms: mSPRT %.3f, repeated z-test %.3f (limit %.3f)", rate, float64(naive)/runs, tt.maxFalseAlarms)
			if rate > tt.maxFalseAlarms {
				t.Errorf("false alarm rate %.3f over %d looks, want at most %.3f", rate, tt.looks, tt.maxFalseAlarms)
			}
			if naive <= alarms {
				t.Errorf("a repeated fixed-sample test alarmed %d times, the sequential test %d: the test is not sequential", naive, alarms)
			}
		})
	}
}

// TestCompareErrorRatesDetects checks power: a canary at 1.5% errors
// against a stable at 0.1% is found worse by more than half a point
// within a few minutes of 10 canary requests per second.
func TestCompareErrorRatesDetects(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	bc := distuv.Binomial{N: 300, P: 0.015, Src: rng}
	bs := distuv.Binomial{N: 5700, P: 0.001, Src: rng}
	var c Counts
	for look := 1; look <= 40; look++ {
		c = c.Add(Counts{300, bc.Rand(), 5700, bs.Rand()})
		cmp, err := CompareErrorRates(c, 0.005, 0.99, MixtureScale(0.005))
		if err != nil {
			t.Fatal(err)
		}
		if cmp.Outcome() == Worse {
			t.Logf("detected after %d looks (%s)", look, cmp)
			if look > 20 {
				t.Errorf("detected after %d looks of 30s, want within 10 minutes", look)
			}
			return
		}
	}
	t.Fatal("a 1.4 point regression was not detected in 20 minutes")
}

func TestCompareErrorRatesSymmetry(t *testing.T) {
	c := Counts{1200, 18, 22800, 23}
	a, _ := CompareErrorRates(c, 0, 0.99, 0.01)
	b, _ := CompareErrorRates(Counts{c.StableRequests, c.StableErrors, c.CanaryRequests, c.CanaryErrors}, 0, 0.99, 0.01)
	if !closeTo(a.Estimate, -b.Estimate, 1e-12, 0) || !closeTo(a.Lower, -b.Upper, 1e-12, 0) || !closeTo(a.Upper, -b.Lower, 1e-12, 0) {
		t.Errorf("swapping the tracks: %s vs %s, want the negated interval", a, b)
	}
}

func TestCompareErrorRatesInvalid(t *testing.T) {
	for _, c := range []Counts{{-1, 0, 10, 0}, {10, 11, 10, 0}, {math.NaN(), 0, 1, 0}} {
		if _, err := CompareErrorRates(c, 0, 0.99, 0.01); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := CompareErrorRates(Counts{0, 0, 10, 0}, 0, 0.99, 0.01); err != ErrEmpty {
		t.Errorf("no canary requests: err = %v, want ErrEmpty", err)
	}
	if _, err := CompareErrorRates(Counts{10, 0, 10, 0}, 0, 1, 0.01); err == nil {
		t.Error("confidence 100%: no error")
	}
}
