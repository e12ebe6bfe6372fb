package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/web/dashboard"
	"github.com/canary-dev/canary/web/dashboard/dashboardtest"
	"github.com/chromedp/chromedp"
)

// TestGenerationLinks: two generations of one name in the list link to
// two pages: the latest to the name, the older to name@GEN, whose page
// reads that generation from the API ({name}@GEN), and the page route
// takes name@GEN but not a bad GEN.
func TestGenerationLinks(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	ro := func(gen, version, phase string) string {
		return `{"id":` + gen + `,"name":"default/web","generation":` + gen + `,"plan":null,"state":{"name":"web","version":"` + version +
			`","phase":"` + phase + `","step":0,"weight":0,"rules":[]},"createdAt":"2025-08-14T09:00:00Z","updatedAt":"2025-08-14T09:00:00Z"}`
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		switch p := r.URL.Path; {
		case p == "/api/v1/whoami":
			w.Write([]byte(`{"name":"ops","role":"operator","insecure":true}`))
		case p == "/api/v1/rollouts":
			w.Write([]byte(`{"items":[` + ro("2", "v2", "Succeeded") + `,` + ro("1", "v1", "RolledBack") + `]}`))
		case p == "/api/v1/rollouts/default/web@1":
			w.Write([]byte(ro("1", "v1", "RolledBack")))
		case strings.HasSuffix(p, "/events"):
			w.Write([]byte(`{"items":[],"next":0}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"no"}}`))
		}
	})
	h, err := dashboard.New(dashboard.Config{Next: api})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for path, want := range map[string]int{"/rollouts/default/web@1": 200, "/rollouts/default/web@1/report": 200,
		"/rollouts/default/web@0": 404, "/rollouts/default/web@x": 404, "/rollouts/default/web@": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	b := dashboardtest.Start(t)
	ctx, cancel := context.WithTimeout(b.First(), 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	links, err := chromedp.Run(ctx, chromedp.Poll[[]string](`(() => { const a = [...document.querySelectorAll('tbody th a')].map((x) => x.getAttribute('href')); return a.length === 2 ? a : null; })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || len(links) != 2 || links[0] != "/rollouts/default/web" || links[1] != "/rollouts/default/web@1" {
		t.Fatalf("list links %q, %v; want the name for generation 2 and web@1 for generation 1", links, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+links[1])); err != nil {
		t.Fatal(err)
	}
	// The page asks the API for generation 1 (not the name's latest).
	canarytest.WaitUntil(t, 10*time.Second, "generation 1's page reads default/web@1", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(asked, "/api/v1/rollouts/default/web@1")
	})
	// An operator gets no buttons on an older generation's page (the API
	// refuses commands there), only a link to the latest.
	note, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const p = document.querySelector('#controls-older'); return p && document.querySelectorAll('#controls button').length === 0 ? p.textContent + ' -> ' + p.querySelector('a').getAttribute('href') : null; })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !strings.Contains(note, "generation 1") || !strings.HasSuffix(note, "-> /rollouts/default/web") {
		t.Errorf("controls on generation 1's page for an operator: %q, %v; want no buttons and a link to the latest", note, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(asked, "/api/v1/rollouts/default/web") {
		t.Errorf("a page read the bare name (the latest generation); asked:\n%s", strings.Join(asked, "\n"))
	}
}
