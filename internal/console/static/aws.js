// aws.js: every AWS request the console makes goes through the server's
// one proxy endpoint (api/call), which signs it with the session's
// credentials. Nothing here holds a secret.

let csrf = '';
let onSignedOut = () => {};

/** setSession keeps the CSRF token and what to do when the session ends. */
export function setSession(token, signedOut) {
  csrf = token;
  if (signedOut) onSignedOut = signedOut;
}

/** AwsError is a refusal: the service's error code and message. */
export class AwsError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
}

/** enc escapes a URI component the way SigV4 wants it. */
export function enc(s) {
  return encodeURIComponent(String(s)).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** query builds a query string from an object, skipping empty values. */
export function query(obj) {
  return Object.entries(obj || {})
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => (v === true ? enc(k) : enc(k) + '=' + enc(v)))
    .join('&');
}

/** call sends one AWS request and returns the Response; it throws an AwsError on refusal. */
export async function call(service, method, path, opts = {}) {
  const spec = { service, method, path, query: typeof opts.query === 'string' ? opts.query : query(opts.query), headers: opts.headers || {} };
  const res = await fetch('api/call', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-Console-Call': encodeURIComponent(JSON.stringify(spec)), 'X-Console-Csrf': csrf, 'Content-Type': 'application/octet-stream' },
    body: opts.body === undefined || opts.body === null ? undefined : opts.body,
  });
  if (res.headers.get('X-Console-Error')) {
    const j = await res.json().catch(() => ({}));
    if (res.status === 401) onSignedOut();
    throw new AwsError(j.Code || 'ConsoleError', j.Message || res.statusText, res.status);
  }
  if (!res.ok && !opts.allowError) throw await errorOf(res);
  return res;
}

/** errorOf reads an AWS error answer: JSON (__type, message) or XML (Code, Message). */
export async function errorOf(res) {
  const text = await res.text();
  let code = res.headers.get('X-Amzn-ErrorType') || '';
  let message = '';
  try {
    const j = JSON.parse(text);
    code = code || j.__type || j.code || j.Code || '';
    message = j.message || j.Message || j.errorMessage || '';
  } catch {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const c = doc.querySelector('Code');
    const m = doc.querySelector('Message');
    if (c) code = code || c.textContent;
    if (m) message = m.textContent;
    if (!c && !m) message = text.slice(0, 300);
  }
  code = code.split(':')[0];
  code = code.slice(code.lastIndexOf('#') + 1) || 'HTTP' + res.status;
  return new AwsError(code, message, res.status);
}

/** lambda sends a Lambda REST-JSON request and returns the decoded answer. */
export async function lambda(method, path, body, headers) {
  const res = await call('lambda', method, path.split('?')[0], {
    query: path.includes('?') ? path.slice(path.indexOf('?') + 1) : '',
    headers: { 'Content-Type': 'application/json', ...(headers || {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const t = await res.text();
  return t ? JSON.parse(t) : {};
}

/** restJSON sends a REST-JSON request (Scheduler, API Gateway v2). */
export async function restJSON(service, method, path, body, q) {
  const res = await call(service, method, path, { query: q, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const t = await res.text();
  return t ? JSON.parse(t) : {};
}

/** target sends a JSON-protocol request (X-Amz-Target) and returns the decoded answer. */
export async function target(service, tgt, body, version = '1.1') {
  const res = await call(service, 'POST', '/', {
    headers: { 'X-Amz-Target': tgt, 'Content-Type': 'application/x-amz-json-' + version },
    body: JSON.stringify(body || {}),
  });
  const t = await res.text();
  return t ? JSON.parse(t) : {};
}

export const logs = (op, body) => target('logs', 'Logs_20140328.' + op, body, '1.1');
export const sqs = (op, body) => target('sqs', 'AmazonSQS.' + op, body, '1.0');
export const dynamo = (op, body) => target('dynamodb', 'DynamoDB_20120810.' + op, body, '1.0');
export const metrics = (op, body) => target('monitoring', 'GraniteServiceVersion20100801.' + op, body, '1.0');

/** s3 sends an S3 REST-XML request and returns the Response. */
export function s3(method, bucket, key, opts = {}) {
  let path = '/' + enc(bucket);
  if (key !== undefined && key !== null) path += '/' + key.split('/').map(enc).join('/');
  return call('s3', method, path, opts);
}

/** xml parses an XML answer. */
export async function xml(res) {
  return new DOMParser().parseFromString(await res.text(), 'application/xml');
}

/** sleep waits ms milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** fnPath is a function's Lambda path. */
export const fnPath = (name, rest = '') => '/2015-03-31/functions/' + enc(name) + rest;

/** region and account the session signs for (set at sign-in). */
export const env = { region: 'us-east-1', account: '000000000000' };
