package analysis

import (
	"math"
	"path/filepath"
	"testing"
)

// TestTailsAgainstR checks p-values far in the tails, down to 1e-300,
// against R (testdata/tails: `Rscript reference.R > reference.csv`; the
// normal rows also agree with mpmath at 50 digits, check_mpmath.py):
// the normal survival function, and the rank tests' normal
// approximations on data built by the formulas in reference.R. A p-value
// computed as 1 − Φ(z) would be 0 beyond z ≈ 8.3 and off by up to 1e-7
// relative well before.
func TestTailsAgainstR(t *testing.T) {
	rows := readCSV(t, filepath.Join("testdata", "tails", "reference.csv"))
	if len(rows) < 20 {
		t.Fatalf("%d reference rows", len(rows))
	}
	for _, row := range rows {
		a, b, c, want := num(t, row, "a"), num(t, row, "b"), num(t, row, "c"), num(t, row, "p")
		var got float64
		switch row["kind"] {
		case "normal":
			got = NormalSurvival(a)
			if lower := NormalCDF(-a); lower != got {
				t.Errorf("NormalCDF(%v) = %v, want NormalSurvival(%v) = %v", -a, lower, a, got)
			}
			if lg := LogNormalSurvival(a); !closeTo(lg, math.Log(want), 1e-12, 0) {
				t.Errorf("LogNormalSurvival(%v) = %v, want %v", a, lg, math.Log(want))
			}
		case "mannwhitney":
			x, y := make([]float64, int(a)), make([]float64, int(b))
			for i := range x {
				x[i] = float64(i+1) + c
			}
			for j := range y {
				y[j] = float64(j+1) + 0.5
			}
			u, err := MannWhitneyU(mustSample(t, x), mustSample(t, y), 0, Greater)
			if err != nil || u.Exact {
				t.Fatalf("%v: %+v, %v", row, u, err)
			}
			got = u.P
		case "signedrank":
			d := make([]float64, int(a))
			for i := range d {
				d[i] = float64(i+1) - b - 0.25
			}
			cmp, err := SignedRank(d, 0, 0.99)
			if err != nil || cmp.Exact {
				t.Fatalf("%v: %+v, %v", row, cmp, err)
			}
			got = cmp.P
		default:
			t.Fatalf("unknown kind %q", row["kind"])
		}
		// R's own tail is accurate to a few ulps; the test statistics
		// agree to rounding, and p moves by z·Δz relative with it.
		if !closeTo(got, want, 1e-12, 0) {
			t.Errorf("%s %v/%v/%v: p = %v, want %v (relative error %.2g)", row["kind"], a, b, c, got, want, math.Abs(got-want)/want)
		}
	}
}
