// Building and updating the page: an element builder, tables, notices, and region swaps
// that keep the reader's focus where it was.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A table: columns are {label, num?}, rows are arrays of cells (text or nodes) or
 * {cells, attrs}. */
export function table({ caption, columns, rows, id, empty = 'Nothing to show.' }) {
  if (!rows.length) return h('p', { class: 'muted', id }, empty);
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : undefined }, c.label)));
  const body = rows.map((row) => {
    const { cells, attrs } = Array.isArray(row) ? { cells: row, attrs: {} } : row;
    return h('tr', attrs, cells.map((cell, i) => {
      const col = columns[i] ?? {};
      const cls = [col.num ? 'num' : '', col.class ?? ''].join(' ').trim() || undefined;
      return i === 0 && col.rowHeader ? h('th', { scope: 'row', class: cls }, cell) : h('td', { class: cls }, cell);
    }));
  });
  return h('div', { class: 'table-wrap' },
    h('table', { id }, caption ? h('caption', {}, caption) : null, h('thead', {}, head), h('tbody', {}, body)));
}

export function notice(text, kind = 'info', attrs = {}) {
  return h('div', { class: `notice ${kind === 'info' ? '' : kind}`.trim(), role: kind === 'error' ? 'alert' : undefined, ...attrs }, text);
}

export function errorNotice(err, what) {
  return notice(`${what}: ${err.message}`, 'error');
}

export function stateBadge(state) {
  const s = String(state ?? 'Unknown');
  return h('span', { class: `badge state-${s.replace(/[^A-Za-z]/g, '')}`, dataset: { state: s } }, s);
}

function focusKey(el) {
  return el.id ? `#${el.id}` : el.getAttribute('href') ?? el.dataset?.key ?? null;
}

/** Replaces region's content with node, unless the reader is inside it and the same
 * control cannot be found again: auto-refresh must never pull focus away. */
export function swap(region, node) {
  const active = document.activeElement;
  if (active && active !== document.body && region.contains(active)) {
    const key = focusKey(active);
    const again = key ? [...node.querySelectorAll('a,button,input,select,textarea,[tabindex]')].find((e) => focusKey(e) === key) : null;
    if (!again) return false;
    region.replaceChildren(node);
    again.focus({ preventScroll: true });
    return true;
  }
  region.replaceChildren(node);
  return true;
}

export function announce(text) {
  const el = document.getElementById('announcer');
  if (!el) return;
  el.textContent = '';
  // A fresh text node after a tick, so screen readers announce a repeated message too.
  setTimeout(() => { el.textContent = text; }, 50);
}

export function breadcrumb(...items) {
  return h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
    h('ol', {}, items.map(([label, href], i) =>
      h('li', {}, href ? h('a', { href }, label) : h('span', { 'aria-current': i === items.length - 1 ? 'page' : undefined }, label)))));
}

export function section(id, title, ...children) {
  const headingId = `${id}-heading`;
  return h('section', { id, 'aria-labelledby': headingId }, h('h2', { id: headingId }, title), ...children);
}

export function region(attrs = {}) {
  return h('div', attrs);
}

export function hashFor(kind, name) {
  return `#/${kind}/${encodeURIComponent(name)}`;
}
