package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/sample"
	"github.com/canary-dev/canary/web/dashboard/dashboardtest"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestDashboard watches real rollouts of a real `canary serve` in a real
// browser: the weight advancing on the page without a reload, a faulty
// canary's rule firing with its values, the list and the report, a phone's
// screen, a viewer without controls and an operator aborting a rollout
// with the keyboard and the mouse. Screenshots go to the test's artifact
// directory (go test -run TestDashboard -artifacts -outputdir DIR keeps
// them).
func TestDashboard(t *testing.T) {
	b := dashboardtest.Start(t) // skips in -short mode and without a browser
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	rig := startDashRig(t, ctx)
	shots := t.ArtifactDir()
	t.Logf("screenshots in %s", shots)

	abortMe := rig.start(t, "abort-me", "v2.0.0", "600s", sample.Config{Seed: 3})
	// The faulty canary answers 30% 5xx from its second step on, as the
	// runbook's "errors at the 25% step".
	rig.start(t, "faulty", "v2.1.0", "5s", sample.Config{Seed: 4, Faults: []sample.Fault{{From: 9 * time.Second, ErrorRate: 0.3}}}, true)
	viewer := b.Tab(t)
	signIn(t, viewer, rig.server, rigViewer, "viewer")
	rig.start(t, "healthy", "v2.2.0", "6s", sample.Config{Seed: 5})

	t.Run("weight advances live", func(t *testing.T) {
		open(t, viewer, rig.server+"/rollouts/default/healthy")
		waitJS(t, viewer, `document.querySelector('#weight')?.dataset.weight === '10'`, 20*time.Second)
		do(t, viewer, chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`))
		waitJS(t, viewer, `document.querySelector('#weight')?.dataset.weight === '50'`, 40*time.Second)
		waitJS(t, viewer, `document.querySelector('.step[data-weight="10"]')?.classList.contains('done')`, 5*time.Second)
		// The charts hold the evaluations of both steps, canary and stable.
		waitJS(t, viewer, `[...document.querySelectorAll('figure[data-metric=latencyP95] path.line.canary')].some((p) => p.getAttribute('d').split('L').length > 5)`, 10*time.Second)
		screenshot(t, viewer, shots, "rollout.png")
		waitJS(t, viewer, `document.querySelector('#phase')?.dataset.phase === 'Succeeded'`, 40*time.Second)
		if !jsValue[bool](t, viewer, `window.sameDocument === true`) {
			t.Error("the page was reloaded; it should follow the event stream")
		}
		if w := jsValue[string](t, viewer, `document.querySelector('#weight').dataset.weight`); w != "100" {
			t.Errorf("promoted at weight %s on the page, want 100", w)
		}
	})

	t.Run("firing rule with its values", func(t *testing.T) {
		open(t, viewer, rig.server+"/rollouts/default/faulty")
		const row = `document.querySelector('tr[data-rule^="errorRate"]')`
		waitJS(t, viewer, row+`?.dataset.state === 'firing'`, 40*time.Second)
		canaryText := jsValue[string](t, viewer, row+`.querySelector('.canary-value').textContent`)
		stableText := jsValue[string](t, viewer, row+`.querySelector('.stable-value').textContent`)
		if v, err := strconv.ParseFloat(strings.TrimSuffix(canaryText, "%"), 64); err != nil || v <= 5 {
			t.Errorf("firing errorRate shows canary %q; want a percentage above the 5%% threshold", canaryText)
		}
		if v, err := strconv.ParseFloat(strings.TrimSuffix(stableText, "%"), 64); err != nil || v > 1 {
			t.Errorf("firing errorRate shows stable %q; want the healthy stable's percentage", stableText)
		}
		state := jsValue[string](t, viewer, row+`.querySelector('.state').textContent`)
		if !strings.Contains(state, "firing") {
			t.Errorf("state cell %q, want firing", state)
		}
		// The decision log has the firing with its inputs, the chart its threshold.
		waitJS(t, viewer, `document.querySelector('#log li[data-type=ruleFiring] details table')?.textContent.includes('breach')`, 10*time.Second)
		label := jsValue[string](t, viewer, `[...document.querySelectorAll('figure[data-metric=errorRate] .threshold-label')].map((e) => e.textContent).join(' | ')`)
		if !strings.Contains(label, "> 5% immediate") {
			t.Errorf("errorRate chart thresholds %q, want > 5%% immediate", label)
		}
		waitJS(t, viewer, `document.querySelector('#phase')?.dataset.phase === 'RolledBack'`, 30*time.Second)
		// The notifications the rollback caused, live: eng's receiver took
		// them, oncall's answered 500.
		const notes = `[...document.querySelectorAll('#notifications tbody tr')]`
		waitJS(t, viewer, notes+`.some((r) => r.dataset.audience === 'eng' && r.dataset.status === 'delivered' && r.textContent.includes('rolledBack'))`, 20*time.Second)
		waitJS(t, viewer, notes+`.some((r) => r.dataset.audience === 'oncall' && r.dataset.failed === 'true')`, 20*time.Second)
		failed := jsValue[string](t, viewer, notes+`.find((r) => r.dataset.audience === 'oncall' && r.dataset.failed === 'true').innerText`)
		if !strings.Contains(failed, "failed") || !strings.Contains(failed, "500") || !strings.Contains(failed, "webhook") {
			t.Errorf("failed notification row reads %q; want webhook, failed and the receiver's 500 in words", failed)
		}
		if rig.hooks.count("/ok") == 0 || rig.hooks.count("/fail") == 0 {
			t.Errorf("the receivers got %d posts on /ok and %d on /fail; want both tried", rig.hooks.count("/ok"), rig.hooks.count("/fail"))
		}
		summary := jsValue[string](t, viewer, `document.querySelector('#notify-summary').textContent`)
		if !strings.Contains(summary, "sent") || strings.Contains(summary, " 0 failed") {
			t.Errorf("notifications summary %q; want sent and failed counts", summary)
		}
		screenshot(t, viewer, shots, "rollout-faulty.png")
		// describe shows the same, from the same API.
		var out, errOut bytes.Buffer
		if code := Main(t.Context(), []string{"describe", "default/faulty", "--server", rig.server, "--token", rigViewer}, &out, &errOut); code != 0 {
			t.Fatalf("describe: exit %d: %s", code, errOut.String())
		}
		if d := out.String(); !strings.Contains(d, "\nNotifications:  ") || !strings.Contains(d, "✗ oncall via webhook (") || !strings.Contains(d, "500") {
			t.Errorf("describe's notifications block:\n%s", d[strings.LastIndex(d, "Notifications"):])
		}
	})

	t.Run("viewer has no controls", func(t *testing.T) {
		open(t, viewer, rig.server+"/rollouts/default/abort-me")
		waitJS(t, viewer, `!!document.querySelector('#track .step.current')`, 20*time.Second)
		if n := jsValue[int](t, viewer, `document.querySelectorAll('#controls, [data-control]').length`); n != 0 {
			t.Errorf("a viewer sees %d controls, want none", n)
		}
	})

	t.Run("list", func(t *testing.T) {
		open(t, viewer, rig.server+"/")
		waitJS(t, viewer, `document.querySelectorAll('table.rollouts tbody tr').length === 3`, 10*time.Second)
		got := jsValue[string](t, viewer, `[...document.querySelectorAll('table.rollouts tbody tr')].map((r) => r.dataset.name + ' ' + r.dataset.phase + ' ' + r.dataset.weight).sort().join(', ')`)
		want := "default/abort-me Progressing 10, default/faulty RolledBack 0, default/healthy Succeeded 100"
		if got != want {
			t.Errorf("rows %q, want %q", got, want)
		}
		health := jsValue[string](t, viewer, `document.querySelector('tr[data-name="default/faulty"] .health').textContent`)
		if !strings.Contains(health, "firing: errorRate") {
			t.Errorf("faulty's health %q, want its firing rule", health)
		}
		// The front doors under the list (issue 19): one per proxy
		// address, the live one at its current split with its traffic.
		waitJS(t, viewer, `document.querySelectorAll('#services tbody tr').length === 3 && !document.querySelector('#services').hidden`, 10*time.Second)
		door := `document.querySelector('#services tr[data-address="` + abortMe.listen + `"]')`
		if got := jsValue[string](t, viewer, door+`?.dataset.holder + ' ' + `+door+`?.dataset.weight`); got != "default/abort-me 10" {
			t.Errorf("abort-me's front door: holder and weight %q, want default/abort-me 10", got)
		}
		if live := jsValue[string](t, viewer, door+`.querySelector('.live').textContent`); !strings.Contains(live, "default/abort-me") || !strings.Contains(live, "Progressing") {
			t.Errorf("abort-me's front door names live rollout %q", live)
		}
		waitJS(t, viewer, door+`.querySelector('.traffic.canary').textContent.match(/^[1-9][0-9.]* req\/s/) !== null`, 10*time.Second)
		screenshot(t, viewer, shots, "list.png")
		// The filter, as a keyboard user picks it.
		do(t, viewer, chromedp.Focus(chromedp.ID("phase")), chromedp.SetValue(chromedp.ID("phase"), "RolledBack"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('phase').dispatchEvent(new Event('change'))`))
		waitJS(t, viewer, `document.querySelectorAll('table.rollouts tbody tr').length === 1 && location.search === '?phase=RolledBack'`, 10*time.Second)
	})

	t.Run("report", func(t *testing.T) {
		open(t, viewer, rig.server+"/rollouts/default/faulty/report")
		waitJS(t, viewer, `document.querySelector('#report h1')?.textContent.startsWith('Rollout report: default/faulty')`, 10*time.Second)
		waitJS(t, viewer, `document.querySelectorAll('.report-charts figure svg').length === 3`, 10*time.Second)
		shape := jsValue[string](t, viewer, `(() => { const r = document.getElementById('report');
			return r.querySelectorAll('table').length + ' tables, ' + r.querySelectorAll('li.task').length + ' tasks, raw ' + r.textContent.includes('|---'); })()`)
		if shape != "2 tables, 4 tasks, raw false" {
			t.Errorf("report rendered as %s; want the timeline and metrics tables and the 4 criteria", shape)
		}
		screenshot(t, viewer, shots, "report.png")
		// Printed: no navigation or buttons, the charts as wide as the page.
		if _, err := chromedp.Call(viewer, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(viewer, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""})
		hidden := jsValue[string](t, viewer, `['.top', '.report-actions', '.crumbs'].map((s) => getComputedStyle(document.querySelector(s)).display).join(' ')`)
		if hidden != "none none none" {
			t.Errorf("printed, the page chrome shows: display %s", hidden)
		}
		pdf, err := chromedp.Run(viewer, chromedp.PrintToPDF())
		if err != nil || len(pdf) < 10_000 {
			t.Fatalf("print to PDF: %d bytes, %v", len(pdf), err)
		}
		os.WriteFile(filepath.Join(shots, "report.pdf"), pdf, 0o644)
	})

	t.Run("phone", func(t *testing.T) {
		do(t, viewer, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
		defer do(t, viewer, chromedp.ResetViewport())
		for _, p := range []struct{ path, file, ready string }{
			{"/", "list-phone.png", `document.querySelectorAll('table.rollouts tbody tr').length === 3`},
			{"/rollouts/default/faulty", "rollout-phone.png", `document.querySelectorAll('figure svg').length === 3`},
		} {
			open(t, viewer, rig.server+p.path)
			waitJS(t, viewer, p.ready, 10*time.Second)
			if w := jsValue[string](t, viewer, `document.documentElement.scrollWidth + ' in ' + window.innerWidth`); w != "390 in 390" {
				t.Errorf("%s on a phone: content %s px wide; want no sideways scrolling", p.path, w)
			}
			screenshot(t, viewer, shots, p.file)
		}
	})

	t.Run("operator aborts", func(t *testing.T) {
		op := b.Tab(t)
		signIn(t, op, rig.server, rigOperator, "operator")
		open(t, op, rig.server+"/rollouts/default/abort-me")
		waitJS(t, op, `!!document.querySelector('[data-control=abort-immediate]')`, 10*time.Second)
		// By keyboard: Tab reaches the button, Enter asks (the dialog starts
		// on Cancel, so a second Enter sends nothing), Escape closes.
		tabTo(t, op, `document.activeElement?.dataset.control === 'abort-immediate'`)
		do(t, op, chromedp.KeyEvent(kb.Enter))
		waitJS(t, op, `document.querySelector('dialog.confirm').open && document.activeElement.id === 'confirm-cancel'`, 5*time.Second)
		do(t, op, chromedp.KeyEvent(kb.Enter))
		waitJS(t, op, `!document.querySelector('dialog.confirm').open`, 5*time.Second)
		do(t, op, chromedp.KeyEvent(kb.Enter)) // the focus is back on the abort button
		waitJS(t, op, `document.querySelector('dialog.confirm').open`, 5*time.Second)
		do(t, op, chromedp.KeyEvent(kb.Escape))
		waitJS(t, op, `!document.querySelector('dialog.confirm').open && document.activeElement?.dataset.control === 'abort-immediate'`, 5*time.Second)
		if ph := rig.get(t, abortMe.name).State.Phase; ph != canary.PhaseProgressing {
			t.Fatalf("after a cancelled abort the rollout is %s, want Progressing", ph)
		}
		// By mouse, with a reason, confirmed.
		do(t, op,
			chromedp.Click(chromedp.CSS(`[data-control=abort-immediate]`)),
			chromedp.WaitVisible(chromedp.ID("confirm-reason")),
			chromedp.SendKeys(chromedp.ID("confirm-reason"), "checked on the dashboard"),
			chromedp.Click(chromedp.ID("confirm-ok")),
		)
		waitJS(t, op, `document.querySelector('#phase')?.dataset.phase === 'RolledBack'`, 30*time.Second)
		screenshot(t, op, shots, "rollout-aborted.png")
		r := rig.get(t, abortMe.name)
		if r.State.Phase != canary.PhaseRolledBack || r.State.Weight != 0 || r.State.RollbackKind != canary.ActionRollbackImmediate {
			t.Errorf("after the abort: %s at weight %d (%s), want RolledBack at 0 (immediate)", r.State.Phase, r.State.Weight, r.State.RollbackKind)
		}
		if !strings.Contains(r.State.RollbackReason, "ops") {
			t.Errorf("rollback reason %q does not name the operator's token", r.State.RollbackReason)
		}
		// The proxy and the flag service confirmed weight 0 and the flag off,
		// then the canary was removed.
		if got, want := actionsAfterCommand(t, rig, abortMe.name), "setFlag off, setWeight 0, removeCanary"; got != want {
			t.Errorf("actions confirmed after the abort: %s, want %s", got, want)
		}
		code, body := rig.do(t, "GET", "/feature-flags/release_abort_me", rigViewer, "")
		var flag struct {
			Enabled bool `json:"enabled"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &flag) != nil || flag.Enabled {
			t.Errorf("flag after the abort: %d %s, want disabled", code, body)
		}
		waitJS(t, op, `document.querySelector('#log li[data-type=command]')?.textContent.includes('checked on the dashboard')`, 10*time.Second)
	})

	t.Run("role from whoami", func(t *testing.T) {
		// Both tabs learned their role from whoami; nothing probed the
		// role by posting (an empty POST would have left a 400 or a 403).
		if !slices.ContainsFunc(b.Requests(), func(u string) bool { return u == rig.server+"/api/v1/whoami" }) {
			t.Error("the dashboard never asked /api/v1/whoami")
		}
		code, metrics := rig.do(t, "GET", "/metrics", rigViewer, "")
		if code != http.StatusOK {
			t.Fatalf("metrics: %d", code)
		}
		for _, line := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(line, `canary_http_requests_total{code="4`) && strings.Contains(line, `route="POST /api/v1/rollouts"`) {
				t.Errorf("a refused apply was counted: %s", line)
			}
		}
		if !strings.Contains(metrics, `canary_http_requests_total{code="200",route="GET /api/v1/whoami"}`) {
			t.Error("no whoami request counted in /metrics")
		}
	})

	b.Check(t, rig.server)
}

// signIn opens the dashboard in tab and gives token at the prompt; the
// page then shows role.
func signIn(t *testing.T, tab context.Context, server, token, role string) {
	t.Helper()
	open(t, tab, server+"/")
	do(t, tab, chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), token+kb.Enter))
	waitJS(t, tab, fmt.Sprintf(`document.querySelector('#session .role')?.textContent === %q`, role), 10*time.Second)
}

func open(t *testing.T, tab context.Context, url string) {
	t.Helper()
	do(t, tab, chromedp.Navigate(url))
}

func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// waitJS waits until the expression is true in the page.
func waitJS(t *testing.T, tab context.Context, expr string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, d+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('main')?.innerText.slice(0, 1500)`))
		t.Fatalf("waited %s for %s: %v\npage:\n%s", d, expr, err, text)
	}
}

func jsValue[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// tabTo presses Tab until the expression is true (at most 60 times).
func tabTo(t *testing.T, tab context.Context, expr string) {
	t.Helper()
	for range 60 {
		do(t, tab, chromedp.KeyEvent(kb.Tab))
		if jsValue[bool](t, tab, expr) {
			return
		}
	}
	t.Fatalf("Tab never reached %s", expr)
}

// screenshot saves the whole page as dir/name.
func screenshot(t *testing.T, tab context.Context, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// actionsAfterCommand lists the actions that succeeded after the last
// command of rollout name: "setWeight 0, removeCanary".
func actionsAfterCommand(t *testing.T, rig *dashRig, name string) string {
	t.Helper()
	code, body := rig.do(t, "GET", "/api/v1/rollouts/"+name+"/events?limit=1000", rigViewer, "")
	var page struct {
		Items []canary.Event `json:"items"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
		t.Fatalf("events of %s: %d %s", name, code, body)
	}
	var acts []string
	for _, ev := range page.Items {
		switch {
		case ev.Type == canary.EvCommand:
			acts = nil
		case ev.Type == canary.EvActionSucceeded && ev.Action != nil:
			a := string(ev.Action.Kind)
			switch ev.Action.Kind {
			case canary.ActSetWeight:
				a += " " + strconv.Itoa(ev.Action.Weight)
			case canary.ActSetFlag:
				a += " off"
				if ev.Action.FlagEnabled {
					a = fmt.Sprintf("setFlag %d%%", ev.Action.Weight)
				}
			}
			acts = append(acts, a)
		}
	}
	return strings.Join(acts, ", ")
}
