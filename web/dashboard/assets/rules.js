// The decision matrix as people read it: each rule with its threshold, its
// last values and its state (pass, pending with its timer, firing,
// insufficient, no data, error), and a rollout's health at a glance.

import { value, time, terminal } from './format.js';

// parseDur reads a Go duration string ("1h30m", "600ms", "1.5s") as ms.
export function parseDur(s) {
  if (!s || s === '0') return 0;
  const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  let ms = 0;
  const re = /([0-9.]+)(ns|us|µs|ms|s|m|h)/g;
  let m;
  while ((m = re.exec(s))) ms += parseFloat(m[1]) * units[m[2]];
  return ms;
}

// ruleThreshold is the rule's threshold as written and its comparison.
export function ruleThreshold(rule) {
  if (rule.below) return { text: rule.below, op: 'below', sym: '<' };
  return { text: rule.above, op: 'above', sym: '>' };
}

// The states of a rule, worst first; health is the worst of a rollout's.
export const order = ['firing', 'pending', 'error', 'nodata', 'insufficient', 'pass', 'waiting'];

// ruleRows joins the plan's rules, the engine's rule states and the last
// evaluation into one row per rule. now is in ms.
export function ruleRows(r, now) {
  // Once the rollout is over, the timers stop at its last evaluation.
  if (r.state && terminal(r.state.phase)) now = Math.min(now, time(r.state.lastEvalAt) || time(r.state.finishedAt) || now);
  const rules = (r.plan && r.plan.spec && r.plan.spec.rules) || [];
  const states = (r.state && r.state.rules) || [];
  const evals = r.lastEvaluations || [];
  const interval = parseDur(r.plan && r.plan.spec.analysis && r.plan.spec.analysis.interval) || 30000;
  return rules.map((rule, i) => {
    const rs = states[i] || {};
    const name = rs.name || rule.name || `${rule.metric} rule ${i + 1}`;
    const ev = evals.find((e) => e.rule === name);
    const th = ruleThreshold(rule);
    const forMS = parseDur(rule.for) || interval;
    const row = {
      name,
      metric: rule.metric,
      threshold: `${th.sym} ${th.text}`,
      forText: rule.for || '',
      forMS,
      action: rule.action,
      urgency: rule.urgency || 'medium',
      verdict: rs.verdict || '',
      canary: null,
      stable: null,
      samples: ev ? ev.samples : rs.samples || 0,
      detail: (ev && ev.detail) || '',
      state: 'waiting',
      text: 'no evaluation yet',
      pendingMS: 0,
    };
    const judged = rs.verdict === 'pass' || rs.verdict === 'breach';
    if (ev && (ev.verdict === 'pass' || ev.verdict === 'breach')) {
      row.canary = ev.value;
      row.stable = ev.stable === undefined ? null : ev.stable;
    } else if (judged || rs.samples) {
      row.canary = rs.value;
    }
    const active = time(rs.activeAt);
    if (rs.firing) {
      row.state = 'firing';
      row.pendingMS = active ? now - active : 0;
      row.text = active ? `firing, breached for ${fmt(row.pendingMS)}` : 'firing';
    } else if (active) {
      row.state = 'pending';
      row.pendingMS = Math.max(0, now - active);
      const left = forMS - row.pendingMS;
      row.text = left > 0
        ? `pending ${fmt(row.pendingMS)} of ${fmt(forMS)}, fires in ${fmt(left)} if still breached`
        : `pending ${fmt(row.pendingMS)} of ${fmt(forMS)}, fires at the next breach`;
    } else {
      switch (rs.verdict) {
        case 'pass':
          row.state = 'pass';
          row.text = 'pass';
          break;
        case 'breach':
          row.state = 'pending';
          row.text = 'breach';
          break;
        case 'insufficient':
          row.state = 'insufficient';
          row.text = 'insufficient: ' + (row.detail || 'too few canary requests to judge');
          break;
        case 'nodata':
          row.state = 'nodata';
          row.text = 'no data' + (row.detail ? ': ' + row.detail : '');
          break;
        case 'error':
          row.state = 'error';
          row.text = 'error' + (row.detail ? ': ' + row.detail : '');
          break;
      }
    }
    row.canaryText = row.canary === null ? '—' : value(rule.metric, row.canary);
    row.stableText = row.stable === null ? '—' : value(rule.metric, row.stable);
    return row;
  });
}

function fmt(ms) {
  // Timers read to the second; under a minute "12s", above "1m5s".
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
}

// health is the rollout's worst rule state, with the rule it comes from:
// {state, text}.
export function health(r, now) {
  const rows = ruleRows(r, now);
  let worst = null;
  for (const row of rows) {
    if (!worst || order.indexOf(row.state) < order.indexOf(worst.state)) worst = row;
  }
  if (!worst) return { state: 'waiting', text: 'no rules' };
  const n = rows.filter((x) => x.state === worst.state).length;
  const more = n > 1 ? ` (+${n - 1} more)` : '';
  switch (worst.state) {
    case 'firing':
      return { state: 'firing', text: `firing: ${worst.name} (${worst.canaryText})${more}` };
    case 'pending':
      return { state: 'pending', text: `pending: ${worst.name} (${worst.canaryText})${more}` };
    case 'error':
    case 'nodata':
      return { state: worst.state, text: `${worst.state === 'error' ? 'error' : 'no data'}: ${worst.name}${more}` };
    case 'insufficient':
      return { state: 'insufficient', text: 'too few requests to judge' };
    case 'pass':
      return { state: 'pass', text: `healthy: ${rows.length} rule${rows.length === 1 ? '' : 's'} pass` };
  }
  return { state: 'waiting', text: 'no evaluation yet' };
}

// stateIcon is a symbol for a rule state, beside its word (color is never
// the only cue).
export function stateIcon(state) {
  return { firing: '▲', pending: '◐', error: '⚠', nodata: '∅', insufficient: '…', pass: '✓', waiting: '○' }[state] || '○';
}
