package runtimes

import (
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/aloft-dev/aloft/internal/function"
)

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

func expectKind(t *testing.T, r fakeResult, kind, id string) {
	t.Helper()
	if r.Kind != kind || r.ID != id {
		t.Fatalf("got %s for %q (%s), want %s for %q", r.Kind, r.ID, r.Body, kind, id)
	}
}

const pyContextHandler = `
import os
count = 0

def handler(event, context):
    global count
    count += 1
    return {
        "event": event,
        "count": count,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "identity": context.identity.cognito_identity_id,
        "custom": context.client_context.custom if context.client_context else None,
        "cwd": os.getcwd(),
    }
`

func TestPythonRoundTripContextAndGlobals(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"app.py": pyContextHandler})
	p := startRuntime(t, f, function.Python, code, "app.handler")

	type out struct {
		Event        any     `json:"event"`
		Count        int     `json:"count"`
		PID          int     `json:"pid"`
		RequestID    string  `json:"request_id"`
		FunctionName string  `json:"function_name"`
		Version      string  `json:"function_version"`
		ARN          string  `json:"arn"`
		Memory       any     `json:"memory"`
		LogGroup     string  `json:"log_group"`
		LogStream    string  `json:"log_stream"`
		Remaining    float64 `json:"remaining"`
		Trace        string  `json:"trace"`
		Identity     *string `json:"identity"`
		Custom       any     `json:"custom"`
		Cwd          string  `json:"cwd"`
	}
	id1 := f.invoke(`{"hello":"world","n":[1,2]}`,
		"Lambda-Runtime-Client-Context", `{"custom":{"k":"v"},"env":{},"client":{}}`,
		"Lambda-Runtime-Cognito-Identity", `{"cognitoIdentityId":"cid","cognitoIdentityPoolId":"pool"}`)
	r1 := f.result(t, p)
	expectKind(t, r1, "response", id1)
	var o1 out
	decodeJSON(t, r1.Body, &o1)
	if ev, _ := json.Marshal(o1.Event); string(ev) != `{"hello":"world","n":[1,2]}` {
		t.Errorf("event = %s", ev)
	}
	if o1.Count != 1 || o1.RequestID != id1 || o1.FunctionName != "fn" || o1.Version != "$LATEST" ||
		o1.ARN != "arn:aws:lambda:us-east-1:000000000000:function:fn" || o1.LogGroup != "/aws/lambda/fn" ||
		o1.LogStream == "" || o1.Cwd != code {
		t.Errorf("context fields: %+v", o1)
	}
	// memory_limit_in_mb is a string in Lambda's Python runtime.
	if o1.Memory != "128" {
		t.Errorf("memory_limit_in_mb = %#v, want the string \"128\"", o1.Memory)
	}
	if o1.Remaining <= 0 || o1.Remaining > 30000 {
		t.Errorf("remaining = %v", o1.Remaining)
	}
	if !strings.HasPrefix(o1.Trace, "Root=1-") {
		t.Errorf("_X_AMZN_TRACE_ID = %q", o1.Trace)
	}
	if o1.Identity == nil || *o1.Identity != "cid" {
		t.Errorf("identity = %v", o1.Identity)
	}
	if c, _ := json.Marshal(o1.Custom); string(c) != `{"k":"v"}` {
		t.Errorf("client_context.custom = %s", c)
	}
	if ct := r1.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}

	id2 := f.invoke(``)
	r2 := f.result(t, p)
	expectKind(t, r2, "response", id2)
	var o2 out
	decodeJSON(t, r2.Body, &o2)
	if o2.Count != 2 || o2.PID != o1.PID {
		t.Errorf("second invoke: count %d pid %d, want 2 and %d", o2.Count, o2.PID, o1.PID)
	}
	if o2.Event != nil {
		t.Errorf("empty body should be None, got %#v", o2.Event)
	}
}

func TestPythonResultEncoding(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"app.py": `
import decimal
def handler(event, context):
    return {"none": None, "dec": decimal.Decimal("1.5"), "int": decimal.Decimal("7"), "text": "h\u00e9"} if event else None
`})
	p := startRuntime(t, f, function.Python, code, "app.handler")
	id := f.invoke(`1`)
	r := f.result(t, p)
	expectKind(t, r, "response", id)
	if got, want := string(r.Body), `{"none": null, "dec": 1.5, "int": 7, "text": "hé"}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	id = f.invoke(`0`)
	r = f.result(t, p)
	expectKind(t, r, "response", id)
	if string(r.Body) != "null" {
		t.Errorf("None result = %q, want null", r.Body)
	}
}

func TestPythonHandlerException(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"app.py": `
class CustomError(Exception):
    pass

def fail(msg):
    raise CustomError(msg)

def handler(event, context):
    if event.get("fail"):
        fail("boom")
    return "ok"
`})
	p := startRuntime(t, f, function.Python, code, "app.handler")
	id := f.invoke(`{"fail":true}`)
	r := f.result(t, p)
	expectKind(t, r, "error", id)
	var e errorPayload
	decodeJSON(t, r.Body, &e)
	if e.ErrorType != "CustomError" || e.ErrorMessage != "boom" || e.RequestID == nil || *e.RequestID != id {
		t.Errorf("error payload = %s", r.Body)
	}
	if got := r.Header.Get("Lambda-Runtime-Function-Error-Type"); got != "CustomError" {
		t.Errorf("error type header = %q", got)
	}
	if len(e.StackTrace) != 2 || !strings.Contains(e.StackTrace[0], `File "/var/task/app.py"`) ||
		!strings.Contains(e.StackTrace[0], "in handler") || !strings.Contains(e.StackTrace[1], "raise CustomError(msg)") {
		t.Errorf("stackTrace = %q", e.StackTrace)
	}
	for _, l := range e.StackTrace {
		if strings.Contains(l, "bootstrap.py") {
			t.Errorf("stackTrace shows the bootstrap: %q", l)
		}
	}
	// The error is logged as one line, and the process serves on.
	if out := p.waitStdout(t, "[ERROR] CustomError"); !strings.Contains(out, "[ERROR] CustomError: boom\rTraceback (most recent call last):\r") {
		t.Errorf("error log line missing; stdout:\n%q", p.stdout.String())
	}
	id = f.invoke(`{}`)
	r = f.result(t, p)
	expectKind(t, r, "response", id)
	if string(r.Body) != `"ok"` {
		t.Errorf("after error: %s", r.Body)
	}
}

func TestPythonMarshalError(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"app.py": "def handler(event, context):\n    return {1, 2}\n"})
	p := startRuntime(t, f, function.Python, code, "app.handler")
	id := f.invoke(`{}`)
	r := f.result(t, p)
	expectKind(t, r, "error", id)
	var e errorPayload
	decodeJSON(t, r.Body, &e)
	if e.ErrorType != "Runtime.MarshalError" ||
		e.ErrorMessage != "Unable to marshal response: Object of type set is not JSON serializable" {
		t.Errorf("payload = %s", r.Body)
	}
}

func TestPythonInitErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, handler string
		files         map[string]string
		errType, msg  string
	}{
		{"missing module", "app.handler", map[string]string{"other.py": ""},
			"Runtime.ImportModuleError", "Unable to import module 'app': No module named 'app'"},
		{"missing dependency", "app.handler", map[string]string{"app.py": "import notinstalled\n"},
			"Runtime.ImportModuleError", "Unable to import module 'app': No module named 'notinstalled'"},
		{"missing handler", "app.nope", map[string]string{"app.py": "def handler(e, c):\n    pass\n"},
			"Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"},
		{"malformed handler", "apphandler", map[string]string{"app.py": ""},
			"Runtime.MalformedHandlerName", "Bad handler 'apphandler': not enough values to unpack (expected 2, got 1)"},
		{"syntax error", "app.handler", map[string]string{"app.py": "def handler(:\n"},
			"Runtime.UserCodeSyntaxError", "Syntax error in module 'app': "},
		// Lambda reports an exception raised by the module itself with the
		// exception's own type and message.
		{"exception at import", "app.handler", map[string]string{"app.py": "raise RuntimeError('no config')\n"},
			"RuntimeError", "no config"},
		{"builtin module", "sys.handler", map[string]string{},
			"Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			code := writeFiles(t, tc.files)
			p := startRuntime(t, f, function.Python, code, tc.handler)
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

func TestPythonHandlerPaths(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, handler string }{
		{"directory", "src/app.handler"},
		{"dotted package", "pkg.mod.handler"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			code := writeFiles(t, map[string]string{
				"src/app.py":      "def handler(e, c):\n    return 'src'\n",
				"pkg/__init__.py": "",
				"pkg/mod.py":      "from pkg import helper\ndef handler(e, c):\n    return helper.NAME\n",
				"pkg/helper.py":   "NAME = 'pkg'\n",
			})
			p := startRuntime(t, f, function.Python, code, tc.handler)
			id := f.invoke(`{}`)
			r := f.result(t, p)
			expectKind(t, r, "response", id)
		})
	}
}

func TestPythonOutputPrecedesResponse(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"app.py": `
import sys
def handler(event, context):
    print("printed-" + context.aws_request_id)
    sys.stdout.write("partial-line-" + context.aws_request_id)
    return 1
`})
	p := startRuntime(t, f, function.Python, code, "app.handler")
	f.watch("partial-line-req-", p.output)
	id := f.invoke(`{}`)
	r := f.result(t, p)
	expectKind(t, r, "response", id)
	if !r.SawMarker {
		t.Fatalf("output was not written before the response was posted; stdout %q", p.stdout.String())
	}
	if !strings.Contains(p.waitStdout(t, "printed-"+id), "printed-"+id+"\n") {
		t.Errorf("stdout = %q", p.stdout.String())
	}
}

func TestPythonLogging(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"app.py": `
import logging
logger = logging.getLogger()
def handler(event, context):
    logger.info("hidden at the default level")
    logger.warning("warned %s", 42)
    logging.getLogger("child").error("from child")
    return None
`})
	p := startRuntime(t, f, function.Python, code, "app.handler")
	f.watch("from child", p.output)
	id := f.invoke(`{}`)
	r := f.result(t, p)
	expectKind(t, r, "response", id)
	if !r.SawMarker {
		t.Errorf("log output was not written before the response was posted")
	}
	out := p.waitStdout(t, "from child\n")
	re := regexp.MustCompile(`(?m)^\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + id + `\twarned 42$`)
	if !re.MatchString(out) {
		t.Errorf("no Lambda-formatted warning line in %q", out)
	}
	if !strings.Contains(out, "[ERROR]\t") || !strings.Contains(out, "\t"+id+"\tfrom child\n") {
		t.Errorf("child logger line missing in %q", out)
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("INFO logged at the default WARNING level: %q", out)
	}
}

func TestPythonLogLevel(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"app.py": `
import logging
logging.getLogger().debug("init debug")
def handler(event, context):
    logging.getLogger().info("shown")
`})
	p := startRuntime(t, f, function.Python, code, "app.handler", "AWS_LAMBDA_LOG_LEVEL=debug")
	id := f.invoke(`{}`)
	expectKind(t, f.result(t, p), "response", id)
	out := p.waitStdout(t, "shown\n")
	if !strings.Contains(out, "[DEBUG]\t") || !strings.Contains(out, "\t\tinit debug\n") ||
		!strings.Contains(out, "[INFO]\t") || !strings.Contains(out, "\t"+id+"\tshown\n") {
		t.Errorf("stdout = %q", out)
	}
}

func TestPythonSIGTERM(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"})
	p := startRuntime(t, f, function.Python, code, "app.handler")
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
