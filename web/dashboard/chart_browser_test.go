package dashboard_test

import (
	"testing"
)

// TestChartLabelsApart renders a chart in chromium whose step markers
// ("50%" and "promote") are a second apart and whose thresholds (600ms
// gradual, 1s immediate) are close in value, as in the issue's
// screenshot, and checks with the browser's own text boxes that no
// marker label overlaps another and no threshold label overlaps another.
func TestChartLabelsApart(t *testing.T) {
	ctx, _, _ := page(t)
	got := eval[[]string](t, ctx, `
		const c = await import('/assets/chart.js');
		const t0 = Date.parse('2025-08-14T09:00:00Z');
		const pts = [];
		for (let i = 0; i <= 60; i++) pts.push({ t: t0 + i * 1000, v: i === 40 ? 5 : 0.45 }); // a 5s spike: 600ms and 1s end up 9px apart
		const chart = { metric: 'latencyP95', title: 'P95 latency', start: t0, canary: pts, stable: pts,
			thresholds: [{ value: 0.6, op: 'above', action: 'rollback-gradual' }, { value: 1, op: 'above', action: 'rollback-immediate' }] };
		const markers = [{ t: t0, label: '10%', cls: 'step' }, { t: t0 + 30000, label: '50%', cls: 'step' },
			{ t: t0 + 31000, label: 'promote', cls: 'step' }, { t: t0 + 32000, label: 'rollback', cls: 'rollback' }];
		const svg = c.render(chart, markers, 360);
		document.body.append(svg);
		const overlaps = (sel) => {
			const boxes = [...svg.querySelectorAll(sel)].map((e) => [e.textContent, e.getBBox()]);
			const out = [];
			for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
				const [na, a] = boxes[i], [nb, b] = boxes[j];
				if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) out.push(na + ' / ' + nb);
			}
			return [boxes.length, out];
		};
		const [nm, m] = overlaps('.marker-label'), [nt, th] = overlaps('.threshold-label');
		return ['markers ' + nm, 'thresholds ' + nt, ...m, ...th];`)
	if len(got) < 2 || got[0] != "markers 4" || got[1] != "thresholds 2" {
		t.Fatalf("labels drawn: %q, want 4 markers and 2 thresholds", got)
	}
	for _, o := range got[2:] {
		t.Errorf("labels overlap: %s", o)
	}
}
