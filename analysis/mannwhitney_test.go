package analysis

import (
	"bufio"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readValues reads one number per line.
func readValues(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		vs = append(vs, v)
	}
	return vs
}

// readCSV reads a reference table, skipping # comment lines, into maps
// keyed by the header.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") && strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

func num(t *testing.T, row map[string]string, key string) float64 {
	t.Helper()
	s := row[key]
	if s == "NA" {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", key, s, err)
	}
	return v
}

// close reports whether got is within rel relative or abs absolute of want.
func closeTo(got, want, rel, abs float64) bool {
	if math.IsNaN(want) {
		return true
	}
	d := math.Abs(got - want)
	return d <= abs || d <= rel*math.Abs(want)
}

// TestMannWhitneyAgainstR checks statistic, p-values, bounds and the
// Hodges-Lehmann estimate against R's wilcox.test on fixed data sets
// (testdata/mannwhitney: data from gen_data.py, reference values from
// `Rscript reference.R > reference.csv`).
func TestMannWhitneyAgainstR(t *testing.T) {
	dir := filepath.Join("testdata", "mannwhitney")
	for _, row := range readCSV(t, filepath.Join(dir, "reference.csv")) {
		name := row["name"] + "/log=" + row["log"] + "/mu=" + row["mu"]
		t.Run(name, func(t *testing.T) {
			xs := readValues(t, filepath.Join(dir, row["name"]+".x"))
			ys := readValues(t, filepath.Join(dir, row["name"]+".y"))
			if row["log"] == "TRUE" {
				for i := range xs {
					xs[i] = math.Log(xs[i])
				}
				for i := range ys {
					ys[i] = math.Log(ys[i])
				}
			}
			x, _ := NewSample(xs)
			y, _ := NewSample(ys)
			mu, conf := num(t, row, "mu"), num(t, row, "conf")
			exact := row["exact"] == "TRUE"
			// R reports bounds found by uniroot with tol 1e-4 in the
			// asymptotic case; exact bounds are order statistics.
			boundTol := 1e-12
			if !exact {
				boundTol = 2e-4
			}
			for _, tc := range []struct {
				alt  Alternative
				pkey string
			}{{Greater, "p_greater"}, {Less, "p_less"}, {TwoSided, "p_two"}} {
				u, err := MannWhitneyU(x, y, mu, tc.alt)
				if err != nil {
					t.Fatal(err)
				}
				if u.Exact != exact {
					t.Errorf("%s: exact = %v, want %v", tc.pkey, u.Exact, exact)
				}
				if want := num(t, row, "W"); u.U != want {
					t.Errorf("U = %v, want %v", u.U, want)
				}
				if want := num(t, row, tc.pkey); !closeTo(u.P, want, 1e-9, 1e-15) {
					t.Errorf("%s = %.17g, want %.17g", tc.pkey, u.P, want)
				}
			}
			c, err := MannWhitney(x, y, mu, conf)
			if err != nil {
				t.Fatal(err)
			}
			if want := num(t, row, "lower"); !closeTo(c.Lower, want, 0, boundTol) {
				t.Errorf("lower bound = %.17g, want %.17g", c.Lower, want)
			}
			if want := num(t, row, "upper"); !closeTo(c.Upper, want, 0, boundTol) {
				t.Errorf("upper bound = %.17g, want %.17g", c.Upper, want)
			}
			if want := num(t, row, "median_diff"); !closeTo(c.Estimate, want, 1e-12, 1e-12) {
				t.Errorf("Hodges-Lehmann = %.17g, want median(outer(x, y, \"-\")) = %.17g", c.Estimate, want)
			}
			if want := num(t, row, "p_greater"); !closeTo(c.P, want, 1e-9, 1e-15) {
				t.Errorf("P = %v, want %v", c.P, want)
			}
		})
	}
}
