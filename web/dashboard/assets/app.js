// The dashboard's entry point: ask for a token when the API wants one,
// learn the token's role, then build the page the path names.

import * as api from './api.js';
import { el, replace } from './format.js';
import { listPage } from './list.js';
import { rolloutPage } from './rollout.js';
import { reportPage } from './report.js';

const main = document.getElementById('main');
const session = document.getElementById('session');

// route is the page the path names: {page, name}.
function route() {
  const p = location.pathname;
  // name@GEN is one generation of the rollout; the bare name, the latest.
  let m = /^\/rollouts\/([a-z0-9-]+)\/([a-z0-9-]+(?:@[1-9][0-9]*)?)(\/report)?\/?$/.exec(p);
  if (m) return { page: m[3] ? 'report' : 'rollout', name: `${m[1]}/${m[2]}` };
  return { page: 'list' };
}

// signIn shows the token form; it resolves once a token was given.
function signIn(message) {
  return new Promise((resolve) => {
    document.title = 'Sign in · canary';
    replace(session);
    const input = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false', 'aria-describedby': 'token-help' });
    // The script handles the submission; were the form ever sent by the
    // browser, a POST keeps the token out of the URL.
    const form = el('form', { class: 'signin card', method: 'post', 'aria-labelledby': 'signin-title' },
      el('h1', { id: 'signin-title' }, 'Sign in'),
      message ? el('p', { class: 'error', role: 'alert' }, message) : null,
      el('label', { for: 'token' }, 'API token'),
      input,
      el('p', { id: 'token-help', class: 'help' },
        'The secret of a token of this server (a viewer sees, an operator also controls). It is kept in this tab only ' +
        '(sessionStorage) and sent to this server as an Authorization header.'),
      el('button', { type: 'submit', class: 'primary' }, 'Sign in'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      api.setToken(input.value.trim());
      resolve();
    });
    replace(main, form);
    input.focus();
  });
}

function sessionNav(role, name) {
  const out = el('button', { type: 'button', class: 'link' }, 'Sign out');
  out.addEventListener('click', () => {
    api.setToken('');
    location.reload();
  });
  replace(session,
    name ? el('span', { class: 'who', title: 'The name of this token, recorded with every command it sends' }, name) : null,
    el('span', { class: `role ${role}`, title: role === 'operator' ? 'This token may apply and control rollouts' : 'This token may read only' },
      role === 'operator' ? 'operator' : 'viewer'),
    api.token() ? out : null);
}

// start signs in until the API accepts the token (or needs none: a
// server started with --insecure), then shows the page.
async function start() {
  let message = '';
  let me = null;
  for (;;) {
    try {
      me = await api.whoami();
      break;
    } catch (e) {
      if (e.status === 401) {
        if (api.token()) message = 'This server does not accept that token.';
        api.setToken('');
        await signIn(message);
        continue;
      }
      replace(main, el('p', { class: 'error', role: 'alert' }, `The API did not answer: ${e.message}`));
      return;
    }
  }
  const role = me.role === 'operator' ? 'operator' : 'viewer';
  sessionNav(role, me.name);
  document.body.dataset.role = role;
  const r = route();
  const ctx = { main, role, onAuthLost: () => { api.setToken(''); location.reload(); } };
  if (r.page === 'rollout') await rolloutPage(ctx, r.name);
  else if (r.page === 'report') await reportPage(ctx, r.name);
  else await listPage(ctx);
}

start();
