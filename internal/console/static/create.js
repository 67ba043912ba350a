// create.js: creating a function from a template, with its trigger.

import { lambda, call, restJSON, sqs, s3, enc, fnPath, env, sleep, query, xml, AwsError } from './aws.js';
import { h, fill, link, errorBox, section, field, button } from './ui.js';
import { templates, codeFor } from './templates.js';
import { zip, base64 } from './zip.js';

/** createPage offers the templates and creates a function with its trigger. */
export async function createPage(main) {
  let rts = [];
  try {
    const r = await lambda('GET', '/aloft/v1/runtimes');
    rts = (r.Runtimes || []).map((x) => x.Runtime).filter((x) => /^(python|nodejs)/.test(x));
  } catch { /* fall back to the usual ones */ }
  if (!rts.length) rts = ['python3.12', 'nodejs20.x'];
  // Newest first, Python before Node.js: python3.13, python3.12, ..., nodejs22.x, nodejs20.x.
  const ver = (r) => r.replace(/^\D+/, '').split(/\D+/).filter(Boolean).map(Number);
  rts.sort((a, b) => {
    const fa = a.startsWith('python') ? 0 : 1;
    const fb = b.startsWith('python') ? 0 : 1;
    if (fa !== fb) return fa - fb;
    const [x, y] = [ver(a), ver(b)];
    return (y[0] - x[0]) || ((y[1] || 0) - (x[1] || 0));
  });
  const name = h('input#fn-name', { required: true, pattern: '[A-Za-z0-9_-]{1,64}', placeholder: 'my-function', spellcheck: 'false' });
  const runtime = h('select#fn-runtime', rts.map((r) => h('option', { value: r }, r)));
  const memory = h('input#fn-memory', { type: 'number', value: '128', min: '128', max: '10240', step: '64' });
  const timeout = h('input#fn-timeout', { type: 'number', value: '3', min: '1', max: '900' });
  let chosen = templates[0];
  const cards = templates.map((t) => {
    const c = h('label.card', h('input', { type: 'radio', name: 'tpl', value: t.id, checked: t === chosen, id: 'tpl-' + t.id,
      on: { change: () => { chosen = t; extra(); } } }),
    h('strong', t.title), h('span.small.muted', t.blurb));
    return c;
  });
  const extras = h('div.extras');
  const triggerName = h('input#trigger-name', { spellcheck: 'false' });
  function extra() {
    extras.replaceChildren();
    const labels = { http: 'API name', s3: 'Bucket name (created if missing)', sqs: 'Queue name (created if missing)', schedule: 'Schedule name' };
    if (chosen.trigger) extras.append(field(labels[chosen.trigger], triggerName));
  }
  extra();
  const out = h('div.out#create-out');
  const create = button('Create function', async () => {
    out.replaceChildren(h('p.muted', 'Creating…'));
    const fn = name.value.trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(fn)) throw new AwsError('InvalidParameterValueException', 'A function name is 1 to 64 letters, digits, hyphens or underscores.');
    const code = codeFor(chosen, runtime.value);
    const zipped = zip([{ name: code.file, data: code.source }]);
    let role = 'arn:aws:iam::' + env.account + ':role/aloft';
    if (chosen.trigger === 'sqs') role = await queueReaderRole(fn, triggerName.value.trim() || fn);
    const cfg = await lambda('POST', '/2015-03-31/functions', {
      FunctionName: fn, Runtime: runtime.value, Handler: code.handler, Role: role,
      MemorySize: Number(memory.value), Timeout: Number(timeout.value), Code: { ZipFile: base64(zipped) },
      Description: chosen.id === 'blank' ? '' : 'Created from the ' + chosen.title + ' template',
    });
    const steps = [h('li', 'Function ' + cfg.FunctionName + ' created.')];
    out.replaceChildren(h('ul#create-steps', steps));
    if (chosen.trigger) {
      const tname = triggerName.value.trim() || fn;
      try {
        const what = await addTrigger(chosen.trigger, cfg, tname);
        out.querySelector('ul').append(h('li', what));
      } catch (err) {
        out.append(h('p', 'The function was created, but its trigger was not:'), errorBox(err));
        out.append(h('p', link('Open ' + fn, '/functions/' + encodeURIComponent(fn))));
        return;
      }
    }
    location.hash = '#/functions/' + encodeURIComponent(fn);
  }, { primary: true, out, id: 'create-submit' });
  fill(main,
    h('div.page-head', h('h1', 'Create function'), link('← Functions', '/functions')),
    section('Template', h('div.cards', cards)),
    section('Settings', h('div.form-grid', field('Name', name), field('Runtime', runtime), field('Memory (MB)', memory), field('Timeout (s)', timeout)), extras),
    h('div.actions', create), out);
  name.focus();
}

/** addTrigger creates what invokes a new function, with the APIs the CLI uses, and says what it made. */
async function addTrigger(kind, cfg, tname) {
  const arn = cfg.FunctionArn;
  const fn = cfg.FunctionName;
  switch (kind) {
    case 'http': {
      // API Gateway v2 speaks lower camel case on the wire.
      const api = await restJSON('apigateway', 'POST', '/v2/apis', { name: tname, protocolType: 'HTTP' });
      await restJSON('apigateway', 'POST', '/v2/apis/' + enc(api.apiId) + '/stages', { stageName: '$default', autoDeploy: true });
      const integ = await restJSON('apigateway', 'POST', '/v2/apis/' + enc(api.apiId) + '/integrations',
        { integrationType: 'AWS_PROXY', integrationUri: arn, payloadFormatVersion: '2.0' });
      await restJSON('apigateway', 'POST', '/v2/apis/' + enc(api.apiId) + '/routes', { routeKey: 'ANY /' + fn, target: 'integrations/' + integ.integrationId });
      return 'HTTP API ' + api.name + ' (' + api.apiId + '): ANY /' + fn + (api.apiEndpoint ? ' at ' + api.apiEndpoint + '/' + fn : '') + '.';
    }
    case 's3': {
      const head = await s3('HEAD', tname, null, { allowError: true });
      if (head.status === 404) await s3('PUT', tname);
      else if (!head.ok) throw new AwsError('HTTP' + head.status, 'The bucket ' + tname + ' cannot be used (HEAD answered ' + head.status + ').', head.status);
      await lambda('POST', fnPath(fn, '/policy'), {
        StatementId: 's3-' + tname, Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', SourceArn: 'arn:aws:s3:::' + tname,
      });
      const doc = '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CloudFunctionConfiguration>' +
        '<Id>' + fn + '</Id><CloudFunction>' + arn + '</CloudFunction><Event>s3:ObjectCreated:*</Event>' +
        '</CloudFunctionConfiguration></NotificationConfiguration>';
      await s3('PUT', tname, null, { query: { notification: true }, headers: { 'Content-Type': 'application/xml' }, body: doc });
      return 'Bucket ' + tname + ': new objects invoke the function.';
    }
    case 'sqs': {
      const queueArn = await queueArnOf(tname);
      // The role's new policy reaches every check within a moment.
      let m;
      for (let i = 0; ; i++) {
        try {
          m = await lambda('POST', '/2015-03-31/event-source-mappings/', { EventSourceArn: queueArn, FunctionName: fn, BatchSize: 10 });
          break;
        } catch (err) {
          if (i >= 10 || !/permission/i.test(err.message)) throw err;
          await sleep(300);
        }
      }
      return 'Queue ' + tname + ': its messages invoke the function (mapping ' + m.UUID + ').';
    }
    case 'schedule': {
      await restJSON('scheduler', 'POST', '/schedules/' + enc(tname), {
        ScheduleExpression: 'rate(5 minutes)', FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: arn, RoleArn: 'arn:aws:iam::' + env.account + ':role/aloft' },
      });
      return 'Schedule ' + tname + ': every 5 minutes.';
    }
  }
  return '';
}

/** queueArnOf creates queue name unless it exists and returns its ARN. */
async function queueArnOf(name) {
  const q = await sqs('CreateQueue', { QueueName: name });
  const attrs = await sqs('GetQueueAttributes', { QueueUrl: q.QueueUrl, AttributeNames: ['QueueArn'] });
  return attrs.Attributes.QueueArn;
}

/** iamCall sends an IAM query-protocol action and returns the XML answer. */
async function iamCall(params) {
  const res = await call('iam', 'POST', '/', {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: query({ ...params, Version: '2010-05-08' }),
  });
  return xml(res);
}

/**
 * queueReaderRole makes the execution role a queue's function needs, as
 * Lambda's console does: <function>-role, trusted by Lambda, allowed to
 * read and delete the queue's messages and to write its logs.
 */
async function queueReaderRole(fn, queue) {
  const queueArn = await queueArnOf(queue);
  const name = (fn + '-role').slice(0, 64);
  try {
    await iamCall({
      Action: 'CreateRole', RoleName: name, Description: 'Execution role of ' + fn + ', reading queue ' + queue,
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    });
  } catch (err) {
    if (err.code !== 'EntityAlreadyExists') throw err;
  }
  await iamCall({
    Action: 'PutRolePolicy', RoleName: name, PolicyName: 'queue-' + queue,
    PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [
      { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'], Resource: queueArn },
      { Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' },
    ] }),
  });
  return 'arn:aws:iam::' + env.account + ':role/' + name;
}

