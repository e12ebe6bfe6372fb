package docgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rootCopy copies the root package's source into a temp dir, applying one
// replacement to plan.go.
func rootCopy(t *testing.T, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	paths, err := filepath.Glob("../../../*.go")
	if err != nil || len(paths) == 0 {
		t.Fatalf("root sources: got %v (%v)", paths, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) == "plan.go" && old != "" {
			if !strings.Contains(string(data), old) {
				t.Fatalf("plan.go has no %q", old)
			}
			data = []byte(strings.Replace(string(data), old, new, 1))
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLoadDetectsDrift checks that a change in the root package that the
// generator's rules do not know about fails generation instead of
// silently dropping a constraint from the schema.
func TestLoadDetectsDrift(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"renamed field with a rule", "Webhook string `json:\"webhook,omitempty\"`", "Hook string `json:\"webhook,omitempty\"`",
			"field rule Approval.Webhook: no such field in the plan"},
		{"renamed property in a one-of", "Below Quantity `json:\"below,omitzero\"`", "Below Quantity `json:\"under,omitzero\"`",
			`type rule for Rule names "below", which it lacks`},
		{"new text type without a unit", "Port int `json:\"port,omitempty\"`", "Port Ratio `json:\"port,omitempty\"`\n}\n\ntype Ratio float64\n\nfunc (r *Ratio) UnmarshalText(b []byte) error { return nil }\n\nvar _ = struct {",
			"Ratio is decoded from text but has no unit in docgen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(rootCopy(t, tt.old, tt.new))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadUnchangedSource(t *testing.T) {
	m, err := Load(rootCopy(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Fields) < 100 {
		t.Errorf("got %d fields, want the whole plan (100+)", len(m.Fields))
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load(empty dir): got no error, want one")
	}
}

// TestMarkersAreNotDocs checks that controller-gen markers in the root
// package's doc comments (for the Rollout CRD) do not reach the reference.
func TestMarkersAreNotDocs(t *testing.T) {
	want, err := Load(rootCopy(t, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	// Step.Weight's doc comment, from its first line to the field: markers
	// go before and after it.
	const first, decl = "\t// Weight is the canary's share of traffic in percent", "\tWeight int `json:\"weight,omitempty\"`\n"
	src, err := os.ReadFile("../../../plan.go")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(src), first)
	j := strings.Index(string(src[max(i, 0):]), decl)
	if i < 0 || j < 0 {
		t.Fatalf("plan.go has no Step.Weight documented from %q to %q", first, decl)
	}
	doc := string(src[i : i+j])
	marked := "\t// +kubebuilder:validation:Minimum=1\n\t//\n" + doc + "\t//\n\t// +kubebuilder:validation:Maximum=100\n\t// +optional\n"
	got, err := Load(rootCopy(t, doc, marked))
	if err != nil {
		t.Fatal(err)
	}
	if g, w := string(got.Markdown()), string(want.Markdown()); g != w {
		t.Errorf("markers changed the reference:\n%s", firstDiff(g, w))
	}
}

// firstDiff shows where two texts start to differ.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-80)
	return "got:  ..." + got[lo:min(len(got), i+80)] + "\nwant: ..." + want[lo:min(len(want), i+80)]
}
