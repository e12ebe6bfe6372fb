package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	canary "github.com/canary-dev/canary"
)

// planFiles are the valid plans the package ships or tests with.
func planFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files := map[string][]byte{"base": []byte(basePlan), "defaults": []byte(defaultsPlan)}
	paths, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(paths) < 2 {
		t.Fatalf("examples: got %v (%v), want at least 2 plans", paths, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = data
	}
	return files
}

func TestExamplesAreValid(t *testing.T) {
	for _, name := range []string{"../examples/recoveryos.yaml", "../examples/local.yaml"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			p, err := Load(name)
			if err != nil {
				t.Fatalf("Load: got\n%v\nwant no error", err)
			}
			if errs := Validate(p); len(errs) > 0 {
				t.Errorf("Validate after Load: got\n%v\nwant no error", errs)
			}
		})
	}
}

// TestRecoveryOSExample checks that the runbook's plan says what the
// runbook says.
func TestRecoveryOSExample(t *testing.T) {
	p, err := Load("../examples/recoveryos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range p.Spec.Rules {
		rows = append(rows, r.Name+" → "+r.Action+" "+string(r.Urgency))
	}
	want := []string{
		"latencyP95 > 600ms for 5m → rollback-gradual medium",
		"latencyP95 > 1000ms for 2m → rollback-immediate high",
		"errorRate > 1% for 5m → rollback-gradual medium",
		"errorRate > 5% for 1m → rollback-immediate critical",
		"burnRate > 2x for 10m → rollback-gradual medium",
		"burnRate > 5x for 2m → rollback-immediate high",
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("decision matrix:\ngot  %q\nwant %q", rows, want)
	}
	var steps []string
	for _, s := range p.Spec.Steps {
		steps = append(steps, s.Hold.String())
	}
	if got := len(p.Spec.Steps); got != 5 || p.Spec.Steps[4].Weight != 100 || p.Spec.Steps[0].Hold.String() != "30m" {
		t.Errorf("steps: got %d steps with holds %v, want 5/10/25/50 for 30m each, then 100", got, steps)
	}
	h := p.Spec.Traffic.Helm
	if h == nil || h.Release != "recoveryos" || h.CanaryRelease != "recoveryos-canary" || h.Set["image.tag"] != "v1.0.0-elite" {
		t.Errorf("helm traffic: got %+v, want release recoveryos, canary recoveryos-canary, image.tag v1.0.0-elite", h)
	}
}

// TestJSONRoundTrip checks that a parsed plan survives encoding/json, as
// plans sent to and stored by the API do, and still validates.
func TestJSONRoundTrip(t *testing.T) {
	for name, data := range planFiles(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			p, err := Parse(name, data)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var back canary.Plan
			if err := json.Unmarshal(dropEmptyThresholds(t, b), &back); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if errs := Validate(&back); len(errs) > 0 {
				t.Errorf("Validate after the round trip: got\n%v\nwant no error", errs)
			}
			// Compared as JSON: percentages parsed from text differ from
			// their defaults in the last bit (99.9/100 ≠ 0.999).
			again, err := json.Marshal(&back)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(b) {
				t.Errorf("round trip changed the plan:\ngot  %s\nwant %s", again, b)
			}
		})
	}
}

// dropEmptyThresholds removes "above": "" and "below": "" from a marshaled
// plan. canary.Quantity is a struct, so `json:",omitempty"` never omits
// it, and its UnmarshalText rejects "". Remove this once the root package
// tags Rule.Above and Rule.Below `omitzero` (Quantity has IsZero).
func dropEmptyThresholds(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	rules, _ := m["spec"].(map[string]any)["rules"].([]any)
	for _, r := range rules {
		for _, k := range []string{"above", "below"} {
			if r.(map[string]any)[k] == "" {
				delete(r.(map[string]any), k)
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
