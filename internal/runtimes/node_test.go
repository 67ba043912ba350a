package runtimes

import (
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/aloft-dev/aloft/internal/function"
)

const nodeCJSHandler = `
let count = 0;
exports.handler = async (event, context) => {
  count++;
  await new Promise((r) => setTimeout(r, 5));
  return {
    event, count, pid: process.pid,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memory: context.memoryLimitInMB,
    arn: context.invokedFunctionArn,
    logGroup: context.logGroupName,
    logStream: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(),
    waits: context.callbackWaitsForEmptyEventLoop,
    identity: context.identity,
    clientContext: context.clientContext,
    trace: process.env._X_AMZN_TRACE_ID,
    cwd: process.cwd(),
  };
};
`

func TestNodeCommonJSAsync(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.js": nodeCJSHandler})
	p := startRuntime(t, f, function.Node, code, "index.handler")

	type out struct {
		Event         any     `json:"event"`
		Count         int     `json:"count"`
		PID           int     `json:"pid"`
		RequestID     string  `json:"requestId"`
		FunctionName  string  `json:"functionName"`
		Version       string  `json:"functionVersion"`
		Memory        any     `json:"memory"`
		ARN           string  `json:"arn"`
		LogGroup      string  `json:"logGroup"`
		LogStream     string  `json:"logStream"`
		Remaining     float64 `json:"remaining"`
		Waits         bool    `json:"waits"`
		Identity      any     `json:"identity"`
		ClientContext any     `json:"clientContext"`
		Trace         string  `json:"trace"`
		Cwd           string  `json:"cwd"`
	}
	id1 := f.invoke(`{"a":[1,"x"]}`, "Lambda-Runtime-Cognito-Identity", `{"cognitoIdentityId":"cid"}`)
	r1 := f.result(t, p)
	expectKind(t, r1, "response", id1)
	var o1 out
	decodeJSON(t, r1.Body, &o1)
	if ev, _ := json.Marshal(o1.Event); string(ev) != `{"a":[1,"x"]}` {
		t.Errorf("event = %s", ev)
	}
	if o1.Count != 1 || o1.RequestID != id1 || o1.FunctionName != "fn" || o1.Version != "$LATEST" ||
		o1.ARN != "arn:aws:lambda:us-east-1:000000000000:function:fn" || o1.LogGroup != "/aws/lambda/fn" ||
		o1.LogStream == "" || !o1.Waits || !strings.HasPrefix(o1.Trace, "Root=1-") || o1.Cwd != code {
		t.Errorf("context fields: %+v", o1)
	}
	if o1.Memory != "128" {
		t.Errorf("memoryLimitInMB = %#v, want the string \"128\"", o1.Memory)
	}
	if o1.Remaining <= 0 || o1.Remaining > 30000 {
		t.Errorf("remaining = %v", o1.Remaining)
	}
	if id, _ := json.Marshal(o1.Identity); string(id) != `{"cognitoIdentityId":"cid"}` {
		t.Errorf("identity = %s", id)
	}

	id2 := f.invoke(`"second"`)
	r2 := f.result(t, p)
	expectKind(t, r2, "response", id2)
	var o2 out
	decodeJSON(t, r2.Body, &o2)
	if o2.Count != 2 || o2.PID != o1.PID || o2.Event != "second" {
		t.Errorf("second invoke: %+v (first pid %d)", o2, o1.PID)
	}
}

func TestNodeModuleKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, handler string
		files         map[string]string
		event, want   string
	}{
		{"mjs", "index.handler", map[string]string{
			"index.mjs": "import { helper } from './lib.mjs';\nexport const handler = async (event) => helper(event);\n",
			"lib.mjs":   "export const helper = (e) => ({ esm: e.n * 2 });\n",
		}, `{"n":21}`, `{"esm":42}`},
		{"js in type module package", "app.handler", map[string]string{
			"package.json": `{"type":"module"}`,
			"app.js":       "export async function handler() { return typeof require; }\n",
		}, `{}`, `"undefined"`},
		{"cjs", "app.handler", map[string]string{
			"app.cjs": "module.exports.handler = async () => typeof require;\n",
		}, `{}`, `"function"`},
		{"directory and nested export", "src/lib/app.handlers.main", map[string]string{
			"src/lib/app.js": "exports.handlers = { main: async (e) => 'nested ' + e };\n",
		}, `"ok"`, `"nested ok"`},
		{"esm default export object", "index.handler", map[string]string{
			"index.mjs": "export default { handler: async () => 'default' };\n",
		}, `{}`, `"default"`},
		{"sync return value", "index.handler", map[string]string{
			"index.js": "exports.handler = (event) => ({ sync: event });\n",
		}, `1`, `{"sync":1}`},
		{"undefined result", "index.handler", map[string]string{
			"index.js": "exports.handler = async () => {};\n",
		}, `{}`, `null`},
		{"callback never called", "index.handler", map[string]string{
			"index.js": "exports.handler = (event, context, callback) => { setTimeout(() => {}, 5); };\n",
		}, `{}`, `null`},
		{"package in node_modules", "dep.handler", map[string]string{
			"node_modules/dep/package.json": `{"name":"dep","main":"main.js"}`,
			"node_modules/dep/main.js":      "exports.handler = async () => 'from dep';\n",
		}, `{}`, `"from dep"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			code := writeFiles(t, tc.files)
			p := startRuntime(t, f, function.Node, code, tc.handler)
			id := f.invoke(tc.event)
			r := f.result(t, p)
			expectKind(t, r, "response", id)
			if string(r.Body) != tc.want {
				t.Errorf("body = %s, want %s", r.Body, tc.want)
			}
		})
	}
}

func TestNodeCallbackHandler(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.js": `
let calls = 0;
exports.handler = (event, context, callback) => {
  calls++;
  context.callbackWaitsForEmptyEventLoop = false;
  if (event.fail) return setTimeout(() => callback(new TypeError('bad input')), 5);
  setTimeout(() => callback(null, { calls, id: context.awsRequestId }), 5);
};
`})
	p := startRuntime(t, f, function.Node, code, "index.handler")
	id := f.invoke(`{}`)
	r := f.result(t, p)
	expectKind(t, r, "response", id)
	if want := `{"calls":1,"id":"` + id + `"}`; string(r.Body) != want {
		t.Errorf("body = %s, want %s", r.Body, want)
	}
	id = f.invoke(`{"fail":true}`)
	r = f.result(t, p)
	expectKind(t, r, "error", id)
	var e errorPayload
	decodeJSON(t, r.Body, &e)
	if e.ErrorType != "TypeError" || e.ErrorMessage != "bad input" {
		t.Errorf("payload = %s", r.Body)
	}
}

func TestNodeHandlerErrors(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.js": `
class ValidationError extends Error {
  constructor(m) { super(m); this.name = 'ValidationError'; }
}
exports.handler = async (event) => {
  if (event.kind === 'throw') throw new ValidationError('bad field');
  if (event.kind === 'string') throw 'plain string';
  if (event.kind === 'circular') { const o = {}; o.self = o; return o; }
  return 'fine';
};
`})
	p := startRuntime(t, f, function.Node, code, "index.handler")

	id := f.invoke(`{"kind":"throw"}`)
	r := f.result(t, p)
	expectKind(t, r, "error", id)
	var e errorPayload
	decodeJSON(t, r.Body, &e)
	if e.ErrorType != "ValidationError" || e.ErrorMessage != "bad field" {
		t.Errorf("payload = %s", r.Body)
	}
	if len(e.Trace) < 2 || e.Trace[0] != "ValidationError: bad field" || !strings.Contains(e.Trace[1], "index.js") {
		t.Errorf("trace = %q", e.Trace)
	}
	if e.StackTrace != nil {
		t.Errorf("Node.js errors carry trace, not stackTrace: %s", r.Body)
	}
	if got := r.Header.Get("Lambda-Runtime-Function-Error-Type"); got != "ValidationError" {
		t.Errorf("error type header = %q", got)
	}
	if out := p.waitStdout(t, "Invoke Error"); !regexp.MustCompile(`\t` + id + `\tERROR\tInvoke Error \t\{"errorType":"ValidationError","errorMessage":"bad field"`).MatchString(out) {
		t.Errorf("invoke error log line missing: %q", out)
	}

	// Non-Error values report their typeof as the type.
	id = f.invoke(`{"kind":"string"}`)
	r = f.result(t, p)
	expectKind(t, r, "error", id)
	if string(r.Body) != `{"errorType":"string","errorMessage":"plain string","trace":[]}` {
		t.Errorf("payload = %s", r.Body)
	}

	id = f.invoke(`{"kind":"circular"}`)
	r = f.result(t, p)
	expectKind(t, r, "error", id)
	e = errorPayload{}
	decodeJSON(t, r.Body, &e)
	if e.ErrorType != "Runtime.JSONStringifyError" {
		t.Errorf("payload = %s", r.Body)
	}

	id = f.invoke(`{}`)
	r = f.result(t, p)
	expectKind(t, r, "response", id)
}

func TestNodeInitErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, handler string
		files         map[string]string
		errType, msg  string
	}{
		{"missing module", "index.handler", map[string]string{"other.js": ""},
			"Runtime.ImportModuleError", "Error: Cannot find module 'index'"},
		{"missing dependency", "index.handler", map[string]string{"index.js": "require('not-installed');\n"},
			"Runtime.ImportModuleError", "Error: Cannot find module 'not-installed'"},
		{"missing handler", "index.nope", map[string]string{"index.js": "exports.handler = async () => 1;\n"},
			"Runtime.HandlerNotFound", "index.nope is undefined or not exported"},
		{"handler not a function", "index.value", map[string]string{"index.js": "exports.value = 42;\n"},
			"Runtime.HandlerNotFound", "index.value is not a function"},
		{"malformed handler", "index", map[string]string{"index.js": ""},
			"Runtime.MalformedHandlerName", "Bad handler"},
		{"relative path", "../index.handler", map[string]string{"index.js": ""},
			"Runtime.MalformedHandlerName", "'../index.handler' is not a valid handler name."},
		{"syntax error", "index.handler", map[string]string{"index.js": "exports.handler = async () => {\n"},
			"Runtime.UserCodeSyntaxError", "SyntaxError: "},
		{"exception at load", "index.handler", map[string]string{"index.mjs": "throw new RangeError('no config');\n"},
			"RangeError", "no config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			code := writeFiles(t, tc.files)
			p := startRuntime(t, f, function.Node, code, tc.handler)
			r := f.result(t, p)
			expectKind(t, r, "init", "")
			t.Logf("init error: %s", r.Body)
			var e errorPayload
			decodeJSON(t, r.Body, &e)
			if e.ErrorType != tc.errType || !strings.HasPrefix(e.ErrorMessage, tc.msg) {
				t.Errorf("init error = %s, want %s %q", r.Body, tc.errType, tc.msg)
			}
			if got := r.Header.Get("Lambda-Runtime-Function-Error-Type"); got != tc.errType {
				t.Errorf("error type header = %q", got)
			}
			if code := p.wait(t); code == 0 {
				t.Errorf("exit code 0 after an init error")
			}
		})
	}
}

func TestNodeConsoleFormat(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.js": `
console.log('loading');
exports.handler = async () => {
  console.log('hello %s', 'world', { n: 1 });
  console.warn('careful');
  console.error('two\nlines');
  console.debug('dbg');
  return 'done';
};
`})
	p := startRuntime(t, f, function.Node, code, "index.handler")
	f.watch("two\rlines", p.output)
	id := f.invoke(`{}`)
	r := f.result(t, p)
	expectKind(t, r, "response", id)
	if !r.SawMarker {
		t.Errorf("console output was not written before the response was posted")
	}
	out := p.waitStdout(t, "dbg\n")
	ts := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`
	for _, line := range []string{
		ts + `\tundefined\tINFO\tloading`,
		ts + `\t` + id + `\tINFO\thello world \{ n: 1 \}`,
		ts + `\t` + id + `\tWARN\tcareful`,
		ts + `\t` + id + `\tERROR\ttwo\rlines`,
		ts + `\t` + id + `\tDEBUG\tdbg`,
	} {
		if !regexp.MustCompile(`(?m)^` + line + `$`).MatchString(out) {
			t.Errorf("no line matching %q in %q", line, out)
		}
	}
}

func TestNodeUnhandledRejection(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.js": `
exports.handler = async () => {
  Promise.reject(new Error('forgotten'));
  await new Promise((r) => setTimeout(r, 1000));
  return 'late';
};
`})
	p := startRuntime(t, f, function.Node, code, "index.handler")
	id := f.invoke(`{}`)
	r := f.result(t, p)
	expectKind(t, r, "error", id)
	var e errorPayload
	decodeJSON(t, r.Body, &e)
	if e.ErrorType != "Runtime.UnhandledPromiseRejection" || e.ErrorMessage != "Error: forgotten" {
		t.Errorf("payload = %s", r.Body)
	}
	if code := p.wait(t); code != 128 {
		t.Errorf("exit code %d, want 128", code)
	}
}

func TestNodeUncaughtException(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.js": `
exports.handler = (event, context) => new Promise(() => {
  setTimeout(() => { throw new SyntaxError('async boom'); }, 5);
});
`})
	p := startRuntime(t, f, function.Node, code, "index.handler")
	id := f.invoke(`{}`)
	r := f.result(t, p)
	expectKind(t, r, "error", id)
	var e errorPayload
	decodeJSON(t, r.Body, &e)
	if e.ErrorType != "SyntaxError" || e.ErrorMessage != "async boom" {
		t.Errorf("payload = %s", r.Body)
	}
	if code := p.wait(t); code != 129 {
		t.Errorf("exit code %d, want 129", code)
	}
}

func TestNodeSIGTERM(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.js": "exports.handler = async () => 1;\n"})
	p := startRuntime(t, f, function.Node, code, "index.handler")
	select {
	case <-f.nexts:
	case <-p.exited:
		t.Fatal("runtime exited before polling")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
