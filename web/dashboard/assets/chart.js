// Charts of the rules' metrics, canary against stable, with the rules'
// thresholds, drawn as SVG by this file (no library). The series come from
// the "evaluated" events: each Evaluation's Value is the canary's (the
// whole service's for burnRate) and Stable the stable track's, over the
// rule's window; rules on the same metric and window share a chart.

import { value, dur, kind, time, el, ns } from './format.js';

const svgNS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// seriesOf builds one chart model per metric and window from events (in
// Seq order). rules are the plan's rules, for each threshold's action.
// start is the time axis's origin (ms).
export function seriesOf(events, rules, start) {
  const actions = {};
  const byKey = new Map();
  const windows = {};
  for (const ev of events) {
    if (ev.type !== 'evaluated' || !ev.evaluations || ev.evaluations.length === 0) continue;
    const t = time(ev.time);
    const seen = new Set();
    for (const e of ev.evaluations) {
      const key = `${e.metric}|${e.window}`;
      let c = byKey.get(key);
      if (!c) {
        c = { key, metric: e.metric, window: e.window, thresholds: [], canary: [], stable: [], steps: [] };
        byKey.set(key, c);
        (windows[e.metric] = windows[e.metric] || new Set()).add(e.window);
      }
      if (!c.thresholds.some((x) => x.rule === e.rule)) {
        c.thresholds.push({ rule: e.rule, value: e.threshold, op: e.op, action: actions[e.rule] });
      }
      if (seen.has(key)) continue; // rules of one series share the measurement
      seen.add(key);
      const judged = e.verdict === 'pass' || e.verdict === 'breach';
      const breach = ev.evaluations.some((x) => `${x.metric}|${x.window}` === key && x.verdict === 'breach');
      c.canary.push({ t, v: judged ? e.value : null, breach, samples: e.samples, verdict: e.verdict, step: ev.step, weight: ev.weight });
      c.stable.push({ t, v: judged && e.stable !== undefined ? e.stable : null });
    }
  }
  // Thresholds learn their action from the plan (rules by position carry
  // their display names in the evaluations).
  const charts = [...byKey.values()];
  for (const c of charts) {
    for (const th of c.thresholds) {
      const r = rules.find((x) => x.name === th.rule);
      th.action = r ? r.action : '';
    }
    c.title = c.metric + (windows[c.metric].size > 1 ? ` over ${dur(c.window / ns)}` : '');
    c.start = start;
  }
  return charts;
}

// markers are the step changes and the rollback on the time axis.
export function markersOf(events) {
  const out = [];
  for (const ev of events) {
    if (ev.type === 'stepStarted') out.push({ t: time(ev.time), label: `${stepWeight(ev)}%`, cls: 'step' });
    else if (ev.type === 'rollbackStarted') out.push({ t: time(ev.time), label: 'rollback', cls: 'rollback' });
    else if (ev.type === 'promoting') out.push({ t: time(ev.time), label: 'promote', cls: 'step' });
  }
  return out;
}

function stepWeight(ev) {
  const m = /\((\d+)%\)/.exec(ev.message || '');
  return m ? m[1] : ev.weight;
}

// niceStep is a round tick spacing for a range split in about n parts.
function niceStep(range, n) {
  const raw = range / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

// timeStep is a round tick spacing in ms for a time range.
function timeStep(range, n) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((x) => x * 1000);
  for (const st of steps) if (range / st <= n) return st;
  return steps[steps.length - 1];
}

// render draws chart c at width px (height follows), with the step
// markers. The SVG has a title and a description for screen readers.
// labelWidth is a generous estimate of a label's width in px (11px text).
function labelWidth(text) {
  return text.length * 7;
}

export function render(c, markers, width) {
  const W = Math.max(260, Math.floor(width));
  const H = Math.round(Math.min(260, Math.max(170, W * 0.42)));
  const pad = { l: 58, r: 12, t: 18, b: 28 };
  const pw = W - pad.l - pad.r;
  const ph = H - pad.t - pad.b;
  const pts = c.canary.filter((p) => p.v !== null);
  const spts = c.stable.filter((p) => p.v !== null);
  const t0 = c.start || (c.canary[0] && c.canary[0].t) || 0;
  let t1 = c.canary.length ? c.canary[c.canary.length - 1].t : t0 + 1000;
  for (const m of markers) t1 = Math.max(t1, m.t); // the rollback after the last evaluation too
  if (t1 - t0 < 10000) t1 = t0 + 10000;
  t1 += (t1 - t0) * 0.03; // room for the last point and marker
  let vmax = 0;
  for (const p of pts) vmax = Math.max(vmax, p.v);
  for (const p of spts) vmax = Math.max(vmax, p.v);
  for (const th of c.thresholds) vmax = Math.max(vmax, th.value);
  if (!(vmax > 0)) vmax = kind(c.metric) === 'percent' ? 0.01 : 1;
  const ystep = niceStep(vmax * 1.1, 4);
  const ymax = Math.ceil((vmax * 1.1) / ystep) * ystep;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * pw;
  const y = (v) => pad.t + ph - (v / ymax) * ph;

  const last = pts[pts.length - 1];
  const lastS = c.stable.length ? c.stable[c.stable.length - 1] : null;
  const canaryName = c.metric === 'burnRate' ? 'service' : 'canary';
  const title = `${c.title}: ${canaryName} against stable`;
  const desc = last
    ? `Latest ${canaryName} ${value(c.metric, last.v)}` +
      (lastS && lastS.v !== null ? `, stable ${value(c.metric, lastS.v)}` : '') +
      `; thresholds ${c.thresholds.map((th) => `${th.op === 'below' ? '<' : '>'} ${value(c.metric, th.value)}`).join(', ')}; ` +
      `${pts.length} judged evaluations.`
    : 'No judged evaluation yet.';
  const id = 'c' + Math.random().toString(36).slice(2, 9);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': `${id}t ${id}d`, class: 'chart' },
    s('title', { id: `${id}t` }, title), s('desc', { id: `${id}d` }, desc));

  // Grid and y axis.
  const grid = s('g', { class: 'grid' });
  for (let v = 0; v <= ymax + ystep / 2; v += ystep) {
    grid.append(s('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v) }));
    grid.append(s('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, value(c.metric, v)));
  }
  const tstep = timeStep(t1 - t0, Math.max(2, Math.floor(pw / 70)));
  for (let t = 0; t <= t1 - t0; t += tstep) {
    const tx = x(t0 + t);
    const anchor = tx > W - pad.r - 20 ? 'end' : 'middle';
    grid.append(s('text', { x: tx, y: H - 8, 'text-anchor': anchor, class: 'tick' }, '+' + dur(t)));
  }
  svg.append(grid);

  // Step changes and the rollback.
  // A label that would overlap one already placed goes a row lower (the
  // rows below the first are inside the plot, at its top).
  const mk = s('g', { class: 'markers' });
  const rows = [];
  for (const m of markers) {
    if (m.t < t0 || m.t > t1) continue;
    mk.append(s('line', { x1: x(m.t), x2: x(m.t), y1: pad.t, y2: pad.t + ph, class: `marker ${m.cls}` }));
    const right = x(m.t) > W - pad.r - 50;
    const w = labelWidth(m.label);
    const lx = x(m.t) + (right ? -3 : 3);
    const span = right ? [lx - w, lx] : [lx, lx + w];
    let row = 0;
    while ((rows[row] || []).some(([a, b]) => span[0] < b + 4 && a < span[1] + 4)) row++;
    (rows[row] = rows[row] || []).push(span);
    mk.append(s('text', { x: lx, y: pad.t - 5 + row * 13, 'text-anchor': right ? 'end' : 'start', class: `marker-label ${m.cls}` }, m.label));
  }
  svg.append(mk);

  // Thresholds, labelled at the right.
  // Labels of thresholds close in value are spread a line apart, from
  // the highest down, so none covers another.
  const ths = s('g', { class: 'thresholds' });
  let prevY = -Infinity;
  for (const th of [...c.thresholds].sort((a, b) => b.value - a.value)) {
    const cls = th.action === 'rollback-immediate' ? 'immediate' : th.action === 'pause' ? 'pause' : 'gradual';
    ths.append(s('line', { x1: pad.l, x2: W - pad.r, y1: y(th.value), y2: y(th.value), class: `threshold ${cls}` }));
    const ly = Math.max(y(th.value) - 4, prevY + 13);
    prevY = ly;
    ths.append(s('text', { x: W - pad.r - 2, y: ly, 'text-anchor': 'end', class: `threshold-label ${cls}` },
      `${th.op === 'below' ? '<' : '>'} ${value(c.metric, th.value)} ${(th.action || '').replace('rollback-', '')}`));
  }
  svg.append(ths);

  // The lines: a gap where an evaluation could not judge.
  const line = (series, cls) => {
    let d = '';
    let pen = false;
    for (const p of series) {
      if (p.v === null) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
      pen = true;
    }
    return s('path', { d: d || 'M0,0', class: `line ${cls}` });
  };
  svg.append(line(c.stable, 'stable'));
  svg.append(line(c.canary, 'canary'));

  // Points, breaches marked; each with a tooltip.
  const dots = s('g', { class: 'dots' });
  for (const p of c.canary) {
    if (p.v === null) continue;
    dots.append(s('circle', { cx: x(p.t), cy: y(p.v), r: p.breach ? 3.5 : 2, class: p.breach ? 'dot breach' : 'dot canary' },
      s('title', null, `+${dur(p.t - t0)} · step ${p.step + 1} (${p.weight}%): ${canaryName} ${value(c.metric, p.v)}, ` +
        `${p.samples} requests${p.breach ? ' · breach' : ''}`)));
  }
  svg.append(dots);
  return svg;
}

// figure is a chart with its caption and legend; it redraws itself at its
// width (and when the width changes).
export function figure(c, markers) {
  const canaryName = c.metric === 'burnRate' ? 'service (both tracks)' : 'canary';
  const box = el('div', { class: 'chart-box' });
  const fig = el('figure', { class: 'chart-figure', dataset: { metric: c.metric } },
    el('figcaption', null,
      el('strong', null, c.title),
      el('span', { class: 'legend' },
        el('span', { class: 'key canary' }, canaryName),
        el('span', { class: 'key stable' }, 'stable'),
        el('span', { class: 'key threshold' }, 'threshold'))),
    box);
  let lastW = 0;
  const draw = () => {
    const w = box.clientWidth || 600;
    if (Math.abs(w - lastW) < 2) return;
    lastW = w;
    box.replaceChildren(render(c, markers, w));
  };
  fig.redraw = (nc, nm) => {
    c = nc;
    markers = nm;
    lastW = 0;
    draw();
  };
  if (typeof ResizeObserver !== 'undefined') new ResizeObserver(draw).observe(box);
  requestAnimationFrame(draw);
  return fig;
}
