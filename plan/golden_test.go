package plan

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestBrokenGolden prints every error of a plan full of mistakes, as
// `canary validate` shows them, and compares with testdata/broken.golden.
func TestBrokenGolden(t *testing.T) {
	_, err := Load("testdata/broken.yaml")
	if err == nil {
		t.Fatal("Load(testdata/broken.yaml): got no error, want many")
	}
	got := err.Error() + "\n"
	const golden = "testdata/broken.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -run TestBrokenGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("errors differ from %s (rerun with -update if the change is intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
