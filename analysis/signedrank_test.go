package analysis

import (
	"math"
	"path/filepath"
	"testing"
)

// TestSignedRankAgainstR checks the paired test against R's
// wilcox.test(x, y, paired = TRUE) on fixed data sets
// (testdata/signedrank: data from gen_data.py, reference values from
// `Rscript reference.R > reference.csv`).
func TestSignedRankAgainstR(t *testing.T) {
	dir := filepath.Join("testdata", "signedrank")
	for _, row := range readCSV(t, filepath.Join(dir, "reference.csv")) {
		t.Run(row["name"]+"/mu="+row["mu"], func(t *testing.T) {
			c := readValues(t, filepath.Join(dir, row["name"]+".canary"))
			s := readValues(t, filepath.Join(dir, row["name"]+".stable"))
			d := make([]float64, len(c))
			for i := range c {
				if row["log"] == "TRUE" {
					d[i] = math.Log(c[i]) - math.Log(s[i])
				} else {
					d[i] = c[i] - s[i]
				}
			}
			mu, conf := num(t, row, "mu"), num(t, row, "conf")
			got, err := SignedRank(d, mu, conf)
			if err != nil {
				t.Fatal(err)
			}
			exact := row["exact"] == "TRUE"
			boundTol := 1e-12
			if !exact {
				boundTol = 2e-4 // R's uniroot
			}
			if got.Exact != exact {
				t.Errorf("exact = %v, want %v", got.Exact, exact)
			}
			if want := num(t, row, "p_greater"); !closeTo(got.P, want, 1e-9, 1e-15) {
				t.Errorf("p = %.17g, want %.17g", got.P, want)
			}
			if want := num(t, row, "lower"); !closeTo(got.Lower, want, 0, boundTol) {
				t.Errorf("lower = %.17g, want %.17g", got.Lower, want)
			}
			if want := num(t, row, "upper"); !closeTo(got.Upper, want, 0, boundTol) {
				t.Errorf("upper = %.17g, want %.17g", got.Upper, want)
			}
			// Exact: the median of the Walsh averages; otherwise R's
			// estimate is a root found by uniroot.
			if want := num(t, row, "estimate"); !closeTo(got.Estimate, want, 1e-12, boundTol) {
				t.Errorf("estimate = %.17g, want %.17g", got.Estimate, want)
			}
			if want := num(t, row, "median_walsh"); exact && !closeTo(got.Estimate, want, 1e-12, 1e-15) {
				t.Errorf("estimate = %.17g, want the median of the Walsh averages %.17g", got.Estimate, want)
			}
		})
	}
}

// TestSignedRankPairing: a latency factor both tracks share cancels out
// of the paired test, so it decides where the unpaired test cannot.
func TestSignedRankPairing(t *testing.T) {
	shared := []float64{1, 1.3, 0.8, 1.1, 0.7, 1.4, 0.9, 1.2, 1.0, 0.75}
	var c, s []float64
	for i, f := range shared {
		wobble := 1 + 0.01*float64(i%3-1)
		c, s = append(c, 0.45*f*wobble), append(s, 0.45*f/wobble)
	}
	paired, err := SignedRankRelative(c, s, 0.2, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	unpaired, _ := MannWhitneyRelative(mustSample(t, c), mustSample(t, s), 0.2, 0.99)
	if paired.Outcome() != NotWorse || unpaired.Outcome() != Inconclusive {
		t.Errorf("paired %s (%s), unpaired %s (%s); want the paired test to show not worse where the unpaired cannot",
			paired, paired.Outcome(), unpaired, unpaired.Outcome())
	}
}

func TestSignedRankSwapAndShift(t *testing.T) {
	d := []float64{0.12, -0.03, 0.2, 0.07, 0.15, 0.01, 0.09, -0.05, 0.11, 0.3}
	a, _ := SignedRank(d, 0, 0.95)
	neg := make([]float64, len(d))
	moved := make([]float64, len(d))
	for i, v := range d {
		neg[i], moved[i] = -v, v+0.5
	}
	b, _ := SignedRank(neg, 0, 0.95)
	if a.Estimate != -b.Estimate || a.Lower != -b.Upper || a.Upper != -b.Lower {
		t.Errorf("swapping the tracks: %s vs %s, want the mirror image", a, b)
	}
	m, _ := SignedRank(moved, 0.5, 0.95)
	if !closeTo(m.Estimate, a.Estimate+0.5, 0, 1e-12) || !closeTo(m.Lower, a.Lower+0.5, 0, 1e-12) || m.P != a.P {
		t.Errorf("moving the canary by 0.5 and the tolerance too: %s, want %s moved", m, a)
	}
}
