// ui.js: building the page's elements without HTML strings (so no
// inline script can slip in), tables, notices and small formats.

/** h creates an element: h('tag.class#id', {attrs, on: {event: fn}}, children...). */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec) || [];
  const el = document.createElement(m[1] || 'div');
  for (const part of (m[2] || '').match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v !== null && v !== undefined) {
      if (k in el && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** clear empties el and fills it with children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** errorBox shows an error plainly: its AWS code and message. */
export function errorBox(err) {
  const denied = /AccessDenied|UnauthorizedOperation|AuthorizationError|NotAuthorized/.test(err.code || '');
  return h('div.error' + (denied ? '.denied' : ''), { role: 'alert' },
    h('strong', err.code || 'Error'), ': ', err.message || String(err),
    denied ? h('div.hint', 'The signed-in identity is not allowed to do this; its IAM policies decide what the console can do.') : null);
}

/** table builds a table from column headers and rows of cells. */
export function table(headers, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p.empty', empty);
  return h('table', headers.some((x) => x) ? h('thead', h('tr', headers.map((x) => h('th', x)))) : null,
    h('tbody', rows.map((r) => h('tr', r.map((c) => h('td', c))))));
}

/** section wraps a titled panel. */
export function section(title, ...body) {
  return h('section.panel', h('h2', title), ...body);
}

/** button builds a button that shows a busy state while its async action runs and any error in out. */
export function button(label, action, opts = {}) {
  const b = h('button' + (opts.primary ? '.primary' : '') + (opts.danger ? '.danger' : ''), { type: 'button', id: opts.id });
  b.textContent = label;
  b.addEventListener('click', async () => {
    if (b.disabled) return;
    b.disabled = true;
    if (opts.out) opts.out.replaceChildren();
    try {
      await action();
    } catch (err) {
      if (opts.out) opts.out.replaceChildren(errorBox(err));
      else throw err;
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** field is a labelled input. */
export function field(label, input) {
  return h('label.field', h('span', label), input);
}

/** bytes formats a size. */
export function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1 << 20) return (n / 1024).toFixed(1) + ' KiB';
  if (n < 1 << 30) return (n / (1 << 20)).toFixed(1) + ' MiB';
  return (n / (1 << 30)).toFixed(2) + ' GiB';
}

// Formatters are made once: building one per call (toLocaleString with
// options) costs about a millisecond each, which a list of a hundred
// functions would pay a hundred times.
const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const numberFormats = [];

/** when formats a time as local date and time. */
export function when(t) {
  if (t === undefined || t === null || t === '') return '';
  const d = typeof t === 'number' ? new Date(t < 1e12 ? t * 1000 : t) : new Date(t);
  if (isNaN(d)) return String(t);
  return dateFormat.format(d);
}

/** num formats a number with grouping, or a dash. */
export function num(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(Number(n))) return '–';
  const f = (numberFormats[digits] ||= new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }));
  return f.format(Number(n));
}

/** link is an anchor to a hash route. */
export function link(text, route) {
  return h('a', { href: '#' + route }, text);
}

/** pre shows text in a monospace block. */
export function pre(text, cls = '') {
  return h('pre' + cls, text);
}
