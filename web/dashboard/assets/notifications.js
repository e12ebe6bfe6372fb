// The rollout page's notifications: what each audience was sent and what
// failed, from GET .../notifications (newest first, bounded). The page
// asks for a refetch on each batch of events (debounced); while a
// notification is queued, being sent or waiting for a retry, one timer
// looks again when it is due. Nothing else polls.

import * as api from './api.js';
import { el, replace, time, clock, announce } from './format.js';

// limit is how many notifications the page shows, newest first.
export const limit = 50;

// statusOf is how a notification reads: a key for the style, an icon
// (decoration only: the text says the same), the text and whether it
// failed.
export function statusOf(n, now) {
  switch (n.status) {
    case 'delivered':
      return { key: 'delivered', icon: '✓', text: 'delivered', failed: false };
    case 'dead':
      return { key: 'given-up', icon: '✗', text: 'failed, given up', failed: true };
    case 'claimed':
      return { key: 'sending', icon: '↻', text: 'sending', failed: false };
  }
  if (n.failed) {
    const next = time(n.nextAttempt);
    const when = next > now ? `retry at ${clock(next)}` : 'retrying now';
    return { key: 'retrying', icon: '✗', text: `failed, ${when}`, failed: true };
  }
  return { key: 'queued', icon: '…', text: 'queued', failed: false };
}

// summary is "12 sent · 2 failed (1 retrying, 1 given up) · 1 queued".
export function summary(c) {
  const parts = [`${c.delivered} sent`];
  const failed = c.retrying + c.dead;
  parts.push(`${failed} failed` + (failed ? ` (${c.retrying} retrying, ${c.dead} given up)` : ''));
  const queued = c.pending - c.retrying;
  if (queued) parts.push(`${queued} queued`);
  if (c.claimed) parts.push(`${c.claimed} sending`);
  return parts.join(' · ');
}

// table draws one row per notification, failed ones marked in words and
// with a class.
export function table(page, now) {
  const c = page.counts;
  if (!c || c.total === 0) return el('p', { class: 'muted', id: 'notify-summary' }, 'No notifications yet.');
  return [
    el('p', { id: 'notify-summary', class: c.retrying + c.dead ? 'notify-summary failed' : 'notify-summary' }, summary(c)),
    el('div', { class: 'table-scroll' }, el('table', { class: 'notifications' },
      el('caption', { class: 'visually-hidden' }, 'Notifications sent to each audience, newest first, with their delivery status'),
      el('thead', null, el('tr', null, ['Audience', 'Channel', 'Event', 'Queued', 'Status', 'Attempts', 'Last error']
        .map((h) => el('th', { scope: 'col', class: h === 'Attempts' ? 'num' : null }, h)))),
      el('tbody', null, page.items.map((n) => row(n, now))))),
    page.more ? el('p', { class: 'muted' }, `Showing the newest ${page.items.length}; ${page.more} older not shown.`) : null,
  ];
}

function row(n, now) {
  const s = statusOf(n, now);
  const queued = time(n.createdAt);
  const finished = time(n.finishedAt);
  return el('tr', { class: s.failed ? 'failed' : s.key, dataset: { key: n.key, audience: n.audience, status: s.key, failed: s.failed ? 'true' : 'false' } },
    el('th', { scope: 'row', 'data-label': 'Audience' }, n.audience),
    el('td', { 'data-label': 'Channel' }, n.channel),
    el('td', { 'data-label': 'Event' }, n.event || '—'),
    el('td', { 'data-label': 'Queued', class: 'num' }, queued ? el('time', { datetime: n.createdAt }, clock(queued)) : '—'),
    el('td', { 'data-label': 'Status', class: 'notify-status' },
      el('span', { class: `delivery ${s.key}`, title: finished ? `${s.text} at ${clock(finished)}` : null },
        el('span', { 'aria-hidden': 'true' }, s.icon + ' '), s.text)),
    el('td', { 'data-label': 'Attempts', class: 'num' }, String(n.attempts)),
    el('td', { 'data-label': 'Last error', class: 'notify-error' }, n.lastError || '—'));
}

// followDelay is when to look again for notifications still on their way
// (ms), or -1 when all are delivered or given up.
export function followDelay(page, now) {
  let wait = -1;
  for (const n of page.items || []) {
    let d = -1;
    if (n.status === 'claimed' || (n.status === 'pending' && !n.failed)) d = 2000;
    else if (n.status === 'pending') d = Math.max(time(n.nextAttempt) - now + 1500, 2000);
    if (d >= 0 && (wait < 0 || d < wait)) wait = d;
  }
  return wait < 0 ? -1 : Math.min(wait, 60000);
}

// Notifications keeps the section of a rollout's page up to date.
export class Notifications {
  constructor(box, name, onAuthLost) {
    this.box = box;
    this.name = name;
    this.onAuthLost = onAuthLost;
    this.page = null;
    this.timer = null;
    this.due = 0;
    this.loading = false;
    this.again = false;
    this.failedKeys = null;
  }

  // soon loads the notifications in ms unless a load is due sooner: a
  // burst of events makes one request.
  soon(ms = 1000) {
    const due = Date.now() + ms;
    if (this.timer !== null && this.due <= due) return;
    clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.load();
    }, ms);
  }

  async load() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      this.page = await api.call(`${api.rolloutPath(this.name)}/notifications?limit=${limit}`);
    } catch (e) {
      this.loading = false;
      if (e.status === 401) return this.onAuthLost();
      replace(this.box, el('p', { class: 'error' }, `Could not read the notifications: ${e.message}`));
      this.soon(15000);
      return;
    }
    this.loading = false;
    this.draw();
    if (this.again) {
      this.again = false;
      this.soon(1000);
      return;
    }
    const d = followDelay(this.page, api.now());
    if (d >= 0) this.soon(d);
  }

  draw() {
    const now = api.now();
    replace(this.box, table(this.page, now));
    // Tell assistive technology about failures that are new since the
    // last look (not those the page opened with).
    const failed = this.page.items.filter((n) => statusOf(n, now).failed);
    if (this.failedKeys) {
      const fresh = failed.filter((n) => !this.failedKeys.has(n.key));
      if (fresh.length) announce(`Notification to ${fresh[0].audience} via ${fresh[0].channel} failed${fresh.length > 1 ? ` (and ${fresh.length - 1} more)` : ''}.`);
    }
    this.failedKeys = new Set(failed.map((n) => n.key));
  }
}
