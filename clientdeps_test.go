package canary_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientDeps checks that the API client links no SQLite, no runner and
// no command-running code (package checks): `go list -deps ./client`, so
// the types the API speaks live in package api, not in manager.
func TestClientDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "./client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./client: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps ./client listed %d packages: %q", len(deps), out)
	}
	forbidden := []string{"modernc.org/sqlite", module + "/store", module + "/runner", module + "/checks", module + "/manager"}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("./client links %s", d)
			}
		}
	}
}
