// The parts of a rollout's page, each drawn from the rollout (plan, state,
// last evaluations), its events and the time: the step track with holds
// and time left, the traffic weight beside the flag, the decision matrix
// and the decision log with the inputs of every decision.

import { el, dur, durNS, time, clock, value, badge, terminal, weightBar } from './format.js';
import { ruleRows, parseDur, stateIcon } from './rules.js';

// current is the index of the step the track marks, -1 before traffic
// moves, steps.length once promoted (as the CLI's view).
export function current(st, steps) {
  switch (st.phase) {
    case 'Pending':
    case 'PreChecks':
    case 'Failed':
      return -1;
    case 'Paused':
      if (st.pausedFrom === 'PreChecks' || st.pausedFrom === 'Pending') return -1;
      break;
    case 'Succeeded':
      return steps.length;
  }
  return st.step;
}

function interval(plan) {
  return parseDur(plan.spec.analysis && plan.spec.analysis.interval) || 30000;
}

// header is the name, version, phase and how long it has run.
export function header(r, now) {
  const st = r.state;
  const created = time(st.createdAt) || time(r.createdAt);
  let took = '';
  if (terminal(st.phase) && time(st.finishedAt) && created) took = `took ${dur(time(st.finishedAt) - created)}`;
  else if (created) took = `running ${dur(now - created)}`;
  return [
    el('h1', null, r.name, ' ', el('span', { class: 'version' }, st.version || r.plan.spec.version)),
    el('p', { class: 'meta' },
      el('span', { id: 'phase', dataset: { phase: st.phase } }, badge(st.phase)),
      took ? el('span', null, took) : null,
      r.generation > 1 ? el('span', null, `generation ${r.generation}`) : null,
      el('span', null, `${r.plan.spec.traffic.proxy ? 'proxy' : r.plan.spec.traffic.helm ? 'helm' : 'gatewayAPI'} traffic`)),
  ];
}

// reason explains a pause, a rollback or the end.
export function reason(r, now) {
  const st = r.state;
  const grade = (st.rollbackKind || '').replace('rollback-', '') || 'rollback';
  switch (st.phase) {
    case 'Paused': {
      const since = time(st.pausedAt);
      return el('p', { class: 'reason warn', role: 'note' }, el('strong', null, 'Paused'),
        since ? ` for ${dur(now - since)}` : '', ': ', st.pauseReason || '');
    }
    case 'RollingBack':
      return el('p', { class: 'reason bad', role: 'note' }, el('strong', null, `Rolling back (${grade})`), ': ', st.rollbackReason || '');
    case 'RolledBack':
      return el('p', { class: 'reason bad', role: 'note' }, el('strong', null, `Rolled back (${grade})`), ': ', st.rollbackReason || '',
        '; the stable version serves all traffic.');
    case 'Failed':
      return el('p', { class: 'reason bad', role: 'note' }, el('strong', null, 'Failed'), ': stopped before any traffic moved; nothing was changed (the decision log says why).');
    case 'Succeeded':
      return el('p', { class: 'reason ok', role: 'note' }, el('strong', null, 'Promoted'), `: ${st.version} serves 100% of traffic.`);
  }
  if (st.lastError) {
    return el('p', { class: 'reason bad', role: 'note' }, el('strong', null, 'Action failing'), ': ', st.lastError,
      st.escalated ? '; a person is needed.' : '');
  }
  return null;
}

// track is the steps as a progress track: done, current (with its hold,
// time left, evidence and approval) and to come.
export function track(r, now) {
  const st = r.state;
  const steps = r.plan.spec.steps;
  const cur = current(st, steps);
  const back = st.phase === 'RollingBack' || st.phase === 'RolledBack';
  const ol = el('ol', { class: 'track' });
  steps.forEach((s, i) => {
    let status = 'todo';
    let mark = '';
    if (i < cur) {
      status = 'done';
      mark = '✓';
    } else if (i === cur) {
      status = back ? 'failed' : st.phase === 'Paused' ? 'paused' : 'current';
      mark = back ? '✗' : st.phase === 'Paused' ? '⏸' : '●';
    }
    const label = status === 'done' ? 'done' : status === 'todo' ? 'to come' : status === 'failed' ? 'rolled back' : status;
    const li = el('li', { class: `step ${status}`, dataset: { step: i, weight: s.weight }, 'aria-current': i === cur && !back ? 'step' : null },
      el('span', { class: 'step-weight' }, `${s.weight}%`, mark ? el('span', { class: 'mark', 'aria-hidden': 'true' }, ' ' + mark) : null),
      el('span', { class: 'visually-hidden' }, ` step ${i + 1}, ${label}`),
      el('span', { class: 'step-hold' }, s.hold ? `hold ${s.hold}` : i === steps.length - 1 ? 'promote' : ''),
      s.approval ? el('span', { class: 'step-gate' }, s.approval.webhook ? 'approval by webhook' : 'manual approval') : null);
    if (i === cur && !back) li.append(holdDetail(r, s, now));
    ol.append(li);
  });
  return [ol, phaseDetail(r, now)];
}

// holdDetail is the current step's hold: a bar, the time held and left,
// the judged evaluations, extension and approval.
function holdDetail(r, step, now) {
  const st = r.state;
  const started = time(st.stepStartedAt);
  const box = el('div', { class: 'hold', id: 'hold' });
  if (!step.hold) return box;
  if (!started || st.weight !== step.weight) {
    box.append(el('span', null, `starts once the canary weight is ${step.weight}%`));
    return box;
  }
  const ref = st.phase === 'Paused' && time(st.pausedAt) ? time(st.pausedAt) : now;
  const hold = parseDur(step.hold);
  const held = Math.floor(Math.max(0, ref - started) / 1000) * 1000; // whole seconds, as a clock
  const frac = st.holdDone ? 1 : Math.min(1, held / hold);
  const fill = el('span', { class: 'fill' });
  fill.style.width = `${(frac * 100).toFixed(1)}%`;
  box.append(el('span', { class: 'bar', role: 'progressbar', 'aria-label': 'hold', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(frac * 100) }, fill));
  const parts = [];
  if (st.holdDone) parts.push(`${step.hold} hold done`);
  else if (held < hold) parts.push(`${dur(held)} of ${step.hold}, ${dur(hold - held)} left`);
  else parts.push(`${dur(held)} of ${step.hold}`);
  if (!st.holdDone) {
    const need = Math.ceil(hold / interval(r.plan));
    parts.push(`${st.judged}/${need} judged`);
    if (st.extended) parts.push('extended: waiting for enough requests to judge');
  }
  if (time(st.approvalSince) && !st.approved) {
    parts.push(`awaiting approval for ${dur(ref - time(st.approvalSince))} (${step.approval && step.approval.webhook ? 'webhook' : 'manual'})`);
  }
  if (st.phase === 'Paused') parts.push('hold clock stopped while paused');
  box.append(el('span', { class: 'hold-text', id: 'hold-text' }, parts.join(' · ')));
  return box;
}

// phaseDetail is what happens outside the steps: pre-checks, promotion,
// a rollback's drain.
function phaseDetail(r, now) {
  const st = r.state;
  const ph = st.phase === 'Paused' ? st.pausedFrom : st.phase;
  if (ph === 'Pending' || ph === 'PreChecks') {
    return el('p', { class: 'phase-detail' }, `Pre-checks running before any traffic moves (${(r.plan.spec.preChecks || []).length} in the plan).`);
  }
  if (ph === 'Promoting') return el('p', { class: 'phase-detail ok' }, `Promoting: 100% of traffic to ${st.version}, then the canary is removed.`);
  if (ph === 'RollingBack' && time(st.drainUntil)) {
    const left = time(st.drainUntil) - now;
    return el('p', { class: 'phase-detail bad' }, left > 0 ? `Draining at weight 0: ${dur(Math.ceil(left / 1000) * 1000)} left, then the canary is removed.` : 'Drained; removing the canary.');
  }
  return null;
}

// traffic is the canary's weight beside the feature flag's percentage.
export function traffic(r) {
  const st = r.state;
  const flag = r.plan.spec.featureFlag;
  const pending = (st.outstanding || []).find((a) => a.kind === 'setWeight');
  const out = [
    el('div', { class: 'meter' },
      el('span', { class: 'meter-label' }, 'Canary traffic'),
      el('span', { id: 'weight', dataset: { weight: st.weight } }, weightBar(st.weight)),
      el('span', { class: 'muted' }, `stable ${100 - st.weight}%`, pending ? ` · moving to ${pending.weight || 0}%` : '')),
  ];
  if (flag) {
    const pct = st.flagEnabled ? st.flagPercent : 0;
    out.push(el('div', { class: 'meter' },
      el('span', { class: 'meter-label' }, 'Feature flag ', el('code', null, flag.name)),
      el('span', { id: 'flag', dataset: { percent: pct, enabled: st.flagEnabled } }, weightBar(pct)),
      el('span', { class: 'muted' }, st.flagEnabled ? `on for ${st.flagPercent}%` : 'off',
        pct === st.weight ? ' · in lockstep' : ` · weight ${st.weight}%`)));
  }
  return out;
}

// matrix is the decision matrix: one row per rule with its state.
export function matrix(r, now) {
  const rows = ruleRows(r, now);
  return el('div', { class: 'table-scroll' }, el('table', { class: 'matrix' },
    el('caption', { class: 'visually-hidden' }, 'Rules of the decision matrix with their last values and state'),
    el('thead', null, el('tr', null, ['Rule', 'Action', 'Canary', 'Stable', 'Requests', 'State'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', null, rows.map((x) => el('tr', { class: x.state, dataset: { rule: x.name, state: x.state } },
      el('th', { scope: 'row', 'data-label': 'Rule' }, x.name),
      el('td', { 'data-label': 'Action' }, el('span', null, x.action.replace('rollback-', 'rollback '), el('span', { class: 'muted' }, ` · ${x.urgency}`))),
      el('td', { 'data-label': 'Canary', class: 'num canary-value' }, x.canaryText),
      el('td', { 'data-label': 'Stable', class: 'num stable-value' }, x.stableText),
      el('td', { 'data-label': 'Requests', class: 'num' }, x.samples ? String(x.samples) : '—'),
      el('td', { 'data-label': 'State', class: 'state' }, el('span', { class: `health ${x.state}` },
        el('span', { 'aria-hidden': 'true' }, stateIcon(x.state) + ' '), x.text)))))));
}

// Decision types, as the report counts them, and the transitions people
// watch live.
const decisionTypes = new Set(['stepStarted', 'stepCompleted', 'rulePending', 'ruleFiring', 'ruleCleared', 'rollbackStarted',
  'rolledBack', 'paused', 'resumed', 'awaitingApproval', 'approved', 'command', 'retried', 'holdExtended', 'preChecksFailed',
  'failed', 'promoting', 'promoted', 'hookFailed', 'created']);

export function isDecision(ev) {
  if (decisionTypes.has(ev.type)) return true;
  return ev.type === 'actionFailed' && (ev.urgency === 'medium' || ev.urgency === 'high' || ev.urgency === 'critical');
}

const labels = {
  created: 'started', preCheckPassed: 'pre-check passed', preChecksFailed: 'pre-checks failed', stepStarted: 'step started',
  stepCompleted: 'step completed', evaluated: 'evaluated', rulePending: 'rule pending', ruleFiring: 'rule fired',
  ruleCleared: 'rule cleared', holdExtended: 'hold extended', awaitingApproval: 'awaiting approval', approved: 'approved',
  paused: 'paused', resumed: 'resumed', rollbackStarted: 'rollback started', rolledBack: 'rolled back', promoting: 'promoting',
  promoted: 'promoted', actionIssued: 'action issued', actionSucceeded: 'action succeeded', actionFailed: 'action failed',
  hookFailed: 'hook failed', failed: 'failed', retried: 'retried', command: 'command',
};

// inputsOf are the evaluations a decision was taken on, and where they
// come from: the event's own, the evaluation at the same time, or the
// last one before it.
export function inputsOf(events, i) {
  const ev = events[i];
  if (ev.evaluations && ev.evaluations.length) return { evals: ev.evaluations, from: '' };
  const at = ev.time;
  for (let j = i + 1; j < events.length && events[j].time === at; j++) {
    if (events[j].type === 'evaluated' && events[j].evaluations) return { evals: events[j].evaluations, from: '' };
  }
  for (let j = i - 1; j >= 0; j--) {
    const e = events[j];
    if (e.type === 'evaluated' && e.evaluations && e.evaluations.length) {
      const ago = time(at) - time(e.time);
      return { evals: e.evaluations, from: ago > 0 ? `the last evaluation, ${dur(ago)} before` : '' };
    }
  }
  return { evals: [], from: '' };
}

// logEntry is one event of the log with its inputs.
export function logEntry(events, i, start) {
  const ev = events[i];
  const t = time(ev.time);
  const what = labels[ev.type] || ev.type;
  const li = el('li', { class: `log-entry ${ev.type} ${ev.urgency || ''}`, dataset: { seq: ev.seq, type: ev.type } },
    el('div', { class: 'log-head' },
      el('time', { datetime: ev.time, title: new Date(t).toISOString() }, clock(t)),
      el('span', { class: 'muted' }, start ? ` +${dur(t - start)}` : ''),
      el('span', { class: 'log-type' }, what + (ev.actor ? ` by ${ev.actor}` : '')),
      ev.step >= 0 && ev.type !== 'created' ? el('span', { class: 'muted' }, `step ${ev.step + 1} · ${ev.weight}%`) : null,
      ev.urgency && ev.urgency !== 'low' ? el('span', { class: `urgency ${ev.urgency}` }, ev.urgency) : null),
    el('p', { class: 'log-msg' }, ev.message, ev.error && !(ev.message || '').includes(ev.error) ? `: ${ev.error}` : ''));
  if (ev.type !== 'evaluated' && isDecision(ev) && ev.type !== 'created') {
    const inp = inputsOf(events, i);
    if (inp.evals.length) {
      li.append(el('details', { class: 'inputs' },
        el('summary', null, `Inputs: ${inp.evals.length} rule${inp.evals.length === 1 ? '' : 's'}${inp.from ? ' (' + inp.from + ')' : ''}`),
        inputsTable(inp.evals)));
    }
  } else if (ev.type === 'evaluated' && ev.evaluations && ev.evaluations.length) {
    li.append(el('details', { class: 'inputs' }, el('summary', null, 'Values'), inputsTable(ev.evaluations)));
  }
  return li;
}

// inputsTable is every rule's value, stable value, requests, threshold
// and verdict in one evaluation.
export function inputsTable(evals) {
  return el('div', { class: 'table-scroll' }, el('table', { class: 'inputs-table' },
    el('thead', null, el('tr', null, ['Rule', 'Canary', 'Stable', 'Requests', 'Window', 'Threshold', 'Verdict'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', null, evals.map((e) => {
      const judged = e.verdict === 'pass' || e.verdict === 'breach';
      let verdict = e.verdict;
      if (e.pendingFor) verdict += ` for ${durNS(e.pendingFor)}`;
      if (e.firing) verdict += ', firing';
      if (e.detail) verdict += ` (${e.detail})`;
      return el('tr', { class: e.verdict },
        el('th', { scope: 'row' }, e.rule),
        el('td', { class: 'num' }, judged ? value(e.metric, e.value) : '—'),
        el('td', { class: 'num' }, judged && e.stable !== undefined ? value(e.metric, e.stable) : '—'),
        el('td', { class: 'num' }, String(e.samples)),
        el('td', { class: 'num' }, durNS(e.window)),
        el('td', { class: 'num' }, `${e.op === 'below' ? '<' : '>'} ${value(e.metric, e.threshold)}`),
        el('td', null, verdict));
    }))));
}
