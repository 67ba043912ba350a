// functions.js: the functions list, with the last hour's metrics.

import { lambda, enc } from './aws.js';
import { h, fill, table, link, when, num, errorBox } from './ui.js';
import { metricData, total } from './metrics.js';

/** listFunctions returns every function, following Marker. */
export async function listFunctions() {
  const all = [];
  let marker = '';
  do {
    const page = await lambda('GET', '/2015-03-31/functions/?MaxItems=50' + (marker ? '&Marker=' + enc(marker) : ''));
    all.push(...(page.Functions || []));
    marker = page.NextMarker || '';
  } while (marker);
  return all;
}

/** functionsPage lists the functions, then fills in the last hour's invocations, errors and p95 duration. */
export async function functionsPage(main) {
  const fns = await listFunctions();
  fns.sort((a, b) => a.FunctionName.localeCompare(b.FunctionName));
  const cells = {};
  const rows = fns.map((f) => {
    const c = { inv: h('span.metric', '…'), err: h('span.metric', '…'), p95: h('span.metric', '…') };
    cells[f.FunctionName] = c;
    return [link(f.FunctionName, '/functions/' + encodeURIComponent(f.FunctionName)), f.Runtime || f.PackageType, num(f.MemorySize) + ' MB',
      when(f.LastModified), c.inv, c.err, c.p95];
  });
  const note = h('p.small.muted#metrics-note');
  fill(main,
    h('div.page-head', h('h1', 'Functions'), h('a.button.primary#create-function', { href: '#/functions/+new' }, 'Create function')),
    h('div#function-list', { dataset: { count: String(fns.length) } },
      table(['Name', 'Runtime', 'Memory', 'Last modified', 'Invocations (1 h)', 'Errors (1 h)', 'p95 duration (1 h)'], rows,
        'No functions yet. Create one from a template.')),
    note);
  performance.mark('functions-rendered');
  if (!fns.length) return;
  const end = Date.now();
  const start = end - 3600e3;
  const series = [];
  fns.forEach((f, i) => {
    series.push({ id: 'i' + i, name: 'Invocations', fn: f.FunctionName, stat: 'Sum' });
    series.push({ id: 'e' + i, name: 'Errors', fn: f.FunctionName, stat: 'Sum' });
    series.push({ id: 'd' + i, name: 'Duration', fn: f.FunctionName, stat: 'p95' });
  });
  try {
    const data = await metricData(series, start, end, 3600);
    fns.forEach((f, i) => {
      const c = cells[f.FunctionName];
      c.inv.textContent = num(total(data['i' + i]));
      c.err.textContent = num(total(data['e' + i]));
      const d = data['d' + i] || [];
      c.p95.textContent = d.length ? num(Math.max(...d.map((p) => p.v)), 1) + ' ms' : '–';
      c.inv.dataset.value = String(total(data['i' + i]));
    });
    note.textContent = 'Metrics of the last hour, from CloudWatch (AWS/Lambda); they arrive about a minute after the invocations.';
  } catch (err) {
    for (const c of Object.values(cells)) for (const el of Object.values(c)) el.textContent = '–';
    note.replaceChildren(h('span', 'Metrics unavailable: '), errorBox(err));
  }
}
