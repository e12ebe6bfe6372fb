// Units and small DOM helpers shared by the pages. Values come from the
// API in canonical units (seconds, ratios, factors); they are written the
// way the CLI and the report write them.

// Go's time.Duration in JSON is nanoseconds.
export const ns = 1e6; // nanoseconds per millisecond

// dur writes ms as Go's FormatDuration does, to the second from a second
// up: "2h31m", "1m5s", "45s", "750ms", "0s". Negative is 0s.
export function dur(ms) {
  if (!(ms > 0)) return '0s';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  let out = '';
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (s || !out) out += `${s}s`;
  return out;
}

// durNS is dur of a Go duration (nanoseconds).
export function durNS(n) {
  return dur((n || 0) / ns);
}

// time parses an RFC 3339 time; 0 for none (Go's zero time included).
export function time(s) {
  if (!s || s.startsWith('0001-')) return 0;
  const t = Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

// clock is "14:03:27" in the browser's time zone.
export function clock(t) {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

// kind is the unit of a metric: duration (latency), percent (errorRate),
// multiplier (burnRate) or number (requestRate).
export function kind(metric) {
  if (/^latencyP/.test(metric)) return 'duration';
  if (metric === 'errorRate') return 'percent';
  if (metric === 'burnRate') return 'multiplier';
  return 'number';
}

function trim(v, digits) {
  return String(Number(v.toFixed(digits)));
}

// value writes v (canonical units) in the unit of metric: 742ms, 1.25s,
// 0.5%, 1.5x, 12.3.
export function value(metric, v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  switch (kind(metric)) {
    case 'duration':
      if (Math.abs(v) < 1) return `${trim(v * 1000, v * 1000 < 10 ? 1 : 0)}ms`;
      return `${trim(v, 2)}s`;
    case 'percent': {
      // Three significant digits: 27.9%, 5.12%, 0.123%.
      const pct = v * 100;
      const a = Math.abs(pct);
      return `${trim(pct, a >= 10 ? 1 : a >= 1 ? 2 : 3)}%`;
    }
    case 'multiplier':
      return `${trim(v, 2)}x`;
  }
  return trim(v, 2);
}

// el builds an element: el('td', {class: 'x', title: 't'}, 'text', child...).
// Text is always set as text, never parsed as HTML.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace sets the children of e.
export function replace(e, ...children) {
  e.replaceChildren();
  append(e, children);
  return e;
}

// phaseClass is the badge color of a phase.
export function phaseClass(phase) {
  switch (phase) {
    case 'Progressing':
    case 'PreChecks':
    case 'Pending':
      return 'info';
    case 'Paused':
      return 'warn';
    case 'Promoting':
    case 'Succeeded':
      return 'ok';
  }
  return 'bad';
}

export function badge(phase) {
  return el('span', { class: `badge ${phaseClass(phase)}` }, phase || 'unknown');
}

// announce tells assistive technology about a change (a control's result,
// a new phase), politely.
export function announce(text) {
  const a = document.getElementById('announce');
  if (a) a.textContent = text;
}

// terminal reports whether no more actions follow in phase.
export function terminal(phase) {
  return phase === 'Succeeded' || phase === 'RolledBack' || phase === 'Failed';
}

export const phases = ['Pending', 'PreChecks', 'Progressing', 'Paused', 'Promoting', 'Succeeded', 'RollingBack', 'RolledBack', 'Failed'];

// weightBar is the canary's share as a bar with its number.
export function weightBar(w) {
  // Sizes are set through the CSSOM, which the page's CSP allows (a style
  // attribute it would refuse).
  const fill = el('span', { class: 'fill' });
  fill.style.width = `${Math.max(0, Math.min(100, w))}%`;
  const bar = el('span', { class: 'bar', 'aria-hidden': 'true' }, fill);
  return el('span', { class: 'weight' }, bar, el('span', { class: 'weight-num' }, `${w}%`));
}
