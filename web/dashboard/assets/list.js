// The rollouts: name, version, phase, current step and weight, time in
// step, health at a glance; filtered by phase. The list has no event
// stream of its own, so it is read again every few seconds, and the times
// tick every second in between.

import * as api from './api.js';
import { el, replace, badge, dur, time, phases, terminal, weightBar } from './format.js';
import { health, stateIcon } from './rules.js';
import { servicesSection } from './services.js';

const refreshMS = 3000;

export async function listPage(ctx) {
  document.title = 'Rollouts · canary';
  const params = new URLSearchParams(location.search);
  let phase = phases.includes(params.get('phase')) ? params.get('phase') : '';
  const select = el('select', { id: 'phase' }, el('option', { value: '' }, 'All phases'), phases.map((p) => el('option', { value: p }, p)));
  select.value = phase;
  const count = el('p', { class: 'count', 'aria-live': 'polite' });
  const body = el('tbody');
  const table = el('table', { class: 'rollouts' },
    el('caption', { class: 'visually-hidden' }, 'Rollouts with their phase, step, weight, time in step and health'),
    el('thead', null, el('tr', null, ['Rollout', 'Version', 'Phase', 'Step', 'Weight', 'In step', 'Health'].map((h) => el('th', { scope: 'col' }, h)))),
    body);
  const error = el('p', { class: 'error', role: 'alert', hidden: true });
  const services = servicesSection(ctx);
  replace(ctx.main,
    el('div', { class: 'page-head' },
      el('h1', null, 'Rollouts'),
      el('div', { class: 'filter' }, el('label', { for: 'phase' }, 'Phase'), select)),
    error, count, el('div', { class: 'table-scroll' }, table), services.section);

  let items = [];
  const draw = () => {
    const now = api.now();
    // The newest generation of each name, known only from an unfiltered
    // list: with a phase filter every row links to its own generation.
    const latest = {};
    if (!phase) for (const r of items) latest[r.name] = Math.max(latest[r.name] || 0, r.generation);
    replace(body, items.map((r) => row(r, now, latest)));
    count.textContent = items.length === 0
      ? (phase ? `No rollout is ${phase}.` : 'No rollouts yet: apply a plan with canary apply -f plan.yaml.')
      : `${items.length} rollout${items.length === 1 ? '' : 's'}${phase ? ' ' + phase : ''}`;
  };
  const load = async () => {
    try {
      const q = phase ? `?phase=${encodeURIComponent(phase)}` : '';
      items = (await api.call('/api/v1/rollouts' + q)).items;
      error.hidden = true;
      draw();
    } catch (e) {
      if (e.status === 401) return ctx.onAuthLost();
      error.textContent = `Could not read the rollouts: ${e.message}`;
      error.hidden = false;
    }
  };
  select.addEventListener('change', () => {
    phase = select.value;
    const u = new URL(location.href);
    if (phase) u.searchParams.set('phase', phase);
    else u.searchParams.delete('phase');
    history.replaceState(null, '', u);
    load();
  });
  await Promise.all([load(), services.load()]);
  setInterval(() => {
    if (!document.hidden) {
      load();
      services.load();
    }
  }, refreshMS);
  setInterval(() => {
    if (!document.hidden) draw();
  }, 1000);
}

function row(r, now, latest) {
  const st = r.state || {};
  const steps = (r.plan && r.plan.spec && r.plan.spec.steps) || [];
  const step = steps[st.step];
  const stepText = steps.length ? `${Math.min(st.step + 1, steps.length)} of ${steps.length}` + (step ? ` (${step.weight}%)` : '') : '—';
  const started = time(st.stepStartedAt);
  let inStep = '—';
  if (started && !terminal(st.phase)) {
    const ref = st.phase === 'Paused' && time(st.pausedAt) ? time(st.pausedAt) : now;
    inStep = dur(ref - started) + (step && step.hold ? ` of ${step.hold}` : '');
  } else if (terminal(st.phase)) {
    const fin = time(st.finishedAt);
    inStep = fin ? `finished ${dur(now - fin)} ago` : 'finished';
  }
  const h = health(r, now);
  // The latest generation of a name links to the name (its page follows
  // new generations); an older one to name@GEN, its own page.
  const href = latest[r.name] === r.generation ? `/rollouts/${r.name}` : `/rollouts/${r.name}@${r.generation}`;
  const link = el('a', { href }, r.name);
  return el('tr', { dataset: { name: r.name, phase: st.phase, weight: st.weight } },
    el('th', { scope: 'row', 'data-label': 'Rollout' }, el('span', null, link, r.generation > 1 ? el('span', { class: 'muted' }, ` gen ${r.generation}`) : null)),
    el('td', { 'data-label': 'Version' }, st.version || (r.plan && r.plan.spec.version) || ''),
    el('td', { 'data-label': 'Phase' }, badge(st.phase)),
    el('td', { 'data-label': 'Step' }, stepText),
    el('td', { 'data-label': 'Weight' }, weightBar(st.weight || 0)),
    el('td', { 'data-label': 'In step', class: 'num' }, inStep),
    el('td', { 'data-label': 'Health' }, el('span', { class: `health ${h.state}` }, el('span', { 'aria-hidden': 'true' }, stateIcon(h.state) + ' '), h.text)));
}
