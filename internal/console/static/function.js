// function.js: one function: its code in the inline editor, test events
// and the Test button, graphs and recent invocations, the live log tail,
// and its configuration.

import { lambda, call, logs, fnPath, enc, sleep, target, restJSON } from './aws.js';
import { h, fill, table, link, when, num, errorBox, section, field, button, bytes, pre } from './ui.js';
import { unzip, zip, isText, base64 } from './zip.js';
import { events as sampleEvents } from './templates.js';
import { lineChart } from './chart.js';
import { metricData } from './metrics.js';

const tabs = [['code', 'Code'], ['test', 'Test'], ['monitor', 'Monitor'], ['logs', 'Logs'], ['config', 'Configuration']];

/** functionPage shows function name on tab (code, test, monitor, logs, config). */
export async function functionPage(main, name, tab = 'code') {
  const fn = await lambda('GET', fnPath(name));
  const cfg = fn.Configuration;
  const base = '/functions/' + encodeURIComponent(name);
  const body = h('div.tab-body');
  fill(main,
    h('div.page-head', h('div', h('div.crumbs', link('Functions', '/functions'), ' / '), h('h1#function-name', cfg.FunctionName)),
      h('div.meta', h('span.tag', cfg.Runtime || cfg.PackageType), h('span.tag', cfg.MemorySize + ' MB'), h('span.tag', 'timeout ' + cfg.Timeout + ' s'),
        h('span.tag' + (cfg.State === 'Active' ? '.ok' : ''), cfg.State || ''))),
    h('nav.tabs', tabs.map(([id, label]) => h('a' + (id === tab ? '.active' : ''), { href: '#' + base + '/' + id, id: 'tab-' + id }, label))),
    body);
  const pages = { code: codeTab, test: testTab, monitor: monitorTab, logs: logsTab, config: configTab };
  return (pages[tab] || codeTab)(body, fn, name);
}

// ---- code ----

const editable = /^(python|nodejs)/;
const maxEditable = 1 << 20;

async function codeTab(body, fn, name) {
  const cfg = fn.Configuration;
  if (!editable.test(cfg.Runtime || '')) {
    fill(body, section('Code', h('p', 'The inline editor edits Python and Node.js functions; deploy ' + (cfg.Runtime || cfg.PackageType) + ' code with the CLI (aloft deploy) or UpdateFunctionCode.')));
    return;
  }
  if (cfg.CodeSize > maxEditable) {
    fill(body, section('Code', h('p', 'This function\u2019s package is ' + bytes(cfg.CodeSize) + ', larger than the inline editor takes (1 MiB); use the CLI.')));
    return;
  }
  const loc = new URL(fn.Code.Location, location.href);
  const res = await fetch(loc.pathname + loc.search, { credentials: 'same-origin' });
  if (!res.ok) throw new Error('the code download answered ' + res.status);
  let files;
  try {
    files = await unzip(await res.arrayBuffer(), maxEditable);
  } catch (err) {
    fill(body, section('Code', h('p', 'The inline editor cannot open this package: ' + err.message + '. Use the CLI.')));
    return;
  }
  const binary = files.filter((f) => !isText(f.data));
  if (binary.length) {
    fill(body, section('Code', h('p', 'The package holds files that are not text (' + binary.slice(0, 3).map((f) => f.name).join(', ') + '); edit it with the CLI.')));
    return;
  }
  const dec = new TextDecoder();
  const texts = files.map((f) => ({ name: f.name, mode: f.mode, text: dec.decode(f.data) }));
  const handlerFile = (cfg.Handler || '').split('.')[0];
  let current = texts.find((f) => f.name.replace(/\.(py|m?js|cjs)$/, '') === handlerFile) || texts[0];
  const indent = (cfg.Runtime || '').startsWith('python') ? '    ' : '  ';
  const area = h('textarea#code-editor.code', { spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off', wrap: 'off' });
  const gutter = h('div.gutter', { 'aria-hidden': 'true' });
  const status = h('span#save-status.small.muted');
  const fileLabel = h('span.filename#editor-file');
  const out = h('div.out#code-out');
  let dirty = false;
  const list = h('ul.files');
  function showList() {
    list.replaceChildren(...texts.map((f) => h('li' + (f === current ? '.active' : ''), h('button.link', { type: 'button', on: { click: () => open(f) } }, f.name))));
  }
  function numbers() {
    const n = area.value.split('\n').length;
    if (gutter.childElementCount !== n) gutter.textContent = Array.from({ length: n }, (_, i) => i + 1).join('\n');
    gutter.scrollTop = area.scrollTop;
  }
  let shown = null;
  function open(f) {
    if (shown) shown.text = area.value;
    shown = current = f;
    area.value = f.text;
    fileLabel.textContent = f.name;
    numbers();
    showList();
  }
  area.addEventListener('input', () => { dirty = true; status.textContent = 'Unsaved changes'; numbers(); });
  area.addEventListener('scroll', () => { gutter.scrollTop = area.scrollTop; });
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: t } = area;
      area.setRangeText(indent, s, t, 'end');
      area.dispatchEvent(new Event('input'));
    } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
      e.preventDefault();
      save.click();
    }
  });
  const save = button('Save (deploy)', async () => {
    current.text = area.value;
    status.textContent = 'Saving…';
    const z = zip(texts.map((f) => ({ name: f.name, data: f.text, mode: f.mode })));
    const upd = await lambda('PUT', fnPath(name, '/code'), { ZipFile: base64(z) });
    const ready = await waitUpdated(name, upd);
    dirty = false;
    status.textContent = 'Saved ' + new Date().toLocaleTimeString() + ' · ' + bytes(ready.CodeSize || z.length) + ' · ' + (ready.LastUpdateStatus || 'Successful');
    status.dataset.saved = ready.CodeSha256 || 'yes';
  }, { primary: true, out, id: 'save-code' });
  fill(body,
    h('div.editor-wrap',
      texts.length > 1 ? h('aside.file-list', h('h3', 'Files'), list) : null,
      h('div.editor-main',
        h('div.editor-bar', fileLabel, save, status),
        h('div.editor', gutter, area),
        h('p.small.muted', 'Tab indents; Ctrl/⌘-S saves. Saving uploads the files as a new package (UpdateFunctionCode) and waits until it is current.'),
        out)));
  open(current);
  const guard = (e) => { if (dirty) { e.preventDefault(); e.returnValue = ''; } };
  window.addEventListener('beforeunload', guard);
  return () => window.removeEventListener('beforeunload', guard);
}

/** waitUpdated waits until an update of function name is no longer in progress. */
async function waitUpdated(name, cfg) {
  for (let i = 0; i < 120 && cfg.LastUpdateStatus === 'InProgress'; i++) {
    await sleep(500);
    cfg = await lambda('GET', fnPath(name, '/configuration'));
  }
  if (cfg.LastUpdateStatus === 'Failed') throw new Error('the update failed: ' + (cfg.LastUpdateStatusReason || 'no reason given'));
  return cfg;
}

// ---- test ----

const storeKey = (name) => 'aloft.console.events.' + name;
function savedEvents(name) {
  try { return JSON.parse(localStorage.getItem(storeKey(name)) || '{}'); } catch { return {}; }
}

/** parseReport reads a REPORT line's figures. */
export function parseReport(line) {
  const f = (label) => { const m = new RegExp(label + ': ([\\d.]+)').exec(line); return m ? Number(m[1]) : undefined; };
  const id = /RequestId: (\S+)/.exec(line);
  return { requestId: id && id[1], duration: f('\tDuration'), billed: f('Billed Duration'), memory: f('Memory Size'), used: f('Max Memory Used'), init: f('Init Duration') };
}

async function testTab(body, fn, name) {
  const saved = savedEvents(name);
  const eventName = h('input#event-name', { placeholder: 'my-event', spellcheck: 'false' });
  const editor = h('textarea#event-json.code.event', { spellcheck: 'false', wrap: 'off' });
  const pick = h('select#saved-events');
  const tpl = h('select#event-template', h('option', { value: '' }, 'Start from a template…'), Object.keys(sampleEvents).map((k) => h('option', { value: k }, k)));
  const out = h('div.out#test-out');
  const result = h('div#test-result');
  function refill(selected) {
    const names = Object.keys(saved).sort();
    pick.replaceChildren(h('option', { value: '' }, names.length ? 'Saved events (' + names.length + ')' : 'No saved events'), ...names.map((n) => h('option', { value: n, selected: n === selected }, n)));
  }
  pick.addEventListener('change', () => {
    if (!pick.value) return;
    eventName.value = pick.value;
    editor.value = saved[pick.value];
  });
  tpl.addEventListener('change', () => {
    if (!tpl.value) return;
    editor.value = JSON.stringify(sampleEvents[tpl.value](), null, 2);
    if (!eventName.value) eventName.value = tpl.value.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    tpl.value = '';
  });
  const parse = () => {
    try { return JSON.parse(editor.value || '{}'); } catch (err) { throw Object.assign(new Error('The event is not valid JSON: ' + err.message), { code: 'InvalidJSON' }); }
  };
  const saveBtn = button('Save event', async () => {
    parse();
    const n = eventName.value.trim();
    if (!/^[\w.-]{1,25}$/.test(n)) throw Object.assign(new Error('An event name is 1 to 25 letters, digits, dots, hyphens or underscores.'), { code: 'InvalidName' });
    saved[n] = editor.value;
    localStorage.setItem(storeKey(name), JSON.stringify(saved));
    refill(n);
    out.replaceChildren(h('p.ok#event-saved', 'Saved event ' + n + ' (in this browser).'));
  }, { out, id: 'save-event' });
  const delBtn = button('Delete', async () => {
    const n = eventName.value.trim();
    if (!(n in saved)) return;
    delete saved[n];
    localStorage.setItem(storeKey(name), JSON.stringify(saved));
    refill();
    eventName.value = '';
  }, { out, danger: true });
  const test = button('Test', async () => {
    const payload = JSON.stringify(parse());
    result.replaceChildren(h('p.muted', 'Invoking…'));
    const t0 = performance.now();
    const res = await call('lambda', 'POST', fnPath(name, '/invocations'), {
      headers: { 'X-Amz-Invocation-Type': 'RequestResponse', 'X-Amz-Log-Type': 'Tail', 'Content-Type': 'application/json' }, body: payload,
    });
    const took = performance.now() - t0;
    const text = await res.text();
    const fnErr = res.headers.get('X-Amz-Function-Error');
    const logB64 = res.headers.get('X-Amz-Log-Result') || '';
    let log = '';
    try { log = new TextDecoder().decode(Uint8Array.from(atob(logB64), (c) => c.charCodeAt(0))); } catch { log = ''; }
    const reportLine = log.split('\n').find((l) => l.startsWith('REPORT ')) || '';
    const r = parseReport(reportLine);
    let pretty = text;
    try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON: show as is */ }
    result.replaceChildren(
      h('div.result-head' + (fnErr ? '.failed' : '.succeeded'), h('strong#test-status', fnErr ? 'Failed: ' + fnErr : 'Succeeded'), h('span.small.muted', ' round trip ' + took.toFixed(0) + ' ms')),
      reportLine ? h('dl.report#test-report',
        h('dt', 'Duration'), h('dd', num(r.duration, 2) + ' ms'), h('dt', 'Billed'), h('dd', num(r.billed) + ' ms'),
        h('dt', 'Memory'), h('dd', num(r.used) + ' / ' + num(r.memory) + ' MB'),
        h('dt', 'Init'), h('dd', r.init !== undefined ? num(r.init, 2) + ' ms (cold start)' : 'none (warm)'),
        h('dt', 'Request'), h('dd', r.requestId || '')) : null,
      h('h3', 'Result'), pre(pretty, '#test-payload'),
      h('h3', 'Log (last 4 KB)'), pre(log, '#test-log.log'),
      reportLine ? h('p.small.mono#test-report-line', reportLine) : null);
  }, { primary: true, out, id: 'run-test' });
  refill();
  const names = Object.keys(saved).sort();
  if (names.length) { eventName.value = names[0]; editor.value = saved[names[0]]; pick.value = names[0]; } else editor.value = '{\n  "key": "value"\n}';
  fill(body, h('div.two',
    section('Test event', h('div.row', pick, tpl), field('Event name', eventName), editor, h('div.actions', test, saveBtn, delBtn),
      h('p.small.muted', 'Saved events are kept in this browser only (its local storage), per function.'), out),
    section('Execution result', result)));
}

// ---- monitor ----

const windows = { '1h': [3600e3, 60], '3h': [3 * 3600e3, 60], '12h': [12 * 3600e3, 300], '1d': [86400e3, 300], '1w': [7 * 86400e3, 3600] };

async function monitorTab(body, fn, name) {
  let win = sessionStorage.getItem('aloft.console.window') || '1h';
  if (!windows[win]) win = '1h';
  const charts = h('div.charts#charts');
  const recent = h('div#recent');
  const traces = h('section.panel#traces', { hidden: true });
  const sel = h('div.segmented', Object.keys(windows).map((w) => h('button' + (w === win ? '.active' : ''), { type: 'button', dataset: { win: w } }, w)));
  let timer = 0;
  let alive = true;
  sel.addEventListener('click', (e) => {
    const w = e.target.dataset && e.target.dataset.win;
    if (!w) return;
    win = w;
    sessionStorage.setItem('aloft.console.window', w);
    for (const b of sel.children) b.classList.toggle('active', b.dataset.win === w);
    draw();
  });
  async function draw() {
    clearTimeout(timer);
    const [span, period] = windows[win];
    const end = Date.now();
    const start = end - span;
    const defs = [
      { id: 'inv', name: 'Invocations', stat: 'Sum', unit: 'count' },
      { id: 'err', name: 'Errors', stat: 'Sum', unit: 'count' },
      { id: 'dur', name: 'Duration', stat: 'Average', unit: 'ms' },
      { id: 'thr', name: 'Throttles', stat: 'Sum', unit: 'count' },
      { id: 'con', name: 'ConcurrentExecutions', stat: 'Maximum', unit: 'count' },
    ];
    try {
      const data = await metricData(defs.map((d) => ({ ...d, fn: name })), start, end, period);
      if (!alive) return;
      charts.replaceChildren(...defs.map((d) => {
        const pts = d.stat === 'Sum' ? zeroFill(data[d.id] || [], start, end, period) : data[d.id] || [];
        const c = lineChart({ title: d.name + (d.stat === 'Average' ? ' (average)' : ''), unit: d.unit, points: pts, start, end });
        c.id = 'chart-' + d.id;
        return h('div.chart-box', c);
      }));
    } catch (err) {
      charts.replaceChildren(h('div.wide', h('p', 'Metrics unavailable (CloudWatch GetMetricData):'), errorBox(err)));
    }
    timer = setTimeout(draw, 30000);
  }
  async function invocations() {
    // The REPORT lines of the last hour, oldest first: the last pages hold the newest.
    let reports = [];
    let token;
    try {
      for (let page = 0; page < 20; page++) {
        const ev = await logs('FilterLogEvents', { logGroupName: '/aws/lambda/' + name, startTime: Date.now() - 3600e3, filterPattern: '"REPORT RequestId"', nextToken: token, limit: 1000 });
        reports = reports.concat((ev.events || []).filter((e) => e.message.startsWith('REPORT '))).slice(-25);
        token = ev.nextToken;
        if (!token) break;
      }
    } catch (err) {
      if (alive) recent.replaceChildren(err.code === 'ResourceNotFoundException' ? h('p.empty', 'No invocations logged yet.') : errorBox(err));
      return;
    }
    if (!alive) return;
    reports.reverse();
    recent.replaceChildren(table(['Time', 'Request', 'Duration', 'Billed', 'Memory used', 'Start'], reports.map((e) => {
      const r = parseReport(e.message);
      return [when(e.timestamp), h('span.mono', r.requestId || ''), num(r.duration, 2) + ' ms', num(r.billed) + ' ms', num(r.used) + ' MB',
        r.init !== undefined ? h('span.tag.cold', 'cold · init ' + num(r.init, 0) + ' ms') : h('span.tag.ok', 'warm')];
    }), 'No invocations in the last hour.'));
  }
  async function traceList() {
    try {
      const end = Math.floor(Date.now() / 1000);
      const res = await call('xray', 'POST', '/TraceSummaries', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ StartTime: end - 3600, EndTime: end }) });
      const j = await res.json();
      const mine = (j.TraceSummaries || []).filter((t) => JSON.stringify(t).includes(name)).slice(0, 20);
      if (!alive) return;
      traces.hidden = false;
      fill(traces, h('h2', 'Traces (last hour)'), table(['Trace', 'Duration', 'Response', 'Status'], mine.map((t) => [h('span.mono', t.Id),
        num((t.Duration || 0) * 1000, 1) + ' ms', num((t.ResponseTime || 0) * 1000, 1) + ' ms', t.HasFault ? 'fault' : t.HasError ? 'error' : 'ok']), 'No traces in the last hour.'));
    } catch { traces.hidden = true; /* no X-Ray API on this server */ }
  }
  fill(body, h('div.page-head', h('h2', 'Metrics'), sel), charts, section('Recent invocations (from the REPORT lines, last hour)', recent), traces);
  draw();
  invocations();
  traceList();
  return () => { alive = false; clearTimeout(timer); };
}

/** zeroFill gives a count series a zero for every period without data, as a count of nothing is. */
function zeroFill(points, start, end, period) {
  const step = period * 1000;
  const have = new Map(points.map((p) => [Math.floor(p.t / step), p]));
  const out = [];
  for (let k = Math.ceil(start / step); k * step <= end; k++) out.push(have.get(k) || { t: k * step, v: 0 });
  return out;
}

// ---- logs ----

async function logsTab(body, fn, name) {
  const out = h('pre.log.tail#log-tail');
  const state = h('span.small.muted#tail-state', 'Tailing…');
  let alive = true;
  let paused = false;
  let timer = 0;
  let since = Date.now() - 15 * 60e3;
  const seen = new Set();
  const pause = h('button', { type: 'button', on: { click: () => { paused = !paused; pause.textContent = paused ? 'Resume' : 'Pause'; state.textContent = paused ? 'Paused' : 'Tailing…'; } } }, 'Pause');
  const clear = h('button', { type: 'button', on: { click: () => out.replaceChildren() } }, 'Clear');
  async function poll() {
    if (!alive) return;
    if (!paused) {
      try {
        let token;
        let newest = since;
        do {
          const res = await logs('FilterLogEvents', { logGroupName: '/aws/lambda/' + name, startTime: since, nextToken: token, limit: 1000 });
          for (const e of res.events || []) {
            if (seen.has(e.eventId)) continue;
            seen.add(e.eventId);
            newest = Math.max(newest, e.timestamp);
            const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
            out.append(h('span.ts', new Date(e.timestamp).toLocaleTimeString() + ' '), h('span' + (e.message.startsWith('REPORT ') ? '.report' : ''), e.message.replace(/\n$/, '') + '\n'));
            if (stick) out.scrollTop = out.scrollHeight;
          }
          token = res.nextToken;
        } while (token && alive);
        since = newest; // the same millisecond again, deduplicated by event id
        if (seen.size > 20000) seen.clear();
        state.textContent = 'Tailing… (' + new Date().toLocaleTimeString() + ')';
      } catch (err) {
        state.textContent = err.code === 'ResourceNotFoundException' ? 'No log group yet: waiting for the first invocation…' : err.code + ': ' + err.message;
      }
    }
    if (alive) timer = setTimeout(poll, 1000);
  }
  fill(body, section('Live log tail', h('div.row', state, pause, clear), out, h('p.small.muted', 'Polls FilterLogEvents on /aws/lambda/' + name + ' every second, from 15 minutes ago.')));
  poll();
  return () => { alive = false; clearTimeout(timer); };
}

// ---- configuration ----

async function configTab(body, fn, name) {
  const cfg = fn.Configuration;
  const out = h('div.out#config-out');
  const general = table(['Setting', 'Value'], [
    ['Runtime', cfg.Runtime || cfg.PackageType], ['Handler', cfg.Handler || ''], ['Memory', cfg.MemorySize + ' MB'], ['Timeout', cfg.Timeout + ' s'],
    ['Role', h('span.mono', cfg.Role || '')], ['Architecture', (cfg.Architectures || []).join(', ')], ['Code size', bytes(cfg.CodeSize || 0)],
    ['Code SHA-256', h('span.mono', cfg.CodeSha256 || '')], ['Last modified', when(cfg.LastModified)], ['ARN', h('span.mono', cfg.FunctionArn)],
    ['Description', cfg.Description || ''],
  ]);
  const mem = h('input#cfg-memory', { type: 'number', value: String(cfg.MemorySize), min: '128', max: '10240' });
  const to = h('input#cfg-timeout', { type: 'number', value: String(cfg.Timeout), min: '1', max: '900' });
  const saveGeneral = button('Save', async () => {
    const upd = await lambda('PUT', fnPath(name, '/configuration'), { MemorySize: Number(mem.value), Timeout: Number(to.value) });
    await waitUpdated(name, upd);
    out.replaceChildren(h('p.ok', 'Saved memory and timeout.'));
  }, { out });
  // Environment: editable rows.
  const rows = h('tbody#env-rows');
  const addRow = (k = '', v = '') => rows.append(h('tr', h('td', h('input.env-key', { value: k, spellcheck: 'false' })), h('td', h('input.env-value', { value: v, spellcheck: 'false' })),
    h('td', h('button.link', { type: 'button', on: { click: (e) => e.target.closest('tr').remove() } }, 'Remove'))));
  for (const [k, v] of Object.entries((cfg.Environment && cfg.Environment.Variables) || {})) addRow(k, v);
  const saveEnv = button('Save environment', async () => {
    const vars = {};
    for (const tr of rows.children) {
      const k = tr.querySelector('.env-key').value.trim();
      if (k) vars[k] = tr.querySelector('.env-value').value;
    }
    const upd = await lambda('PUT', fnPath(name, '/configuration'), { Environment: { Variables: vars } });
    await waitUpdated(name, upd);
    const n = Object.keys(vars).length;
    out.replaceChildren(h('p.ok#env-saved', 'Saved ' + n + ' environment variable' + (n === 1 ? '' : 's') + '.'));
  }, { primary: true, out, id: 'save-env' });
  const concurrency = h('div#concurrency', h('p.muted', '…'));
  const keep = h('div#keepalive', h('p.muted', '…'));
  const triggers = h('div#triggers', h('p.muted', '…'));
  fill(body,
    h('div.two',
      section('General', general, h('div.row', field('Memory (MB)', mem), field('Timeout (s)', to), saveGeneral)),
      h('div',
        section('Environment variables', h('table.env', h('thead', h('tr', h('th', 'Key'), h('th', 'Value'), h('th', ''))), rows),
          h('div.actions', h('button', { type: 'button', on: { click: () => addRow() } }, 'Add variable'), saveEnv)),
        section('Concurrency', concurrency), section('Keep-alive', keep))),
    section('Triggers', triggers), out);
  lambda('GET', '/2019-09-30/functions/' + enc(name) + '/concurrency').then((c) => {
    const input = h('input#cfg-reserved', { type: 'number', min: '0', value: c.ReservedConcurrentExecutions ?? '' , placeholder: 'unreserved' });
    fill(concurrency, h('p', c.ReservedConcurrentExecutions === undefined ? 'Unreserved: the function shares the server\u2019s concurrency.' : 'Reserved: ' + c.ReservedConcurrentExecutions),
      h('div.row', field('Reserved concurrency', input), button('Save', async () => {
        if (input.value === '') await call('lambda', 'DELETE', '/2017-10-31/functions/' + enc(name) + '/concurrency');
        else await lambda('PUT', '/2017-10-31/functions/' + enc(name) + '/concurrency', { ReservedConcurrentExecutions: Number(input.value) });
        out.replaceChildren(h('p.ok', 'Saved concurrency.'));
      }, { out })));
  }).catch((err) => fill(concurrency, errorBox(err)));
  lambda('GET', '/aloft/v1/functions/' + enc(name) + '/keepalive').then((k) => {
    const show = (b) => (typeof b === 'number' ? num(b, 2) : typeof b === 'object' ? JSON.stringify(b) : String(b));
    fill(keep, table(['', ''], Object.entries(k).map(([a, b]) => [a, show(b)]), 'No keep-alive state.'));
  }).catch((err) => fill(keep, errorBox(err)));
  showTriggers(triggers, name).catch((err) => fill(triggers, errorBox(err)));
}

async function showTriggers(el, name) {
  const rows = [];
  const maps = await lambda('GET', '/2015-03-31/event-source-mappings/?FunctionName=' + enc(name)).catch(() => ({}));
  for (const m of maps.EventSourceMappings || []) rows.push(['Event source mapping', h('span.mono', m.EventSourceArn), m.State + ' · batch ' + m.BatchSize]);
  const pol = await lambda('GET', fnPath(name, '/policy')).catch(() => null);
  if (pol && pol.Policy) {
    for (const st of JSON.parse(pol.Policy).Statement || []) {
      const who = st.Principal && (st.Principal.Service || st.Principal.AWS || st.Principal);
      const src = st.Condition && st.Condition.ArnLike ? st.Condition.ArnLike['AWS:SourceArn'] : '';
      rows.push(['Permission ' + st.Sid, String(who), h('span.mono', src || '')]);
    }
  }
  try {
    const apis = await restJSON('apigateway', 'GET', '/v2/apis');
    for (const api of apis.items || []) {
      const ints = await restJSON('apigateway', 'GET', '/v2/apis/' + enc(api.apiId) + '/integrations');
      const mine = (ints.items || []).filter((i) => (i.integrationUri || '').endsWith(':function:' + name));
      if (!mine.length) continue;
      const routes = await restJSON('apigateway', 'GET', '/v2/apis/' + enc(api.apiId) + '/routes');
      for (const r of routes.items || []) {
        if (mine.some((i) => r.target === 'integrations/' + i.integrationId)) rows.push(['HTTP API ' + api.name, r.routeKey, h('span.mono', api.apiEndpoint || '')]);
      }
    }
  } catch { /* no access to the gateway: leave it out */ }
  fill(el, table(['Trigger', 'Source', 'Detail'], rows, 'No triggers: the function runs when invoked.'));
}

export { target };
