package proxy

import (
	"net/http"
	"testing"
)

// TestSetRouting: a front door's next rollout brings a new canary and a
// promotion leaves the canary's URL in the stable slot; Routing reports
// what is served and requests go there.
func TestSetRouting(t *testing.T) {
	blue, green, next := backend(t, "blue").URL, backend(t, "green").URL, backend(t, "next").URL
	tp := startProxy(t, Config{Stable: blue, Canary: green})
	if err := tp.SetRouting(green, green, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if status, _, body := tp.get(t, "/", nil); status != http.StatusOK || body != "green" {
			t.Fatalf("request %d after the promoted routing: %d %q, want green", i, status, body)
		}
	}
	if err := tp.SetRouting(green, next, 50); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range 10 {
		_, _, body := tp.get(t, "/", nil)
		seen[body]++
	}
	if seen["green"] != 5 || seen["next"] != 5 {
		t.Errorf("at 50%% with the next canary: %v, want 5 green and 5 next", seen)
	}
	if s, c, w := tp.Routing(); s != green || c != next || w != 50 {
		t.Errorf("Routing() = %s %s %d, want %s %s 50", s, c, w, green, next)
	}
	if err := tp.SetRouting("ftp://x", next, 0); err == nil {
		t.Error("a bad stable URL was accepted")
	}
	if err := tp.SetRouting(green, next, 101); err == nil {
		t.Error("weight 101 was accepted")
	}
}
