// Package dashboardtest runs the dashboard's browser tests: a headless
// Chromium (Debian's /usr/bin/chromium) driven with chromedp, with every
// request the pages make and every uncaught script exception recorded, so a
// test can assert that the dashboard talks to its own server only and
// throws nothing. Only tests import it.
package dashboardtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// DefaultChromium is where Debian's chromium package puts the browser.
const DefaultChromium = "/usr/bin/chromium"

// EnvChromium names another browser binary.
const EnvChromium = "CANARY_CHROMIUM"

// Browser is one headless Chromium with a fresh profile.
type Browser struct {
	ctx context.Context

	mu         sync.Mutex
	requests   []string
	exceptions []string
}

// Start starts the browser; it stops when the test ends. Without a browser
// the test is skipped, or fails when CI=true (CI installs chromium). In
// -short mode the test is skipped: browser tests run in real time.
func Start(t testing.TB) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: runs in real time (not with -short)")
	}
	exe := os.Getenv(EnvChromium)
	if exe == "" {
		exe = DefaultChromium
	}
	if _, err := os.Stat(exe); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no browser at %s (install Debian's chromium; hack/test.sh does): %v", exe, err)
		}
		t.Skipf("no browser at %s (apt-get install chromium, or set %s): %v", exe, EnvChromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container: the sandbox needs user namespaces
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &Browser{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", exe, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b.ctx = ctx
	return b
}

// Tab opens a new tab: its own page and its own sessionStorage, like a
// second person at another browser window.
func (b *Browser) Tab(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(b.listen))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// First is the browser's first tab.
func (b *Browser) First() context.Context { return b.ctx }

// listen records requests and exceptions; it runs in the tab's event loop.
func (b *Browser) listen(ev any) {
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.mu.Lock()
		b.requests = append(b.requests, e.Request.URL)
		b.mu.Unlock()
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		b.mu.Lock()
		b.exceptions = append(b.exceptions, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1))
		b.mu.Unlock()
	}
}

// Requests are the URLs the pages asked for so far.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Check fails t for every uncaught exception and for every request that
// did not go to origin (e.g. "http://127.0.0.1:7070"): the dashboard works
// offline and tells no third party anything.
func (b *Browser) Check(t testing.TB, origin string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.exceptions {
		t.Errorf("script exception: %s", e)
	}
	for _, u := range b.requests {
		if u != origin && !strings.HasPrefix(u, origin+"/") && u != "about:blank" {
			t.Errorf("a page requested %s, outside %s", u, origin)
		}
	}
	if len(b.requests) == 0 {
		t.Error("no request was recorded: the check saw nothing")
	}
}
