package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDemoStrategies: canary demo --scenario ab shows an A/B release
// promoted with the matching users on the new version from the first
// step, a mirrored blue/green promoted after the switch, and a bad one
// rolled back on mirrored traffic with no user request on the new version.
func TestDemoStrategies(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: takes about 20s")
	}
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), []string{"demo", "--scenario", "ab", "--hold", "3s", "--rps", "300", "-o", "text", "--no-color"}, &stdout, &stderr)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, stderr.String())
	}
	for _, want := range []string{
		"step 1 (0% + header X-User-ID=user-1*) started",
		"✓ ab            Succeeded",
		"switched all traffic to v1.0.0-elite at once",
		"✓ bluegreen     Succeeded",
		"✓ bluegreen-bad RolledBack  immediate",
		"preview http://127.0.0.1:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// The bad blue/green: users never reached the new version.
	bad := regexp.MustCompile(`✓ bluegreen-bad .* (\d+) canary, (\d+) 5xx seen by users`).FindStringSubmatch(out)
	if bad == nil || bad[1] != "0" || bad[2] != "0" {
		t.Errorf("bad blue/green summary: got %q, want 0 canary requests and 0 5xx seen by users", bad)
	}
	// The copies reached it: its rules judged them.
	m := regexp.MustCompile(`mirrored copies: (\d+) answered`).FindAllStringSubmatch(out, -1)
	if len(m) != 2 {
		t.Fatalf("mirrored copies lines: got %d, want 2 (one per blue/green)", len(m))
	}
	for _, s := range m {
		if n, _ := strconv.Atoi(s[1]); n < 50 {
			t.Errorf("mirrored copies answered: got %d, want at least 50 (minRequests)", n)
		}
	}
}
