// One rollout, live: the page reads the rollout and its events, then
// follows the event stream (fetch with the token, resuming after the last
// event seen); each batch of events re-reads the rollout and redraws, and
// the timers tick every second in between. Nothing reloads the page.

import * as api from './api.js';
import { el, replace, time, announce } from './format.js';
import { header, reason, track, traffic, matrix, logEntry, isDecision } from './sections.js';
import { seriesOf, markersOf, figure } from './chart.js';
import { ruleRows } from './rules.js';
import { Controls } from './controls.js';
import { Notifications } from './notifications.js';

export async function rolloutPage(ctx, name) {
  document.title = `${name} · canary`;
  const page = new Page(ctx, name);
  await page.start();
}

class Page {
  constructor(ctx, name) {
    this.ctx = ctx;
    this.name = name;
    this.r = null;
    this.events = [];
    this.seq = 0;
    this.charts = new Map();
    this.shownLog = 0;
  }

  async start() {
    const c = this.ctx;
    this.head = el('div', { class: 'rollout-head' });
    this.live = el('span', { id: 'live', class: 'live off' }, 'connecting…');
    this.reasonBox = el('div');
    this.flash = el('p', { class: 'flash', role: 'status', hidden: true });
    this.trackBox = el('div', { id: 'track' });
    this.trafficBox = el('div', { id: 'traffic', class: 'meters' });
    this.matrixBox = el('div', { id: 'matrix' });
    this.chartsBox = el('div', { id: 'charts', class: 'charts' });
    this.notifyBox = el('div', { id: 'notifications' }, el('p', { class: 'muted' }, 'Loading…'));
    this.logList = el('ol', { id: 'log', class: 'log', reversed: true });
    this.allToggle = el('input', { type: 'checkbox', id: 'show-all' });
    this.allToggle.addEventListener('change', () => this.redrawLog());
    const section = (id, title, ...body) => el('section', { 'aria-labelledby': id, class: 'card' }, el('h2', { id }, title), ...body);
    let controls = null;
    const [latest, gen] = this.name.split('@');
    if (c.role === 'operator' && gen) {
      // Commands act on a name's latest generation (the API refuses them
      // for an older NAME@GEN): no buttons here, a link to the latest.
      controls = section('h-controls', 'Controls', el('p', { id: 'controls-older', class: 'muted' },
        `This page shows generation ${gen}. Commands act on the latest generation: `,
        el('a', { href: `/rollouts/${latest}` }, latest), '.'));
    } else if (c.role === 'operator') {
      this.controlsBox = el('div', { id: 'controls' });
      controls = section('h-controls', 'Controls', this.controlsBox);
    }
    replace(c.main,
      el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
        el('a', { href: '/' }, 'Rollouts'), ' / ', el('span', { 'aria-current': 'page' }, this.name)),
      el('div', { class: 'page-head' }, this.head,
        el('div', { class: 'head-links' }, this.live, el('a', { class: 'button', href: `/rollouts/${this.name}/report` }, 'Report'))),
      this.reasonBox, this.flash,
      controls,
      el('div', { class: 'grid2' },
        section('h-steps', 'Steps', this.trackBox),
        section('h-traffic', 'Traffic', this.trafficBox)),
      section('h-matrix', 'Decision matrix', this.matrixBox),
      section('h-charts', 'Metrics: canary against stable', this.chartsBox),
      section('h-notify', 'Notifications', this.notifyBox),
      section('h-log', 'Decision log',
        el('p', { class: 'filter' }, this.allToggle, el('label', { for: 'show-all' }, ' Show every event (actions, evaluations)')),
        this.logList));
    if (controls) {
      this.controls = new Controls(this.controlsBox, this.name, (r, msg) => {
        this.r = r;
        this.showFlash(msg);
        this.draw();
      }, c.onAuthLost);
    }
    try {
      this.r = await api.call(api.rolloutPath(this.name));
      this.events = await api.allEvents(this.name, 0);
    } catch (e) {
      if (e.status === 401) return c.onAuthLost();
      replace(c.main, el('p', { class: 'error', role: 'alert' }, e.status === 404 ? `No rollout ${this.name}.` : `Could not read ${this.name}: ${e.message}`),
        el('p', null, el('a', { href: '/' }, 'All rollouts')));
      return;
    }
    this.seq = this.events.length ? this.events[this.events.length - 1].seq : 0;
    this.lastPhase = this.r.state.phase;
    this.draw();
    this.drawCharts();
    this.redrawLog();
    this.notes = new Notifications(this.notifyBox, this.name, c.onAuthLost);
    this.notes.load();
    setInterval(() => {
      if (!document.hidden) this.drawTimers();
    }, 1000);
    this.follow();
  }

  // follow reads the event stream for ever, reconnecting after a failure
  // with a growing pause, from the last event seen.
  async follow() {
    let backoff = 1000;
    for (;;) {
      let reset = false;
      try {
        this.setLive('live');
        await api.stream(this.name, this.seq, (type, data) => {
          if (type === 'generation') reset = true;
          else if (type !== 'error' && data && typeof data.seq === 'number') this.onEvent(data);
        });
        backoff = 1000;
      } catch (e) {
        if (e.status === 401) return this.ctx.onAuthLost();
      }
      if (reset) {
        // A new version was applied under this name: start over.
        this.events = [];
        this.seq = 0;
        this.shownLog = 0;
        replace(this.logList);
        this.showFlash('A new version was applied under this name; showing it.');
        await this.refresh();
        this.notes.soon(0);
        continue;
      }
      this.setLive('reconnecting');
      await new Promise((res) => setTimeout(res, backoff));
      backoff = Math.min(backoff * 2, 15000);
      await this.refresh();
    }
  }

  setLive(s) {
    this.live.className = `live ${s === 'live' ? 'on' : 'off'}`;
    this.live.textContent = s === 'live' ? '● live' : 'reconnecting…';
    this.live.title = s === 'live' ? 'Following the event stream' : 'The event stream was interrupted; reconnecting';
  }

  onEvent(ev) {
    if (ev.seq <= this.seq) return;
    this.events.push(ev);
    this.seq = ev.seq;
    this.newEvals = this.newEvals || ev.type === 'evaluated';
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.refresh(), 150);
    // Events queue notifications; the deliverer sends them a moment later.
    this.notes.soon(1000);
  }

  // refresh re-reads the rollout (its state moves with the events) and
  // redraws.
  async refresh() {
    try {
      this.r = await api.call(api.rolloutPath(this.name));
    } catch (e) {
      if (e.status === 401) return this.ctx.onAuthLost();
      return;
    }
    if (this.r.state.phase !== this.lastPhase) {
      announce(`${this.name} is ${this.r.state.phase}.`);
      this.lastPhase = this.r.state.phase;
    }
    this.draw();
    if (this.newEvals || this.charts.size === 0) this.drawCharts();
    this.newEvals = false;
    this.redrawLog();
  }

  start0() {
    return time(this.r.state.createdAt) || time(this.r.createdAt) || (this.events[0] && time(this.events[0].time)) || 0;
  }

  draw() {
    this.drawTimers();
    replace(this.trafficBox, traffic(this.r));
    if (this.controls) this.controls.update(this.r);
  }

  // drawTimers redraws what moves with the clock: the header, the reason,
  // the track and the matrix.
  drawTimers() {
    const now = api.now();
    replace(this.head, header(this.r, now));
    replace(this.reasonBox, reason(this.r, now));
    replace(this.trackBox, track(this.r, now));
    replace(this.matrixBox, matrix(this.r, now));
  }

  drawCharts() {
    const rows = ruleRows(this.r, api.now());
    const charts = seriesOf(this.events, rows, this.start0());
    const markers = markersOf(this.events);
    if (charts.length === 0) {
      if (!this.chartsBox.firstChild) replace(this.chartsBox, el('p', { class: 'muted', id: 'no-charts' }, 'No evaluation yet: the charts start once traffic reaches the canary.'));
      return;
    }
    const empty = this.chartsBox.querySelector('#no-charts');
    if (empty) empty.remove();
    for (const c of charts) {
      const f = this.charts.get(c.key);
      if (f) f.redraw(c, markers);
      else {
        const fig = figure(c, markers);
        this.charts.set(c.key, fig);
        this.chartsBox.append(fig);
      }
    }
  }

  // redrawLog adds the new entries on top (the log is newest first); the
  // toggle redraws it whole.
  redrawLog() {
    const all = this.allToggle.checked;
    if (this.logAll !== all) {
      this.logAll = all;
      this.shownLog = 0;
      replace(this.logList);
    }
    const start = this.start0();
    for (let i = this.shownLog; i < this.events.length; i++) {
      const ev = this.events[i];
      if (all || isDecision(ev)) this.logList.prepend(logEntry(this.events, i, start));
    }
    this.shownLog = this.events.length;
  }

  showFlash(msg) {
    this.flash.textContent = msg;
    this.flash.hidden = false;
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => {
      this.flash.hidden = true;
    }, 8000);
  }
}
