package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/canary-dev/canary/simulate"
)

// runSimulate runs `canary simulate args...` on its own (root.go adds it
// to the command line) and returns its output.
func runSimulate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c := newSimulateCmd()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(args)
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.Execute()
	return out.String(), err
}

const (
	simPlan  = "../../simulate/testdata/runbook.yaml"
	simSpike = "../../simulate/testdata/spike.yaml"
)

func TestSimulateTimeline(t *testing.T) {
	out, err := runSimulate(t, simPlan, "--scenario", simSpike)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"runbook over error spike (expected values):", "rollbackStarted", `=> rolled back 54m30s after the start by "errorRate > 1% for 5m"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimulateRunsReproducible(t *testing.T) {
	a, err := runSimulate(t, simPlan, "--scenario", simSpike, "--runs", "20", "--seed", "3")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := runSimulate(t, simPlan, "--scenario", simSpike, "--runs", "20", "--seed", "3")
	if a != b {
		t.Errorf("two runs with --seed 3 differ:\n%s\n%s", a, b)
	}
	for _, want := range []string{"20 runs (seed 3)", "missed 0", "detection time: median"} {
		if !strings.Contains(a, want) {
			t.Errorf("output lacks %q:\n%s", want, a)
		}
	}
}

func TestSimulateErrors(t *testing.T) {
	if _, err := runSimulate(t, simPlan); exitCode(err) != ExitInvalid {
		t.Errorf("without --scenario: %v (exit %d), want exit %d", err, exitCode(err), ExitInvalid)
	}
	_, err := runSimulate(t, simPlan, "--scenario", "../../simulate/testdata/missing.yaml")
	var oe *outcomeError
	if !errors.As(err, &oe) || exitCode(err) != ExitInvalid {
		t.Errorf("missing scenario: %v, want exit %d", err, ExitInvalid)
	}
}

// TestSimulateHelpFormat: simulate --help carries the scenario format
// itself (no "see the README"), its example is the README's, word for
// word, and it is a scenario the simulator accepts.
func TestSimulateHelpFormat(t *testing.T) {
	out, err := runSimulate(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, scenarioFormat) || strings.Contains(out, "README") {
		t.Errorf("simulate --help lacks the scenario format or sends the reader to the README:\n%s", out)
	}
	var example []string
	for _, line := range strings.Split(scenarioFormat, "\n") {
		if strings.HasPrefix(line, "  ") {
			example = append(example, strings.TrimPrefix(line, "  "))
		}
	}
	yaml := strings.Join(example, "\n") + "\n"
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+yaml+"```\n") {
		t.Errorf("README's scenario example differs from the help's:\n%s", yaml)
	}
	// The series file of the example does not exist here.
	yaml = strings.Replace(yaml, "series: recorded.csv", "", 1)
	if _, err := simulate.Parse("example.yaml", []byte(yaml)); err != nil {
		t.Errorf("the help's example is not a valid scenario: %v", err)
	}
}
