package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// readmeWalkthrough is README's "Try a plan by hand": its commands and the
// request rate they send and validate at.
func readmeWalkthrough(t *testing.T) (section string, rate float64) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "### Try a plan by hand")
	if i < 0 {
		t.Fatal(`README has no "### Try a plan by hand"`)
	}
	section = s[i:]
	if j := regexp.MustCompile(`\n##+ `).FindStringIndex(section[4:]); j != nil {
		section = section[:j[0]+4]
	}
	m := regexp.MustCompile(`\./canary loadgen --rate (\d+) `).FindStringSubmatch(section)
	if m == nil {
		t.Fatalf("the walk-through sends no traffic with ./canary loadgen --rate N:\n%s", section)
	}
	rate, _ = strconv.ParseFloat(m[1], 64)
	for _, want := range []string{"./canary sample\n", "./canary validate --expected-rps " + m[1] + " examples/local.yaml\n",
		"./canary run examples/local.yaml", "http://127.0.0.1:8080/"} {
		if !strings.Contains(section, want) {
			t.Errorf("the walk-through lacks %q", want)
		}
	}
	return section, rate
}

// TestReadmeRateDecides: examples/local.yaml, as it is, decides at the
// rate README's walk-through sends (every rule ok at every step, as
// validate --expected-rps says), and cannot at a tenth of it, as README
// and the plan's comment say.
func TestReadmeRateDecides(t *testing.T) {
	_, rate := readmeWalkthrough(t)
	out, bad := sampleSize(t, "../../examples/local.yaml", rate)
	if bad != 0 {
		t.Errorf("examples/local.yaml cannot decide at README's %v requests/s (%d rules):\n%s", rate, bad, out)
	}
	if out, bad := sampleSize(t, "../../examples/local.yaml", rate/10); bad == 0 {
		t.Errorf("examples/local.yaml decides at %v requests/s, but README says a tenth of its rate pauses:\n%s", rate/10, out)
	}
}
