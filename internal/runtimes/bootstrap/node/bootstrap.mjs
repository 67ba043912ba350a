// Aloft's Node.js runtime bootstrap.
//
// Loads the function named by _HANDLER ("file.export", "dir/file.export" or
// "file.nested.export") from LAMBDA_TASK_ROOT and serves invocations through
// the Lambda Runtime API (2018-06-01) at AWS_LAMBDA_RUNTIME_API until the
// process is stopped. Built-in modules only.
//
// Handlers may return a Promise or a plain value (used as the result, as on
// nodejs24.x). A handler declaring three or more parameters is a callback
// handler and answers when the callback (or context.succeed/fail/done) is
// called; context.callbackWaitsForEmptyEventLoop is accepted but not waited
// on. If the event loop runs dry before a handler answers, the result is null,
// as on Lambda. Errors escaping user code asynchronously are reported for the
// invocation in progress (Runtime.UnhandledPromiseRejection for rejections)
// and end the process with Lambda's exit codes, 128 and 129.
//
// A handler wrapped in awslambda.streamifyResponse(handler) is called as
// handler(event, responseStream, context) and streams its response: what
// it writes to responseStream is posted as it is written, chunked, in the
// Runtime API's streaming mode, and an error part way is told in the
// response's trailers. awslambda.HttpResponseStream.from(stream,
// {statusCode, headers, cookies}) begins the stream with that prelude for
// a function URL. When the handler's promise settles the stream is ended
// if it was not.
//
// Started with _ALOFT_TEMPLATE set, the bootstrap is a template process (a
// zygote): once its modules are loaded it says so on descriptor 3 and waits
// there for the instance it becomes, whose environment and working
// directory it then takes on.

import http from 'node:http';
import path from 'node:path';
import { closeSync, existsSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const API_PREFIX = '/2018-06-01/runtime';
const bootstrapRequire = createRequire(import.meta.url);

if (process.env._ALOFT_TEMPLATE) awaitOrder();

// awaitOrder says the template is ready on descriptor 3, reads the order
// ({"env": [...], "dir": "..."}) up to end of file, and takes it on.
function awaitOrder() {
  const fd = 3;
  writeSync(fd, 'ready\n');
  const chunks = [];
  const buf = Buffer.alloc(64 << 10);
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  closeSync(fd);
  const order = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  for (const k of Object.keys(process.env)) delete process.env[k];
  for (const kv of order.env) {
    const i = kv.indexOf('=');
    if (i > 0) process.env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  process.chdir(order.dir);
  // CommonJS reads NODE_PATH once, at start: the instance's (with the
  // function's layers under /opt/nodejs) takes effect now.
  bootstrapRequire('module')._initPaths();
}

// ---------------------------------------------------------------------------
// Runtime API client: one keep-alive connection, no timeouts (next long-polls).

const api = process.env.AWS_LAMBDA_RUNTIME_API;
if (!api) {
  process.stderr.write('aloft bootstrap: AWS_LAMBDA_RUNTIME_API is not set\n');
  process.exit(1);
}
const colon = api.lastIndexOf(':');
const apiHost = (colon > 0 ? api.slice(0, colon) : api).replace(/^\[|\]$/g, '');
const apiPort = colon > 0 ? Number(api.slice(colon + 1)) : 80;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// A request on a kept-alive connection the server has meanwhile closed fails
// before reaching it; such a request is retried once on a new connection.
async function call(method, urlPath, body, headers) {
  try {
    return await send(method, urlPath, body, headers);
  } catch (err) {
    if (!err.reusedSocket) throw err;
    return send(method, urlPath, body, headers);
  }
}

function send(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: apiHost, port: apiPort, method, path: API_PREFIX + urlPath, agent, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) err.reusedSocket = true;
      reject(err);
    });
    req.end(body);
  });
}

async function post(urlPath, body, contentType, errorType) {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const headers = { 'Content-Type': contentType, 'Content-Length': buf.length };
  if (errorType !== undefined) headers['Lambda-Runtime-Function-Error-Type'] = headerSafe(errorType);
  const res = await call('POST', urlPath, buf, headers);
  if (res.status >= 500) {
    throw new Error(`POST ${urlPath} answered ${res.status}: ${res.body.toString('utf8', 0, 200)}`);
  }
}

function headerSafe(value) {
  const s = String(value).replace(/[^\x20-\x7e]/g, '_');
  return s || 'Unknown';
}

function fatal(err) {
  process.stderr.write(`aloft bootstrap: Runtime API: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// Logging: every console call is one log line "<time>\t<request id>\t<LEVEL>\t<message>"
// with inner newlines turned into CR so a message stays one event.

// Request id of the current (or last) invocation; "undefined" during init.
let currentRequestId;

const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
const minLevel = LEVELS[String(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;

function writeLog(level, args) {
  const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${format(...args)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function logger(level) {
  if (LEVELS[level] < minLevel) return () => {};
  return (...args) => writeLog(level, args);
}

console.trace = logger('TRACE');
console.debug = logger('DEBUG');
console.info = logger('INFO');
console.warn = logger('WARN');
console.error = logger('ERROR');
console.fatal = logger('FATAL');
console.log = console.info;

// ---------------------------------------------------------------------------
// Errors as the Runtime API receives them.

function namedError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

function errorBody(err) {
  try {
    if (err instanceof Error) {
      return {
        errorType: err.name,
        errorMessage: err.message,
        trace: typeof err.stack === 'string' ? err.stack.split('\n') : [],
      };
    }
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      trace: [],
    };
  }
}

function describe(err) {
  try {
    if (err instanceof Error) {
      const out = { errorType: err.name, errorMessage: err.message, code: err.code, ...err };
      if (typeof err.stack === 'string') out.stack = err.stack.split('\n');
      return '\t' + JSON.stringify(out);
    }
    return '\t' + JSON.stringify(errorBody(err));
  } catch {
    return '\t' + JSON.stringify(errorBody(err));
  }
}

// ---------------------------------------------------------------------------
// Handler loading.

const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();

function parseHandler(spec) {
  if (spec.includes('..')) {
    throw namedError('Runtime.MalformedHandlerName',
      `'${spec}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const base = path.basename(spec);
  const moduleRoot = spec.slice(0, spec.length - base.length).replace(/\/$/, '');
  const m = /^([^.]*)\.(.*)$/.exec(base);
  if (!m) throw namedError('Runtime.MalformedHandlerName', 'Bad handler');
  return { moduleRoot, moduleName: m[1], handlerName: m[2] };
}

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

// Whether the nearest package.json above file declares "type": "module".
function inModuleScope(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        return JSON.parse(readFileSync(pj, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

// The runtime's AWS SDK, for functions that import it without bundling
// it, as on Lambda. CommonJS finds it through NODE_PATH; an ES module's
// bare import resolves only from its own directories, so when one fails
// for a package the runtime has, a resolve hook that falls back to the
// runtime's node_modules is registered (only then: it costs a thread)
// and the module imported again. The function's own copy still wins.
const sdkModules = process.env.ALOFT_SDK_NODE_MODULES || '';
let sdkHook = false;

function missingSDKPackage(err) {
  if (!sdkModules || !err || err.code !== 'ERR_MODULE_NOT_FOUND') return false;
  const m = /Cannot find package '([^']+)'/.exec(String(err.message));
  return m !== null && existsSync(path.join(sdkModules, m[1]));
}

async function importESM(file) {
  const url = pathToFileURL(file).href;
  try {
    return await import(url);
  } catch (err) {
    if (!missingSDKPackage(err)) throw err;
    if (!sdkHook) {
      const { register } = bootstrapRequire('node:module');
      const parent = pathToFileURL(path.join(sdkModules, 'index.js')).href;
      const hook = 'export async function resolve(specifier, context, next) {' +
        ' try { return await next(specifier, context); } catch (err) {' +
        ' if (err && err.code === "ERR_MODULE_NOT_FOUND" && !specifier.startsWith(".") && !specifier.startsWith("/") && !specifier.includes(":"))' +
        ' return next(specifier, { ...context, parentURL: ' + JSON.stringify(parent) + ' });' +
        ' throw err; } }';
      register('data:text/javascript,' + encodeURIComponent(hook));
      sdkHook = true;
    }
    // A new URL: the failed import's module is not reused.
    return import(url + '?sdk');
  }
}

async function loadFile(file) {
  if (file.endsWith('.mjs') || (file.endsWith('.js') && inModuleScope(file))) {
    return importESM(file);
  }
  try {
    return bootstrapRequire(file);
  } catch (err) {
    if (err && (err.code === 'ERR_REQUIRE_ESM' || err.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      return importESM(file);
    }
    throw err;
  }
}

async function loadModule(moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  try {
    for (const ext of ['.js', '.mjs', '.cjs']) {
      if (isFile(base + ext)) return await loadFile(base + ext);
    }
    const resolved = bootstrapRequire.resolve(moduleName, {
      paths: [taskRoot, path.join(taskRoot, moduleRoot)],
    });
    return await loadFile(resolved);
  } catch (err) {
    if (err instanceof SyntaxError) {
      const wrapped = namedError('Runtime.UserCodeSyntaxError', String(err));
      wrapped.stack = err.stack;
      throw wrapped;
    }
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      throw namedError('Runtime.ImportModuleError', String(err));
    }
    throw err;
  }
}

function findIn(obj, dotted) {
  return dotted.split('.').reduce(
    (cur, key) => (cur !== null && (typeof cur === 'object' || typeof cur === 'function') ? cur[key] : undefined),
    obj,
  );
}

async function loadHandler(spec) {
  const { moduleRoot, moduleName, handlerName } = parseHandler(spec);
  const mod = await loadModule(moduleRoot, moduleName);
  let fn = findIn(mod, handlerName);
  if (!fn && mod !== null && typeof mod === 'object' && 'default' in mod) {
    fn = findIn(mod.default, handlerName);
  }
  if (!fn) throw namedError('Runtime.HandlerNotFound', `${spec} is undefined or not exported`);
  if (typeof fn !== 'function') throw namedError('Runtime.HandlerNotFound', `${spec} is not a function`);
  return fn;
}

// ---------------------------------------------------------------------------
// Response streaming.

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const HTTP_INTEGRATION_TYPE = 'application/vnd.awslambda.http-integration-response';

class HttpResponseStream {
  // from begins stream with prelude (statusCode, headers, cookies) and the
  // eight NUL bytes that end it, as a function URL reads them.
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION_TYPE);
    const head = Buffer.from(JSON.stringify(prelude ?? {}), 'utf8');
    stream._aloftPrelude = Buffer.concat([head, Buffer.alloc(8)]);
    return stream;
  }
}

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = 'response';
    if (options && Number.isInteger(options.highWaterMark)) handler[HIGH_WATER_MARK] = options.highWaterMark;
    return handler;
  },
  HttpResponseStream,
};

// The stream of the invocation in progress, if it streams.
let currentStream = null;

// responseStream returns the Writable a streaming handler writes to. The
// POST opens with the first write (or the end), once the content type can
// no longer change; finished resolves when the Runtime API has answered it.
function responseStream(id, highWaterMark) {
  let req = null;
  let contentType = 'application/octet-stream';
  let failed = false; // the POST broke or was refused: later writes are dropped
  let pending = null; // the callback of a write waiting for 'drain'
  let settle;
  const finished = new Promise((resolve) => { settle = resolve; });
  const open = () => {
    if (req) return;
    req = http.request({
      host: apiHost, port: apiPort, method: 'POST', path: `${API_PREFIX}/invocation/${id}/response`, agent,
      headers: {
        'Content-Type': contentType,
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
      },
    }, (res) => {
      res.resume();
      res.on('end', settle);
      res.on('error', settle);
      if (res.statusCode >= 400) failed = true;
    });
    req.on('error', () => {
      failed = true;
      if (pending) { const cb = pending; pending = null; cb(); }
      settle();
    });
    req.on('drain', () => {
      if (pending) { const cb = pending; pending = null; cb(); }
    });
    if (stream._aloftPrelude) req.write(stream._aloftPrelude);
    req.flushHeaders();
  };
  const stream = new Writable({
    highWaterMark,
    write(chunk, _enc, cb) {
      open();
      if (failed || req.write(chunk)) cb();
      else pending = cb;
    },
    final(cb) {
      open();
      req.end();
      cb();
    },
  });
  stream.setContentType = (type) => {
    if (req) throw new Error('Cannot set content-type, too late.');
    contentType = String(type);
  };
  stream.opened = () => req !== null;
  // fail ends the stream with err in the trailers.
  stream.fail = (err) => {
    open();
    if (!req.writableEnded) {
      const body = errorBody(err);
      try {
        req.addTrailers({
          'Lambda-Runtime-Function-Error-Type': headerSafe(body.errorType),
          'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(body)).toString('base64'),
        });
      } catch {
        // trailers cannot be added once the request ended
      }
      req.end();
    }
    return finished;
  };
  stream.finished = finished;
  return stream;
}

// runStreaming calls a streaming handler and settles when its promise does
// or, for a handler that returns none, when the stream is finished or the
// event loop runs dry.
function runStreaming(fn, event, stream, context) {
  return new Promise((resolve, reject) => {
    settleEmpty = () => resolve();
    let ret;
    try {
      ret = fn(event, stream, context);
    } catch (err) {
      reject(err);
      return;
    }
    if (ret !== null && (typeof ret === 'object' || typeof ret === 'function') && typeof ret.then === 'function') {
      ret.then(() => resolve(), reject);
    } else {
      stream.on('finish', () => resolve());
      stream.on('error', reject);
    }
  });
}

async function invokeStreaming(fn, id, h, res) {
  const stream = responseStream(id, fn[HIGH_WATER_MARK]);
  currentStream = stream;
  try {
    const context = makeContext(id, h);
    const text = res.body.toString('utf8');
    const event = text === '' ? null : JSON.parse(text);
    await runStreaming(fn, event, stream, context);
    if (!stream.writableEnded) stream.end();
  } catch (err) {
    if (responded) return;
    if (!stream.opened()) {
      // Nothing was sent: the error is the whole answer.
      responded = true;
      currentStream = null;
      await reportInvokeError(id, err, 'Invoke Error');
      phase = 'idle';
      return;
    }
    writeLog('ERROR', ['Invoke Error', describe(err)]);
    await stream.fail(err);
  }
  if (responded) return;
  await stream.finished;
  responded = true;
  currentStream = null;
  phase = 'idle';
}

// ---------------------------------------------------------------------------
// Invocations.

let phase = 'init'; // 'init' | 'invoke' | 'idle' | 'failed'
let invokeId;
let responded = false;

async function reportInvokeError(id, err, label) {
  writeLog('ERROR', [label, describe(err)]);
  const body = errorBody(err);
  await post(`/invocation/${id}/error`, JSON.stringify(body), 'application/json', body.errorType);
}

async function reportInitError(err, label) {
  writeLog('ERROR', [label, describe(err)]);
  const body = errorBody(err);
  await post('/init/error', JSON.stringify(body), 'application/json', body.errorType);
}

function makeContext(id, headers) {
  const deadline = parseInt(headers['lambda-runtime-deadline-ms'], 10) || 0;
  const parseJSON = (value) => (value ? JSON.parse(value) : undefined);
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: id,
    clientContext: parseJSON(headers['lambda-runtime-client-context']),
    identity: parseJSON(headers['lambda-runtime-cognito-identity']),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

// Settles the invocation in progress with a null result; used when the event
// loop runs dry before the handler answered, as Lambda does.
let settleEmpty = () => {};

// Runs the handler and settles once, with whichever of the returned promise,
// the callback or the returned value comes first.
function runHandler(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const ok = (value) => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    settleEmpty = () => ok(undefined);
    const fail = (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    };
    const callback = (err, result) => (err !== undefined && err !== null ? fail(err) : ok(result));
    context.succeed = (result) => ok(result);
    context.fail = (err) => fail(err ?? namedError('handled', 'handled'));
    context.done = callback;

    let ret;
    try {
      ret = fn(event, context, callback);
    } catch (err) {
      fail(err);
      return;
    }
    if (ret !== null && (typeof ret === 'object' || typeof ret === 'function') && typeof ret.then === 'function') {
      ret.then(ok, fail);
    } else if (fn.length < 3) {
      ok(ret);
    }
  });
}

async function invoke(fn, res) {
  const h = res.headers;
  const id = h['lambda-runtime-aws-request-id'];
  invokeId = id;
  currentRequestId = id;
  responded = false;
  phase = 'invoke';
  if (h['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
  else delete process.env._X_AMZN_TRACE_ID;
  if (fn[STREAMING] === 'response') return invokeStreaming(fn, id, h, res);

  let payload;
  try {
    const context = makeContext(id, h);
    const text = res.body.toString('utf8');
    const event = text === '' ? null : JSON.parse(text);
    const result = await runHandler(fn, event, context);
    try {
      payload = JSON.stringify(result === undefined ? null : result);
    } catch {
      throw namedError('Runtime.JSONStringifyError', 'Unable to stringify response body');
    }
    if (payload === undefined) payload = 'null';
  } catch (err) {
    if (responded) return;
    responded = true;
    await reportInvokeError(id, err, 'Invoke Error');
    phase = 'idle';
    return;
  }
  if (responded) return;
  responded = true;
  await post(`/invocation/${id}/response`, payload, 'application/json');
  phase = 'idle';
}

// Errors that escape user code end the process after being reported for the
// invocation in progress (or as the init error).
async function escaped(err, label, code) {
  try {
    if (phase === 'init') {
      await reportInitError(err, label);
    } else if (phase === 'invoke' && !responded && currentStream && currentStream.opened()) {
      responded = true;
      writeLog('ERROR', [label, describe(err)]);
      await Promise.race([currentStream.fail(err), new Promise((r) => setTimeout(r, 1000))]);
    } else if (phase === 'invoke' && !responded) {
      responded = true;
      await reportInvokeError(invokeId, err, label);
    } else {
      writeLog('ERROR', [label, describe(err)]);
    }
  } finally {
    process.exit(code);
  }
}

process.on('uncaughtException', (err) => {
  escaped(err, 'Uncaught Exception', 129);
});

process.on('unhandledRejection', (reason) => {
  const err = namedError('Runtime.UnhandledPromiseRejection', String(reason));
  if (reason instanceof Error && typeof reason.stack === 'string') err.stack = reason.stack;
  err.reason = reason;
  escaped(err, 'Unhandled Promise Rejection', 128);
});

process.on('beforeExit', () => {
  if (phase === 'invoke' && !responded) settleEmpty();
});

process.on('SIGTERM', () => process.exit(0));

async function main() {
  let fn;
  try {
    fn = await loadHandler(process.env._HANDLER || '');
  } catch (err) {
    phase = 'failed';
    await reportInitError(err, 'Uncaught Exception');
    process.exit(1);
  }
  phase = 'idle';
  for (;;) {
    const res = await call('GET', '/invocation/next');
    if (res.status !== 200) {
      throw new Error(`GET /invocation/next answered ${res.status}: ${res.body.toString('utf8', 0, 200)}`);
    }
    await invoke(fn, res);
  }
}

main().catch(fatal);
