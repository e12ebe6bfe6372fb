// A small Markdown renderer for the post-deployment report (package
// report): headings, paragraphs, bullet and numbered lists with nested
// items and task boxes, tables with column alignment, and inline **bold**,
// *emphasis* and `code`, with backslash escapes. It builds DOM nodes and
// sets every text as text, so nothing in a report can become markup.

import { el } from './format.js';

// render returns a DocumentFragment for the Markdown text md.
export function render(md) {
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  const out = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h) {
      out.append(el('h' + h[1].length, null, inline(h[2])));
      i++;
      continue;
    }
    if (isTableStart(lines, i)) {
      i = table(lines, i, out);
      continue;
    }
    if (listItem(line)) {
      i = list(lines, i, 0, out);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() !== '' && !/^#{1,6}\s/.test(lines[i]) && !listItem(lines[i]) && !isTableStart(lines, i)) {
      para.push(lines[i].trim());
      i++;
    }
    out.append(el('p', null, inline(para.join(' '))));
  }
  return out;
}

// listItem matches "- text", "* text" or "12. text" with its indent.
function listItem(line) {
  const m = /^(\s*)([-*]|\d+\.)\s+(.*)$/.exec(line);
  if (!m) return null;
  return { indent: m[1].length, ordered: /\d/.test(m[2]), start: parseInt(m[2], 10), text: m[3] };
}

// list reads the items at indent from line i into parent; deeper items
// nest under the item before them. It returns the next line.
function list(lines, i, indent, parent) {
  const first = listItem(lines[i]);
  const l = el(first.ordered ? 'ol' : 'ul');
  if (first.ordered && first.start !== 1) l.setAttribute('start', first.start);
  let li = null;
  while (i < lines.length) {
    const it = listItem(lines[i]);
    if (!it) {
      // A continuation line belongs to the item before it.
      if (li && lines[i].trim() !== '' && /^\s+/.test(lines[i]) && !isTableStart(lines, i)) {
        li.append(' ', inline(lines[i].trim()));
        i++;
        continue;
      }
      break;
    }
    if (it.indent > indent && li) {
      i = list(lines, i, it.indent, li);
      continue;
    }
    if (it.indent < indent || it.ordered !== first.ordered) break;
    li = el('li');
    const task = /^\[([ xX])\]\s+(.*)$/.exec(it.text);
    if (task) {
      li.className = 'task';
      const box = el('input', { type: 'checkbox', disabled: true, 'aria-label': task[1] === ' ' ? 'not checked' : 'checked' });
      box.checked = task[1] !== ' ';
      li.append(box, ' ', inline(task[2]));
    } else {
      li.append(inline(it.text));
    }
    l.append(li);
    i++;
  }
  parent.append(l);
  return i;
}

function isTableStart(lines, i) {
  return /^\s*\|/.test(lines[i]) && i + 1 < lines.length && /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/.test(lines[i + 1]);
}

// cells splits a table row on the pipes that are not escaped.
function cells(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const out = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === '|') {
      cur += '\\|';
      i++;
    } else if (s[i] === '|') {
      out.push(cur.trim());
      cur = '';
    } else {
      cur += s[i];
    }
  }
  out.push(cur.trim());
  return out;
}

function table(lines, i, parent) {
  const head = cells(lines[i]);
  const align = cells(lines[i + 1]).map((c) => (c.endsWith(':') ? (c.startsWith(':') ? 'center' : 'right') : ''));
  const tr = el('tr');
  head.forEach((c, j) => tr.append(el('th', { scope: 'col', class: align[j] ? 'a-' + align[j] : null }, inline(c))));
  const body = el('tbody');
  i += 2;
  while (i < lines.length && /^\s*\|/.test(lines[i])) {
    const row = el('tr');
    cells(lines[i]).forEach((c, j) => row.append(el('td', { class: align[j] ? 'a-' + align[j] : null }, inline(c))));
    body.append(row);
    i++;
  }
  parent.append(el('div', { class: 'table-scroll' }, el('table', null, el('thead', null, tr), body)));
  return i;
}

// inline renders **strong**, *em* and `code` spans, honouring backslash
// escapes, into a fragment of text and elements.
export function inline(text) {
  const frag = document.createDocumentFragment();
  let buf = '';
  const flush = () => {
    if (buf) frag.append(document.createTextNode(buf));
    buf = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && /[\\`*_{}\[\]()#+\-.!|<>]/.test(text[i + 1])) {
      buf += text[++i];
      continue;
    }
    if (c === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i) {
        flush();
        frag.append(el('code', null, text.slice(i + 1, end)));
        i = end;
        continue;
      }
    }
    if (c === '*') {
      const strong = text[i + 1] === '*';
      const mark = strong ? '**' : '*';
      const end = closing(text, i + mark.length, mark);
      if (end > i + mark.length) {
        flush();
        frag.append(el(strong ? 'strong' : 'em', null, inline(text.slice(i + mark.length, end))));
        i = end + mark.length - 1;
        continue;
      }
    }
    buf += c;
  }
  flush();
  return frag;
}

// closing finds the unescaped closing mark from position from, -1 if none.
function closing(text, from, mark) {
  for (let j = from; j < text.length; j++) {
    if (text[j] === '\\') {
      j++;
      continue;
    }
    if (text.startsWith(mark, j) && (mark === '**' || text[j + 1] !== '*')) return j;
    if (mark === '*' && text.startsWith('**', j)) {
      j++; // a strong span inside emphasis: skip both stars
    }
  }
  return -1;
}
