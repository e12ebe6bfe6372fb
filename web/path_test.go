package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/web"
)

func TestCanonicalPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/api/v1/rollouts", true},
		{"/api/v1/rollouts/", true}, // a trailing slash is the route's business
		{"/api/v1/rollouts/default/web/pause", true},
		{"", false},
		{"api/v1/rollouts", false},
		{"//api/v1/rollouts", false},
		{"/api/v1/rollouts/default//web", false},
		{"/api/v1/rollouts/./default/web", false},
		{"/api/v1/rollouts/default/web/..", false},
		{"/api/v1/rollouts/default/web/../../../../etc/passwd", false},
		{"/..", false},
	}
	for _, tt := range tests {
		if got := web.CanonicalPath(tt.path); got != tt.want {
			t.Errorf("CanonicalPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestNoRedirects: a path with //, /./ or /../ segments is refused with a
// 400 that says why, instead of ServeMux's 307 to another route; nothing
// reaches the manager, and a probe path is refused the same way.
func TestNoRedirects(t *testing.T) {
	e := newEnv(t)
	e.applied()
	before := len(e.api.Calls())
	paths := []string{
		"POST /api/v1/rollouts/default/web/../web/pause",
		"DELETE /api/v1/rollouts/default/web/../other",
		"GET /api/v1/rollouts/default/./web",
		"GET /api/v1//rollouts",
		"GET /api/v1/rollouts/default/web/events/..",
		"GET /api/../healthz",
		"GET /api/v1/rollouts/%2e%2e/web",
	}
	for _, route := range paths {
		method, path, _ := strings.Cut(route, " ")
		for _, token := range []string{"", opToken} {
			r := e.do(method, path, token, "")
			want(t, r, http.StatusBadRequest, canary.EINVALID)
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("%s: Location %q: a refused path must not redirect", route, loc)
			}
			if msg := errorOf(t, r).Message; !strings.Contains(msg, "send the path itself") {
				t.Errorf("%s: message %q does not say what is wrong", route, msg)
			}
		}
	}
	if got := e.api.Calls()[before:]; len(got) != 0 {
		t.Errorf("refused paths reached the manager: %q", got)
	}
	want(t, e.do("GET", "/api/v1/rollouts/default/web", opToken, ""), http.StatusOK, "")
}
