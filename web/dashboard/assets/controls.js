// The operator's controls: pause, resume, promote (a step or to 100%),
// approve, abort (gradual or immediate) and retry. Each asks for
// confirmation in a modal dialog, says what it will do, takes an optional
// reason for the event log, and is sent with the operator's token. Only
// the controls that apply in the rollout's phase are shown, as the engine
// allows them; a viewer gets none.

import * as api from './api.js';
import { el, replace, terminal, announce } from './format.js';

// controls are the commands, with when they apply and what they do.
const controls = [
  {
    id: 'pause', kind: 'pause', label: 'Pause', reason: true,
    applies: (st) => ['Pending', 'PreChecks', 'Progressing'].includes(st.phase),
    says: (st) => `Stop advancing ${st.name} at ${st.weight}%. Rules keep protecting it while paused; the hold clock stops.`,
  },
  {
    id: 'resume', kind: 'resume', label: 'Resume', reason: true,
    applies: (st) => st.phase === 'Paused',
    says: (st) => `Continue ${st.name} from where it was paused.`,
  },
  {
    id: 'approve', kind: 'approve', label: 'Approve step', reason: true,
    applies: (st, p) => from(st) === 'Progressing' && p.spec.steps[st.step] && p.spec.steps[st.step].approval && !st.approved,
    says: (st, p) => `Approve step ${st.step + 1} (${p.spec.steps[st.step].weight}%) of ${st.name}: it advances once its hold is done.`,
  },
  {
    id: 'promote', kind: 'promote', label: 'Promote step', reason: true,
    applies: (st) => from(st) === 'Progressing',
    says: (st, p) => {
      const next = p.spec.steps[st.step + 1];
      return `Complete step ${st.step + 1} of ${st.name} now, without waiting for its hold` +
        (next ? `, and move to ${next.weight}%.` : ', and promote.');
    },
  },
  {
    id: 'promote-full', kind: 'promote', body: { full: true }, label: 'Promote to 100%', reason: true, danger: true,
    applies: (st) => from(st) === 'Progressing',
    says: (st) => `Skip the remaining steps: send 100% of traffic to ${st.version} and make it the stable version.`,
  },
  {
    id: 'abort-gradual', kind: 'abort', label: 'Abort (gradual)', reason: true, danger: true,
    applies: (st) => !terminal(st.phase) && st.phase !== 'Promoting' && st.phase !== 'RollingBack',
    says: (st) => `Roll ${st.name} back gradually: weight and flag to 0, drain in-flight work, then remove the canary.`,
  },
  {
    id: 'abort-immediate', kind: 'abort', body: { immediate: true }, label: 'Abort immediately', reason: true, danger: true,
    applies: (st) => !terminal(st.phase) && st.phase !== 'Promoting' &&
      !(st.phase === 'RollingBack' && (st.rollbackKind === 'rollback-immediate' || st.stage === 'cleanup')),
    says: (st) => `Roll ${st.name} back immediately: flag off, weight 0, canary removed` +
      (st.phase === 'RollingBack' ? ', overriding the gradual rollback under way.' : '.'),
  },
  {
    id: 'retry', kind: 'retry', label: 'Retry', reason: true,
    applies: (st) => st.phase === 'RolledBack' || st.phase === 'Failed',
    says: (st) => `Start ${st.name} again from its first step.`,
  },
];

function from(st) {
  return st.phase === 'Paused' ? st.pausedFrom : st.phase;
}

// Controls draws the buttons into box and runs the confirmation dialog.
// update(r) redraws them for a new state (only when the set changes, so
// the keyboard focus stays put); onDone(r) receives the rollout a command
// returned.
export class Controls {
  constructor(box, name, onDone, onAuthLost) {
    this.box = box;
    this.name = name;
    this.onDone = onDone;
    this.onAuthLost = onAuthLost;
    this.key = null;
    this.r = null;
    this.dialog = this.buildDialog();
    document.body.append(this.dialog);
  }

  update(r) {
    this.r = r;
    const st = Object.assign({ name: r.name }, r.state);
    const shown = controls.filter((c) => c.applies(st, r.plan));
    const key = shown.map((c) => c.id).join(',');
    if (key === this.key) return;
    this.key = key;
    if (shown.length === 0) {
      replace(this.box, el('p', { class: 'muted' }, 'No control applies in this phase.'));
      return;
    }
    replace(this.box, el('div', { class: 'buttons', role: 'group', 'aria-label': 'Rollout controls' },
      shown.map((c) => el('button', {
        type: 'button', class: c.danger ? 'danger' : '', dataset: { control: c.id }, onclick: () => this.ask(c),
      }, c.label))));
  }

  buildDialog() {
    this.title = el('h2', { id: 'confirm-title' });
    this.text = el('p', { id: 'confirm-text' });
    this.reason = el('input', { id: 'confirm-reason', type: 'text', maxlength: '500', autocomplete: 'off' });
    this.error = el('p', { class: 'error', role: 'alert', hidden: true });
    this.ok = el('button', { type: 'submit', class: 'primary', id: 'confirm-ok' }, 'Confirm');
    const cancel = el('button', { type: 'button', id: 'confirm-cancel' }, 'Cancel');
    this.cancel = cancel;
    const form = el('form', { method: 'dialog' },
      this.title, this.text,
      el('label', { for: 'confirm-reason' }, 'Reason (optional, recorded in the event log)'), this.reason,
      this.error,
      el('div', { class: 'buttons' }, cancel, this.ok));
    const d = el('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' }, form);
    cancel.addEventListener('click', () => d.close());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    return d;
  }

  ask(c) {
    const st = Object.assign({ name: this.r.name }, this.r.state);
    this.current = c;
    this.title.textContent = `${c.label}: ${this.r.name}?`;
    this.text.textContent = c.says(st, this.r.plan);
    this.ok.textContent = c.label;
    this.ok.className = c.danger ? 'danger' : 'primary';
    this.ok.disabled = false;
    this.reason.value = '';
    this.error.hidden = true;
    this.dialog.showModal();
    // A destructive command starts on Cancel, so a stray Enter does not send it.
    (c.danger ? this.cancel : this.ok).focus();
  }

  async send() {
    const c = this.current;
    const body = Object.assign({}, c.body || {});
    if (this.reason.value.trim()) body.reason = this.reason.value.trim();
    this.ok.disabled = true;
    try {
      const r = await api.call(`${api.rolloutPath(this.name)}/${c.kind}`, { method: 'POST', body });
      this.dialog.close();
      announce(`${c.label} sent: ${r.name} is ${r.state.phase}.`);
      this.onDone(r, `${c.label}: accepted by the server.`);
    } catch (e) {
      if (e.status === 401) return this.onAuthLost();
      this.error.textContent = e.status === 403 ? `Refused: ${e.message}` : e.message;
      this.error.hidden = false;
      this.ok.disabled = false;
    }
  }
}
