// The front doors of `canary serve` (GET /api/v1/services): one built-in
// proxy per listen address that outlives its rollouts. Shown under the
// rollouts list: address, holder, upstreams, the current split, the live
// rollout and the last 10 seconds' traffic per track.

import * as api from './api.js';
import { el, replace, badge } from './format.js';

// servicesSection returns the section and a function that reads the
// services again; it stays hidden while there are none (or the server has
// no services API).
export function servicesSection(ctx) {
  const body = el('tbody');
  const table = el('table', { class: 'services' },
    el('caption', { class: 'visually-hidden' }, 'Front doors with their upstreams, split, live rollout and traffic per track'),
    el('thead', null, el('tr', null, ['Address', 'Holder', 'Stable', 'Canary', 'Split', 'Live rollout', 'Stable traffic', 'Canary traffic'].map((h) => el('th', { scope: 'col' }, h)))),
    body);
  const section = el('section', { id: 'services', hidden: true },
    el('h2', null, 'Front doors'),
    el('p', { class: 'muted' }, 'Each built-in proxy keeps serving across rollouts and restarts.'),
    el('div', { class: 'table-scroll' }, table));
  const load = async () => {
    let items;
    try {
      items = (await api.call('/api/v1/services')).items || [];
    } catch (e) {
      if (e.status === 401) return ctx.onAuthLost();
      section.hidden = true; // no services API here, or not readable
      return;
    }
    replace(body, items.map(row));
    section.hidden = items.length === 0;
  };
  return { section, load };
}

function traffic(t) {
  if (!t) return '—';
  const rps = t.requestsPerSecond >= 10 ? t.requestsPerSecond.toFixed(0) : t.requestsPerSecond.toFixed(1);
  return `${rps} req/s, ${(100 * t.errorRate).toFixed(2)}% errors`;
}

function row(s) {
  const tracks = s.tracks || {};
  const live = s.liveRollout;
  return el('tr', { dataset: { address: s.address, holder: s.holder, weight: s.weight, open: s.open } },
    el('th', { scope: 'row', 'data-label': 'Address' }, s.address, s.open ? null : el('span', { class: 'muted' }, ' (closed)')),
    el('td', { 'data-label': 'Holder' }, el('a', { href: `/rollouts/${s.holder}` }, s.holder)),
    el('td', { 'data-label': 'Stable', class: 'upstream stable' }, s.stable),
    el('td', { 'data-label': 'Canary', class: 'upstream canary' }, s.canary || '—'),
    el('td', { 'data-label': 'Split', class: 'split num' }, `${100 - s.weight}% / ${s.weight}%`),
    el('td', { 'data-label': 'Live rollout', class: 'live' }, live
      ? el('span', null, el('a', { href: `/rollouts/${live.name}` }, live.name), ` ${live.version} `, badge(live.phase))
      : 'none'),
    el('td', { 'data-label': 'Stable traffic', class: 'traffic stable num' }, traffic(tracks.stable)),
    el('td', { 'data-label': 'Canary traffic', class: 'traffic canary num' }, traffic(tracks.canary)));
}
