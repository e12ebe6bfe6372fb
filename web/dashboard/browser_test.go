package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary/web/dashboard"
	"github.com/canary-dev/canary/web/dashboard/dashboardtest"
	"github.com/chromedp/chromedp"
)

// stubAPI answers the few API calls the sign-in makes: token "viewer-secret-0123456789abcdef0123456789"
// is a viewer called watcher (whoami), anything else is refused, as the
// real API does it. Any other call (a POST probing the role) is 404.
func stubAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.Header.Get("Authorization") {
	case "Bearer viewer-secret-0123456789abcdef0123456789":
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="canary"`)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"unauthenticated","message":"the bearer token is not one this server accepts"}}`))
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/whoami":
		w.Write([]byte(`{"name":"watcher","role":"viewer"}`))
	case r.Method == "GET" && r.URL.Path == "/api/v1/rollouts":
		w.Write([]byte(`{"items":[]}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":"not_found","message":"no"}}`))
	}
}

// page starts the dashboard on a stub API and opens it in a browser.
func page(t *testing.T) (context.Context, *dashboardtest.Browser, string) {
	t.Helper()
	b := dashboardtest.Start(t)
	h, err := dashboard.New(dashboard.Config{Next: http.HandlerFunc(stubAPI)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(b.First(), 30*time.Second)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	return ctx, b, srv.URL
}

// eval runs an async JavaScript function body in the page and decodes its
// result into T.
func eval[T any](t *testing.T, ctx context.Context, body string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T]("(async () => {"+body+"})()", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate: %v\n%s", err, body)
	}
	return v
}

func TestSignIn(t *testing.T) {
	ctx, b, origin := page(t)
	// No token: the API refuses, the page asks for one.
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "wrong\r"), // Enter submits, as for a person
	)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Poll[string](`document.querySelector('.signin .error')?.textContent`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !strings.Contains(msg, "does not accept") {
		t.Fatalf("after a wrong token: %q, %v; want the refusal", msg, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("token"), "viewer-secret-0123456789abcdef0123456789\r"),
	); err != nil {
		t.Fatal(err)
	}
	role, err := chromedp.Run(ctx, chromedp.Poll[string](`document.querySelector('#session .role')?.textContent`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || role != "viewer" {
		t.Fatalf("role shown %q, %v; want viewer", role, err)
	}
	if who := eval[string](t, ctx, `return document.querySelector('#session .who')?.textContent`); who != "watcher" {
		t.Errorf("token name shown %q, want watcher (from whoami)", who)
	}
	empty, err := chromedp.Run(ctx, chromedp.Poll[string](`document.querySelector('.count')?.textContent`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !strings.Contains(empty, "No rollouts yet") {
		t.Errorf("the list says %q, %v; want the empty state", empty, err)
	}
	if tok := eval[string](t, ctx, `return sessionStorage.getItem('canary.token')`); tok != "viewer-secret-0123456789abcdef0123456789" {
		t.Errorf("sessionStorage holds %q, want the token", tok)
	}
	b.Check(t, origin)
}

// TestEventStreamParser feeds the SSE parser the API's stream cut at
// awkward places: inside a CRLF, inside a field, between events.
func TestEventStreamParser(t *testing.T) {
	ctx, _, _ := page(t)
	got := eval[string](t, ctx, `
		const m = await import('/assets/api.js');
		const out = [];
		const p = new m.SSEParser((type, data, id) => out.push([type, data, id]));
		for (const c of ['retry: 2000\n\nid: 1\r', '\nevent: stepStarted\nda', 'ta: {"seq":1,"message":"a: b"}\n',
			'\n: keep-alive\n\n', 'id: 2\nevent: generation\ndata: x\ndata: y\n\n', 'id: 3\ndata: cut off']) p.push(c);
		p.end();
		return JSON.stringify(out);`)
	want := `[["stepStarted",{"seq":1,"message":"a: b"},"1"],["generation","x\ny","2"]]`
	if got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
}

func TestFormat(t *testing.T) {
	ctx, _, _ := page(t)
	got := eval[[]string](t, ctx, `
		const f = await import('/assets/format.js');
		return [f.value('errorRate', 0.27907), f.value('errorRate', 0.0512), f.value('errorRate', 0.001234),
			f.value('latencyP95', 0.742), f.value('latencyP99', 1.25), f.value('burnRate', 1.5), f.value('requestRate', 12.345),
			f.dur(0), f.dur(45200), f.dur(3723000), f.durNS(3e9)];`)
	want := []string{"27.9%", "5.12%", "0.123%", "742ms", "1.25s", "1.5x", "12.35", "0s", "45s", "1h2m3s", "3s"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestReportMarkdown renders the report package's golden reports and
// checks that every table, heading, list and checkbox became an element
// and no Markdown syntax is left as text.
func TestReportMarkdown(t *testing.T) {
	ctx, _, _ := page(t)
	files, _ := filepath.Glob("../../report/testdata/*.md")
	if len(files) == 0 {
		t.Fatal("no golden reports in ../../report/testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			md, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src, _ := json.Marshal(string(md))
			type shape struct {
				Headings, Tables, Rows, Tasks, TopDecisions int
				Leftover                                    string
			}
			got := eval[shape](t, ctx, `
				const m = await import('/assets/markdown.js');
				const box = document.createElement('div');
				box.append(m.render(`+string(src)+`));
				const dec = [...box.querySelectorAll('h2')].find((h) => h.textContent === 'Decisions');
				const list = dec && dec.nextElementSibling && dec.nextElementSibling.tagName === 'OL' ? dec.nextElementSibling : null;
				const text = box.textContent;
				const left = ['|---', '**', '- [ ]', '## '].filter((s) => text.includes(s)).join(' ');
				return {Headings: box.querySelectorAll('h1,h2,h3').length, Tables: box.querySelectorAll('table').length,
					Rows: box.querySelectorAll('tbody tr').length, Tasks: box.querySelectorAll('li.task input[type=checkbox]').length,
					TopDecisions: list ? list.children.length : 0, Leftover: left};`)
			var want shape
			lines := strings.Split(string(md), "\n")
			inDecisions := false
			for i, l := range lines {
				switch {
				case strings.HasPrefix(l, "#"):
					want.Headings++
					inDecisions = l == "## Decisions"
				case strings.HasPrefix(l, "|---"):
					want.Tables++
					for _, r := range lines[i+1:] {
						if !strings.HasPrefix(r, "|") {
							break
						}
						want.Rows++
					}
				case strings.HasPrefix(l, "- [ ] "), strings.HasPrefix(l, "- [x] "):
					want.Tasks++
				case inDecisions && len(l) > 2 && l[0] >= '1' && l[0] <= '9' && strings.Contains(l[:4], ". "):
					want.TopDecisions++
				}
			}
			if got != want {
				t.Errorf("rendered %+v\n    want %+v", got, want)
			}
		})
	}
}

// TestNotificationsTable draws the rollout page's notifications in the
// browser: a failed row says "failed" in its text (for screen readers),
// not only in color; the summary counts; the follow-up timer runs only
// while a notification is on its way.
func TestNotificationsTable(t *testing.T) {
	ctx, _, _ := page(t)
	type out struct {
		Summary, FailedText, DeliveredText, RowClasses string
		FailedColor, DeliveredColor                    string
		Follow, FollowDone                             int
	}
	got := eval[out](t, ctx, `
		const m = await import('/assets/notifications.js');
		const now = Date.parse('2025-08-14T09:00:10Z');
		const page = {counts: {total: 3, pending: 1, claimed: 0, delivered: 1, dead: 1, retrying: 1}, more: 0, items: [
			{key: 'k3', audience: 'ops', channel: 'webhook', event: 'rolledBack', status: 'pending', failed: true, attempts: 2,
			 lastError: 'webhook answered 500 Internal Server Error', createdAt: '2025-08-14T09:00:00Z', nextAttempt: '2025-08-14T09:00:14Z'},
			{key: 'k2', audience: 'oncall', channel: 'pagerduty', event: 'rolledBack', status: 'dead', failed: true, attempts: 10,
			 lastError: 'gave up', createdAt: '2025-08-14T09:00:00Z', finishedAt: '2025-08-14T09:00:09Z'},
			{key: 'k1', audience: 'eng', channel: 'webhook', event: 'stepStarted', status: 'delivered', attempts: 1,
			 createdAt: '2025-08-14T09:00:00Z', finishedAt: '2025-08-14T09:00:01Z'}]};
		const box = document.createElement('div');
		document.body.append(box);
		box.append(...m.table(page, now).filter(Boolean));
		const rows = [...box.querySelectorAll('tbody tr')];
		const done = {counts: page.counts, items: [page.items[1], page.items[2]]};
		return {Summary: box.querySelector('#notify-summary').textContent,
			FailedText: rows[0].querySelector('.notify-status').textContent,
			DeliveredText: rows[2].querySelector('.notify-status').textContent,
			RowClasses: rows.map((r) => r.className + ':' + r.dataset.failed).join(' '),
			FailedColor: getComputedStyle(rows[1].querySelector('.delivery')).color,
			DeliveredColor: getComputedStyle(rows[2].querySelector('.delivery')).color,
			Follow: m.followDelay(page, now), FollowDone: m.followDelay(done, now)};`)
	if got.Summary != "1 sent · 2 failed (1 retrying, 1 given up)" {
		t.Errorf("summary %q", got.Summary)
	}
	if !strings.Contains(got.FailedText, "failed, retry at") || got.DeliveredText != "✓ delivered" {
		t.Errorf("status texts %q and %q; want the failure in words", got.FailedText, got.DeliveredText)
	}
	if got.RowClasses != "failed:true failed:true delivered:false" {
		t.Errorf("row classes %q", got.RowClasses)
	}
	if got.FailedColor == got.DeliveredColor {
		t.Errorf("failed and delivered both in %s", got.FailedColor)
	}
	// The retry is due in 4s: look again 1.5s after it; nothing on its way: no timer.
	if got.Follow != 5500 || got.FollowDone != -1 {
		t.Errorf("follow-up in %d ms and %d ms, want 5500 and -1", got.Follow, got.FollowDone)
	}
}
