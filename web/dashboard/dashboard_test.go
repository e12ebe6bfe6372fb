package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// next stands for the API: it answers every request it gets with 418 so
// the tests see which requests went past the dashboard.
var next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusTeapot)
})

func serve(t *testing.T, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	h, err := New(Config{Next: next})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name, method, target string
		status               int
		typ                  string
	}{
		{"list page", "GET", "/", 200, "text/html; charset=utf-8"},
		{"list page filtered", "GET", "/?phase=Paused", 200, "text/html; charset=utf-8"},
		{"rollout page", "GET", "/rollouts/default/checkout", 200, "text/html; charset=utf-8"},
		{"report page", "GET", "/rollouts/default/checkout/report", 200, "text/html; charset=utf-8"},
		{"head of a page", "HEAD", "/", 200, "text/html; charset=utf-8"},
		{"script", "GET", "/assets/app.js", 200, "text/javascript; charset=utf-8"},
		{"module", "GET", "/assets/chart.js", 200, "text/javascript; charset=utf-8"},
		{"style", "GET", "/assets/style.css", 200, "text/css; charset=utf-8"},
		{"icon", "GET", "/assets/icon.svg", 200, "image/svg+xml"},
		// The shell is served at the page paths only.
		{"shell as an asset", "GET", "/assets/index.html", 404, ""},
		{"unknown asset", "GET", "/assets/nope.js", 404, ""},
		// A path with . or .. segments is not redirected (ServeMux would
		// answer 307): it goes to the API as it is, which refuses it.
		{"path escape", "GET", "/assets/..%2fdashboard.go", 418, ""},
		{"dot-dot in a page path", "GET", "/rollouts/default/../checkout", 418, ""},
		{"dot segment", "GET", "/rollouts/./default/checkout", 418, ""},
		{"double slash", "GET", "//assets/app.js", 418, ""},
		// Names the API would refuse are no page either.
		{"upper-case name", "GET", "/rollouts/default/Checkout", 404, ""},
		{"dotted namespace", "GET", "/rollouts/a.b/c", 404, ""},
		{"name with a dash at the end", "GET", "/rollouts/default/x-", 404, ""},
		// Everything else is the API's.
		{"API", "GET", "/api/v1/rollouts", 418, ""},
		{"health", "GET", "/healthz", 418, ""},
		{"flags", "GET", "/feature-flags", 418, ""},
		{"a post to the root", "POST", "/", 418, ""},
		{"unknown path", "GET", "/favicon.ico", 418, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, tt.method, tt.target, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.target, res.StatusCode, tt.status)
			}
			if tt.typ != "" {
				if got := res.Header.Get("Content-Type"); got != tt.typ {
					t.Errorf("Content-Type %q, want %q", got, tt.typ)
				}
				if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options %q, want nosniff", got)
				}
			}
		})
	}
}

func TestPageHeaders(t *testing.T) {
	res := serve(t, "GET", "/rollouts/default/checkout", nil)
	want := map[string]string{
		"Content-Security-Policy": CSP,
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-cache",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), `<script type="module" src="/assets/app.js">`) {
		t.Errorf("the shell does not load the app:\n%s", body)
	}
}

// TestRevalidation: assets carry an ETag and a revalidation is answered
// with 304 and no body.
func TestRevalidation(t *testing.T) {
	res := serve(t, "GET", "/assets/app.js", nil)
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	res = serve(t, "GET", "/assets/app.js", map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: status %d, want 304", res.StatusCode)
	}
}

// TestSelfContained: no asset refers to anything but this server, so the
// dashboard works offline and leaks nothing to third parties (the CSP
// enforces the same in the browser).
func TestSelfContained(t *testing.T) {
	url := regexp.MustCompile(`(?i:(https?:)?//[a-z0-9.-]+\.[a-z]{2,})|@import|url\(`)
	// The SVG namespace is a name, never fetched.
	const svgNS = "http://www.w3.org/2000/svg"
	err := fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(strings.ReplaceAll(string(b), svgNS, ""), "\n") {
			if m := url.FindString(line); m != "" {
				t.Errorf("%s:%d: external reference %q", p, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoMarkupFromData: the scripts never parse text as HTML, so nothing
// from the API (a message, a rule name, the report) can become markup.
func TestNoMarkupFromData(t *testing.T) {
	bad := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`)
	err := fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, _ := embedded.ReadFile(p)
		for i, line := range strings.Split(string(b), "\n") {
			if m := bad.FindString(line); m != "" {
				t.Errorf("%s:%d: %s", p, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDefaultNext(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/rollouts", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("without Next: status %d, want 404", rec.Code)
	}
}
