// The post-deployment report as a printable page: the API's Markdown
// report (package report), rendered here, with the rollout page's charts
// placed before its "Metrics per step" section.

import * as api from './api.js';
import { el, replace, time } from './format.js';
import { render } from './markdown.js';
import { seriesOf, markersOf, figure } from './chart.js';
import { ruleRows } from './rules.js';

export async function reportPage(ctx, name) {
  document.title = `Report: ${name} · canary`;
  let md, r, events;
  try {
    [md, r, events] = await Promise.all([
      api.call(`${api.rolloutPath(name)}/report`),
      api.call(api.rolloutPath(name)),
      api.allEvents(name, 0),
    ]);
  } catch (e) {
    if (e.status === 401) return ctx.onAuthLost();
    replace(ctx.main, el('p', { class: 'error', role: 'alert' }, e.status === 404 ? `No rollout ${name}.` : `Could not read the report: ${e.message}`));
    return;
  }
  const print = el('button', { type: 'button', class: 'primary' }, 'Print');
  print.addEventListener('click', () => window.print());
  const doc = el('article', { class: 'report', id: 'report' });
  doc.append(render(md));
  const start = time(r.state.createdAt) || time(r.createdAt) || (events[0] && time(events[0].time)) || 0;
  const charts = seriesOf(events, ruleRows(r, api.now()), start);
  if (charts.length) {
    const markers = markersOf(events);
    const sec = el('section', { class: 'report-charts', 'aria-labelledby': 'h-charts' },
      el('h2', { id: 'h-charts' }, 'Charts'),
      el('p', null, 'Every evaluation: the canary (the whole service for burnRate) against the stable track over each rule\'s window, with the thresholds; vertical lines mark the steps and the rollback.'),
      el('div', { class: 'charts' }, charts.map((c) => figure(c, markers))));
    const anchor = [...doc.querySelectorAll('h2')].find((h) => /^Metrics per step/.test(h.textContent));
    if (anchor) anchor.before(sec);
    else doc.append(sec);
  }
  replace(ctx.main,
    el('nav', { class: 'crumbs no-print', 'aria-label': 'Breadcrumb' },
      el('a', { href: '/' }, 'Rollouts'), ' / ', el('a', { href: `/rollouts/${name}` }, name), ' / ', el('span', { 'aria-current': 'page' }, 'Report')),
    el('div', { class: 'no-print report-actions' }, print, el('span', { class: 'muted' }, ' The report as of now; reload for a newer one.')),
    doc);
}
