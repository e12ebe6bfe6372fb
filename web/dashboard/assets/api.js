// The JSON API of `canary serve`, as the browser uses it: the token kept
// in sessionStorage and sent as a Bearer header, errors as APIError, the
// event stream read with fetch (EventSource cannot send a header).

const tokenKey = 'canary.token';

// APIError is an answer that is not 2xx, with the API's error body.
export class APIError extends Error {
  constructor(status, code, message, details) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.details = details || [];
  }
}

export function token() {
  return sessionStorage.getItem(tokenKey) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
}

// skew is the server's clock minus the browser's, in ms, from the Date
// header of the API's answers (0 when within 2s: Date has whole seconds).
let skew = 0;

// now is the server's time as the browser best knows it, in ms.
export function now() {
  return Date.now() + skew;
}

function noteDate(res) {
  const d = Date.parse(res.headers.get('Date') || '');
  if (Number.isNaN(d)) return;
  const s = d + 500 - Date.now();
  skew = Math.abs(s) < 2000 ? 0 : s;
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

async function errorOf(res) {
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    // not the API's JSON: keep the status
  }
  const e = (body && body.error) || {};
  return new APIError(res.status, e.code, e.message || `${res.status} ${res.statusText}`, e.details);
}

// call sends one request to the API and returns the decoded JSON (or the
// text of a non-JSON answer). A JSON body is sent when body is given.
export async function call(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, cache: 'no-store', credentials: 'omit', headers: headers({ Accept: 'application/json' }) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  noteDate(res);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return null;
  const ct = res.headers.get('Content-Type') || '';
  return ct.startsWith('application/json') ? res.json() : res.text();
}

// rolloutPath is the API path of rollout "namespace/name".
export function rolloutPath(name) {
  const [ns, n] = name.split('/');
  return `/api/v1/rollouts/${encodeURIComponent(ns)}/${encodeURIComponent(n)}`;
}

// whoami asks the server who the token is: {name, role, insecure} (role
// "viewer" or "operator"), or throws the APIError of a refused token
// (401).
export async function whoami() {
  return call('/api/v1/whoami');
}

// allEvents reads a rollout's events page by page, after seq `after`.
export async function allEvents(name, after = 0, signal) {
  const out = [];
  for (;;) {
    const page = await call(`${rolloutPath(name)}/events?after=${after}&limit=1000`, { signal });
    out.push(...page.items);
    if (page.items.length < 1000) return out;
    after = page.next;
  }
}

// stream follows the rollout's event stream after seq `after`, calling
// onEvent(type, data, id) for each event, until the stream ends (resolves)
// or fails (rejects). signal stops it.
export async function stream(name, after, onEvent, signal) {
  const res = await fetch(`${rolloutPath(name)}/events/stream?after=${after}`, {
    signal,
    cache: 'no-store',
    credentials: 'omit',
    headers: headers({ Accept: 'text/event-stream' }),
  });
  noteDate(res);
  if (!res.ok) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SSEParser(onEvent);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      parser.end();
      return;
    }
    parser.push(value);
  }
}

// SSEParser splits the text/event-stream format into events, chunk by
// chunk: "id:", "event:" and "data:" fields, a blank line ending each
// event, comment lines (": keep-alive") ignored.
export class SSEParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.reset();
  }

  reset() {
    this.type = '';
    this.data = [];
    this.id = '';
  }

  push(chunk) {
    this.buf += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) return;
      // A lone \r at the very end may be the first half of \r\n.
      if (m[0] === '\r' && m.index === this.buf.length - 1) return;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) return;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }

  dispatch() {
    if (this.data.length > 0) {
      const text = this.data.join('\n');
      let data = text;
      try {
        data = JSON.parse(text);
      } catch (e) {
        // keep the text
      }
      this.onEvent(this.type || 'message', data, this.id);
    }
    this.reset();
  }

  end() {
    // An event not ended by a blank line is dropped, as EventSource does.
    this.buf = '';
    this.reset();
  }
}
