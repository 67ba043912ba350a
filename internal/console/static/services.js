// services.js: buckets, HTTP APIs, schedules, the async queue, usage,
// SQS queues and DynamoDB tables.

import { s3, xml, restJSON, sqs, dynamo, lambda, enc, call } from './aws.js';
import { h, fill, table, link, when, num, errorBox, section, field, button, bytes, pre } from './ui.js';

const text = (el, tag) => { const x = el.getElementsByTagName(tag)[0]; return x ? x.textContent : ''; };

// ---- buckets ----

/** bucketsPage lists buckets, or browses one by prefix with upload, download and delete. */
export async function bucketsPage(main, bucket, prefix = '') {
  if (!bucket) {
    const doc = await xml(await s3('GET', '', null).catch((err) => { throw err; }));
    const bs = [...doc.getElementsByTagName('Bucket')].map((b) => ({ name: text(b, 'Name'), created: text(b, 'CreationDate') }));
    const name = h('input#new-bucket', { placeholder: 'new-bucket-name', spellcheck: 'false' });
    const out = h('div.out');
    fill(main, h('div.page-head', h('h1', 'Buckets')),
      h('div#bucket-list', table(['Name', 'Created'], bs.map((b) => [link(b.name, '/buckets/' + encodeURIComponent(b.name)), when(b.created)]), 'No buckets yet.')),
      section('Create a bucket', h('div.row', field('Name', name), button('Create bucket', async () => {
        await s3('PUT', name.value.trim(), null);
        location.hash = '#/buckets/' + encodeURIComponent(name.value.trim());
      }, { out, primary: true, id: 'create-bucket' })), out));
    return;
  }
  const base = '/buckets/' + encodeURIComponent(bucket);
  const doc = await xml(await s3('GET', bucket, null, { query: { 'list-type': '2', prefix, delimiter: '/', 'max-keys': '1000' } }));
  const dirs = [...doc.getElementsByTagName('CommonPrefixes')].map((p) => text(p, 'Prefix'));
  const objs = [...doc.getElementsByTagName('Contents')].map((c) => ({ key: text(c, 'Key'), size: Number(text(c, 'Size')), modified: text(c, 'LastModified') }));
  const out = h('div.out#bucket-out');
  const crumbs = [link(bucket, base + '/')];
  let acc = '';
  for (const part of prefix.split('/').filter(Boolean)) {
    acc += part + '/';
    crumbs.push(' / ', link(part, base + '/' + acc.split('/').map(encodeURIComponent).join('/')));
  }
  const download = async (key) => {
    const res = await s3('GET', bucket, key);
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: key.split('/').pop() });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  };
  const rows = [
    ...dirs.map((d) => [link('📁 ' + d.slice(prefix.length), base + '/' + d.split('/').map(encodeURIComponent).join('/')), '', '', '']),
    ...objs.map((o) => [h('span.mono.object-key', o.key.slice(prefix.length)), bytes(o.size), when(o.modified),
      h('span.row', button('Download', () => download(o.key), { out }),
        button('Delete', async () => {
          if (!confirm('Delete ' + o.key + '?')) return;
          await s3('DELETE', bucket, o.key);
          bucketsPage(main, bucket, prefix);
        }, { out, danger: true }))]),
  ];
  const file = h('input#upload-file', { type: 'file', multiple: true });
  const upload = button('Upload', async () => {
    if (!file.files.length) throw Object.assign(new Error('Choose a file first.'), { code: 'NoFile' });
    for (const f of file.files) {
      out.replaceChildren(h('p.muted', 'Uploading ' + f.name + '…'));
      await s3('PUT', bucket, prefix + f.name, { headers: { 'Content-Type': f.type || 'application/octet-stream' }, body: f });
    }
    await bucketsPage(main, bucket, prefix);
  }, { primary: true, out, id: 'upload' });
  fill(main, h('div.page-head', h('div', h('div.crumbs', link('Buckets', '/buckets'), ' / '), h('h1', bucket))),
    h('p.crumbs', crumbs),
    section('Upload to ' + (prefix || '/'), h('div.row', file, upload), out),
    h('div#object-list', table(['Name', 'Size', 'Last modified', ''], rows, 'No objects under this prefix.')));
}

// ---- HTTP APIs ----

export async function routesPage(main) {
  // API Gateway v2 speaks lower camel case on the wire.
  const apis = await restJSON('apigateway', 'GET', '/v2/apis');
  const items = apis.items || [];
  const blocks = [];
  for (const api of items) {
    const [routes, ints] = await Promise.all([
      restJSON('apigateway', 'GET', '/v2/apis/' + enc(api.apiId) + '/routes'),
      restJSON('apigateway', 'GET', '/v2/apis/' + enc(api.apiId) + '/integrations'),
    ]);
    const byId = Object.fromEntries((ints.items || []).map((i) => [i.integrationId, i]));
    blocks.push(section(api.name + ' (' + api.apiId + ')',
      h('p.small.mono', api.apiEndpoint || ''),
      table(['Route', 'Integration', 'Target', 'Payload'], (routes.items || []).map((r) => {
        const i = byId[(r.target || '').replace('integrations/', '')] || {};
        const fname = (i.integrationUri || '').split(':function:')[1];
        return [h('span.mono', r.routeKey), i.integrationType || '', fname ? link(fname, '/functions/' + encodeURIComponent(fname.split(':')[0])) : (i.integrationUri || r.target || ''), i.payloadFormatVersion || ''];
      }), 'No routes.')));
  }
  fill(main, h('div.page-head', h('h1', 'HTTP APIs')), items.length ? blocks : h('p.empty', 'No HTTP APIs. Create one with the HTTP API template, or aloft route add.'));
}

// ---- schedules ----

export async function schedulesPage(main) {
  const list = await restJSON('scheduler', 'GET', '/schedules', undefined, { MaxResults: '100' });
  const rows = [];
  for (const s of list.Schedules || []) {
    let expr = '';
    try {
      const full = await restJSON('scheduler', 'GET', '/schedules/' + enc(s.Name), undefined, { groupName: s.GroupName || 'default' });
      expr = full.ScheduleExpression;
    } catch { /* shown without its expression */ }
    const arn = (s.Target && s.Target.Arn) || '';
    const fname = arn.split(':function:')[1];
    rows.push([s.Name, s.GroupName || 'default', h('span.mono', expr), s.State, fname ? link(fname, '/functions/' + encodeURIComponent(fname)) : h('span.mono', arn), when(s.LastModificationDate)]);
  }
  fill(main, h('div.page-head', h('h1', 'Schedules')), table(['Name', 'Group', 'Expression', 'State', 'Target', 'Modified'], rows, 'No schedules.'));
}

// ---- async queue ----

export async function asyncPage(main) {
  const st = await lambda('GET', '/aloft/v1/queue');
  const fns = st.Functions || [];
  const keys = [...new Set(fns.flatMap((f) => Object.keys(f)))].filter((k) => k !== 'FunctionName' && k !== 'Function');
  fill(main, h('div.page-head', h('h1', 'Async queue and dead letters')),
    h('p.muted', 'Events invoked with InvocationType=Event wait here; those that run out of retries go to the function\u2019s dead-letter target or on-failure destination.'),
    table(['Function', ...keys], fns.map((f) => {
      const n = f.FunctionName || f.Function || '';
      return [link(n, '/functions/' + encodeURIComponent(n)), ...keys.map((k) => (typeof f[k] === 'number' ? num(f[k]) : typeof f[k] === 'object' ? JSON.stringify(f[k]) : String(f[k] ?? '')))];
    }), 'The async queue is empty.'));
}

// ---- usage ----

export async function usagePage(main) {
  const u = await lambda('GET', '/aloft/v1/usage');
  const row = (name, m) => [name, num(m.Requests), num(m.BilledMs), num(m.GBSeconds, 3), usd(m.RequestCost), usd(m.ComputeCost), h('strong', usd(m.Cost))];
  const ft = u.FreeTier || {};
  const tot = u.Total || {};
  fill(main, h('div.page-head', h('h1', 'Usage and cost')),
    h('p.muted', 'What the invocations served would cost on AWS Lambda at its public on-demand rates (USD). Aloft itself is free.'),
    h('div#usage-table', table(['Function', 'Requests', 'Billed ms', 'GB-s', 'Request cost', 'Compute cost', 'Total'],
      [...(u.Functions || []).map((f) => row(link(f.FunctionName, '/functions/' + encodeURIComponent(f.FunctionName)), f)), row(h('strong', 'Total'), tot)])),
    ft.Requests ? section('Free tier', h('div.bars',
      bar('Requests', tot.Requests || 0, ft.Requests), bar('GB-seconds', tot.GBSeconds || 0, ft.GBSeconds))) : null);
}

const usdFormat = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 3 });
const usdSmall = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 10, maximumSignificantDigits: 2 });

/** usd shows an amount in dollars, with its significant digits however small. */
function usd(v) {
  v = Number(v) || 0;
  return v !== 0 && v < 0.01 ? usdSmall.format(v) : usdFormat.format(v);
}

function bar(label, used, of) {
  const pct = Math.min(100, (used / of) * 100);
  const fillEl = h('div.fill');
  fillEl.style.width = pct.toFixed(2) + '%'; // through the CSSOM: the policy allows no inline style attributes
  return h('div.bar', h('span', label + ': ' + num(used, 2) + ' of ' + num(of) + ' (' + pct.toFixed(2) + '%)'), h('div.track', fillEl));
}

// ---- SQS queues ----

export async function queuesPage(main, qname) {
  const list = await sqs('ListQueues', { MaxResults: 1000 });
  const urls = list.QueueUrls || [];
  if (!qname) {
    const rows = await Promise.all(urls.map(async (u) => {
      const a = (await sqs('GetQueueAttributes', { QueueUrl: u, AttributeNames: ['All'] }).catch(() => ({ Attributes: {} }))).Attributes || {};
      const n = u.split('/').pop();
      return [link(n, '/queues/' + encodeURIComponent(n)), num(Number(a.ApproximateNumberOfMessages)), num(Number(a.ApproximateNumberOfMessagesNotVisible)),
        num(Number(a.ApproximateNumberOfMessagesDelayed)), a.FifoQueue === 'true' ? 'FIFO' : 'standard'];
    }));
    fill(main, h('div.page-head', h('h1', 'Queues')), table(['Name', 'Available', 'In flight', 'Delayed', 'Type'], rows, 'No queues.'));
    return;
  }
  const url = urls.find((u) => u.split('/').pop() === qname);
  if (!url) throw Object.assign(new Error('No queue named ' + qname + '.'), { code: 'QueueDoesNotExist' });
  const a = (await sqs('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['All'] })).Attributes || {};
  const out = h('div.out');
  const msgs = h('div#messages');
  const body = h('textarea#send-body.code.small-area', { spellcheck: 'false' });
  const group = h('input', { placeholder: 'message group (FIFO)' });
  fill(main, h('div.page-head', h('div', h('div.crumbs', link('Queues', '/queues'), ' / '), h('h1', qname))),
    h('div.two',
      section('Attributes', table(['Attribute', 'Value'], Object.entries(a).map(([k, v]) => [k, h('span.mono', v)]))),
      h('div',
        section('Send a message', body, a.FifoQueue === 'true' ? group : null, h('div.actions', button('Send', async () => {
          const m = { QueueUrl: url, MessageBody: body.value };
          if (a.FifoQueue === 'true') { m.MessageGroupId = group.value || 'console'; m.MessageDeduplicationId = crypto.randomUUID(); }
          const r = await sqs('SendMessage', m);
          out.replaceChildren(h('p.ok', 'Sent ' + r.MessageId));
        }, { primary: true, out }))),
        section('Receive',
          h('p.small.muted', 'Peek receives with a visibility timeout of 0, so the messages stay available; Receive hides them for 30 s.'),
          h('div.actions',
            button('Peek', () => receive(0), { out, id: 'peek' }), button('Receive', () => receive(30), { out, id: 'receive' }),
            button('Purge', async () => {
              if (!confirm('Delete every message of ' + qname + '?')) return;
              await sqs('PurgeQueue', { QueueUrl: url });
              out.replaceChildren(h('p.ok', 'Purged.'));
            }, { out, danger: true })), msgs), out)));
  async function receive(vis) {
    const r = await sqs('ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: vis, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] });
    fill(msgs, table(['Id', 'Body', 'Receives'], (r.Messages || []).map((m) => [h('span.mono', m.MessageId), pre(m.Body), (m.Attributes || {}).ApproximateReceiveCount || '']), 'No messages.'));
  }
}

// ---- DynamoDB tables ----

export async function tablesPage(main, tname) {
  if (!tname) {
    const names = [];
    let start;
    do {
      const r = await dynamo('ListTables', { ExclusiveStartTableName: start, Limit: 100 });
      names.push(...(r.TableNames || []));
      start = r.LastEvaluatedTableName;
    } while (start);
    fill(main, h('div.page-head', h('h1', 'Tables')), table(['Name'], names.map((n) => [link(n, '/tables/' + encodeURIComponent(n))]), 'No tables.'));
    return;
  }
  const d = (await dynamo('DescribeTable', { TableName: tname })).Table;
  const scan = await dynamo('Scan', { TableName: tname, Limit: 50 });
  const items = scan.Items || [];
  const cols = [...new Set(items.flatMap((i) => Object.keys(i)))].slice(0, 12);
  const keys = (d.KeySchema || []).map((k) => k.AttributeName);
  cols.sort((x, y) => (keys.includes(y) - keys.includes(x)));
  const show = (v) => {
    if (!v) return '';
    const [t, x] = Object.entries(v)[0];
    return t === 'S' || t === 'N' ? x : t === 'BOOL' ? String(x) : t === 'NULL' ? 'null' : JSON.stringify(v);
  };
  fill(main, h('div.page-head', h('div', h('div.crumbs', link('Tables', '/tables'), ' / '), h('h1', tname))),
    section('Description', table(['', ''], [
      ['Status', d.TableStatus], ['Key', (d.KeySchema || []).map((k) => k.AttributeName + ' (' + k.KeyType + ')').join(', ')],
      ['Items', num(d.ItemCount)], ['Size', bytes(d.TableSizeBytes || 0)], ['Billing', (d.BillingModeSummary || {}).BillingMode || 'PROVISIONED'],
      ['Indexes', [...(d.GlobalSecondaryIndexes || []), ...(d.LocalSecondaryIndexes || [])].map((i) => i.IndexName).join(', ') || 'none'],
      ['Stream', d.StreamSpecification && d.StreamSpecification.StreamEnabled ? d.StreamSpecification.StreamViewType : 'off'],
      ['ARN', h('span.mono', d.TableArn)], ['Created', when(d.CreationDateTime)],
    ])),
    section('Items (first page of a scan' + (scan.LastEvaluatedKey ? ', more follow' : '') + ')', table(cols, items.map((i) => cols.map((c) => h('span.mono', show(i[c])))), 'The table is empty.')));
}

export { call };
