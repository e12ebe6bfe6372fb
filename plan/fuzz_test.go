package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, must
// return either a plan or an ErrorList, and a plan it returns must
// validate.
func FuzzParse(f *testing.F) {
	for _, data := range planFiles(f) {
		f.Add(data)
	}
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{"", "---\n", "a: &a [*a]\n", "- x\n", "{}", "spec: {rules: [{metric: latencyP1e5}]}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse: got %T %v, want a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.Msg == "" || strings.Contains(e.Msg, "internal error") {
					t.Fatalf("Parse: bad error %q", e.Error())
				}
			}
			return
		}
		if p == nil {
			t.Fatal("Parse: got neither a plan nor an error")
		}
		if errs := Validate(p); len(errs) > 0 {
			t.Fatalf("Validate after a successful Parse: %v", errs)
		}
	})
}
