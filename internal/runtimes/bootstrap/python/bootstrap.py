"""Aloft's Python runtime bootstrap.

Loads the function named by _HANDLER ("module.function") from
LAMBDA_TASK_ROOT and serves invocations through the Lambda Runtime API
(2018-06-01) at AWS_LAMBDA_RUNTIME_API until the process is stopped.

Only the standard library is used, and only what a cold start needs is
imported up front: the Runtime API is spoken over one persistent socket with
a small HTTP/1.1 client instead of http.client, whose import (ssl, email)
costs more than the rest of this file; traceback is loaded on the first
error.

Started with _ALOFT_TEMPLATE set, the bootstrap is a template process (a
zygote): once its modules are loaded it says so on descriptor 3 and waits
there for the instance it becomes, whose environment and working directory
it then takes on.
"""

import json
import logging
import os
import signal
import socket
import sys
import time

API_PREFIX = "/2018-06-01/runtime"
_BOOTSTRAP_FILE = os.path.abspath(__file__)
_NBSP = "\u00a0"

# Request id of the invocation in progress, shown by the logging handler.
_request_id = None


class RuntimeAPIError(Exception):
    """The Runtime API answered in an unexpected way or went away."""


class RuntimeClient(object):
    """Minimal HTTP/1.1 client holding one keep-alive connection."""

    def __init__(self, address):
        self.address = address
        host, sep, port = address.rpartition(":")
        if not sep:
            host, port = address, "80"
        self.host = host.strip("[]")
        self.port = int(port)
        self.sock = None
        self.rfile = None

    def close(self):
        if self.sock is not None:
            try:
                self.rfile.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.rfile = None

    def request(self, method, path, body=None, headers=None):
        """Sends one request and returns (status, headers, body)."""
        head = ["%s %s HTTP/1.1" % (method, path), "Host: " + self.address,
                "User-Agent: aloft-python-bootstrap"]
        if headers:
            for name, value in headers.items():
                head.append("%s: %s" % (name, value))
        if body is not None:
            head.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8")
        if body:
            data += body
        while True:
            reused = self.sock is not None
            if not reused:
                self.sock = socket.create_connection((self.host, self.port))
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.rfile = self.sock.makefile("rb")
            try:
                self.sock.sendall(data)
                line = self.rfile.readline(65537)
            except OSError:
                self.close()
                if reused:
                    continue  # the server dropped the idle connection
                raise
            if not line:
                self.close()
                if reused:
                    continue
                raise RuntimeAPIError("connection closed by the Runtime API")
            try:
                return self._read_response(line)
            except BaseException:
                self.close()
                raise

    def _read_response(self, line):
        rfile = self.rfile
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise RuntimeAPIError("malformed status line %r" % line)
        status = int(parts[1])
        headers = {}
        while True:
            raw = rfile.readline(65537)
            if not raw:
                raise RuntimeAPIError("connection closed inside response headers")
            if raw in (b"\r\n", b"\n"):
                break
            name, _, value = raw.decode("utf-8", "replace").partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = headers.get("connection", "").lower() != "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size_line = rfile.readline(65537)
                if not size_line:
                    raise RuntimeAPIError("connection closed inside chunked body")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self._read_exact(size))
                rfile.readline(65537)
            payload = b"".join(chunks)
        elif "content-length" in headers:
            payload = self._read_exact(int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            payload = b""
        else:
            payload = rfile.read()
            keep = False
        if not keep:
            self.close()
        return status, headers, payload

    def _read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise RuntimeAPIError("connection closed inside response body")
        return data

    def next(self):
        status, headers, body = self.request("GET", API_PREFIX + "/invocation/next")
        if status != 200:
            raise RuntimeAPIError("GET /invocation/next answered %d: %s"
                                  % (status, body[:200].decode("utf-8", "replace")))
        return headers, body

    def post(self, path, body, content_type="application/json", error_type=None):
        headers = {"Content-Type": content_type}
        if error_type is not None:
            headers["Lambda-Runtime-Function-Error-Type"] = _header_safe(error_type)
        status, _, answer = self.request("POST", API_PREFIX + path, body, headers)
        if status >= 500:
            raise RuntimeAPIError("POST %s answered %d: %s"
                                  % (path, status, answer[:200].decode("utf-8", "replace")))
        return status


def _header_safe(value):
    out = "".join(c if " " <= c <= "~" else "_" for c in str(value))
    return out or "Unknown"


class Fault(Exception):
    """An error the runtime itself reports, with Lambda's error type."""

    def __init__(self, error_type, message, trace=None):
        Exception.__init__(self, message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def _error_body(message, error_type, trace, request_id=""):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": trace or [],
    }


def _error_from_exception(exc, request_id=""):
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    # Hide the runtime's own frames that lead into user code.
    for i, frame in enumerate(frames):
        if frame.filename != _BOOTSTRAP_FILE:
            frames = frames[i:]
            break
    # Paths as Lambda shows them: the function's code under /var/task.
    root = os.environ.get("LAMBDA_TASK_ROOT", "")
    lines = traceback.format_list(frames)
    if root and root != "/var/task":
        lines = [l.replace('File "' + root + "/", 'File "/var/task/') for l in lines]
    return _error_body(str(exc), type(exc).__name__, lines, request_id)


def _log_error(err):
    """Writes an error as one log event: lines joined by CR, indents kept as NBSP."""
    desc = "[ERROR]"
    if err["errorType"]:
        desc += " " + err["errorType"]
    if err["errorMessage"]:
        if err["errorType"]:
            desc += ":"
        desc += " " + err["errorMessage"]
    lines = [desc, "Traceback (most recent call last):"]
    for element in err["stackTrace"]:
        for line in element.splitlines():
            stripped = line.lstrip(" ")
            lines.append(_NBSP * (len(line) - len(stripped)) + stripped)
    _write_stdout("\r".join(lines) + "\n")


def _write_stdout(text):
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except Exception:
        pass


def _flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# --- JSON ------------------------------------------------------------------


def _ensure_ascii():
    # Lambda stopped escaping non-ASCII characters in responses with
    # python3.12; do the same unless an older runtime is named.
    env = os.environ.get("AWS_EXECUTION_ENV", "")
    prefix = "AWS_Lambda_python3."
    if env.startswith(prefix):
        try:
            return int(env[len(prefix):]) < 12
        except ValueError:
            pass
    return False


class _Encoder(json.JSONEncoder):
    def default(self, o):
        # Decimal (e.g. from DynamoDB) encodes as a number, as on Lambda.
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(o, decimal.Decimal):
            if o.is_nan():
                return float("nan")
            if o == o.to_integral_value():
                return int(o)
            return float(o)
        return json.JSONEncoder.default(self, o)


_encoder = _Encoder(ensure_ascii=_ensure_ascii())


def _encode_result(result):
    if isinstance(result, (bytes, bytearray)):
        return bytes(result), "application/unknown"
    try:
        return _encoder.encode(result).encode("utf-8"), "application/json"
    except Exception as e:
        raise Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)


def _decode_event(body, content_type):
    if content_type and not content_type.lower().startswith("application/json"):
        return body
    if not body:
        return None
    try:
        return json.loads(body)
    except Exception as e:
        raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)


# --- context -----------------------------------------------------------------


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, data):
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client(object):
    __slots__ = ["installation_id", "app_title", "app_version_name",
                 "app_version_code", "app_package_name"]

    def __init__(self, data):
        for name in self.__slots__:
            setattr(self, name, data.get(name))


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __init__(self, data):
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None


def _json_header(value, what):
    if not value:
        return None
    try:
        return json.loads(value)
    except Exception as e:
        raise Fault("Runtime.LambdaContextUnmarshalError",
                    "Unable to parse %s JSON: %s" % (what, e))


class LambdaContext(object):
    """The context object handed to the handler with each event."""

    def __init__(self, request_id, headers):
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        client_context = _json_header(headers.get("lambda-runtime-client-context"), "Client Context")
        self.client_context = ClientContext(client_context) if isinstance(client_context, dict) else None
        identity = _json_header(headers.get("lambda-runtime-cognito-identity"), "Cognito Identity")
        self.identity = CognitoIdentity(identity if isinstance(identity, dict) else {})
        try:
            self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0"))
        except ValueError:
            self._deadline_ms = 0

    def get_remaining_time_in_millis(self):
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg):
        _write_stdout(str(msg))

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
                "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
                "invoked_function_arn=%s,client_context=%s,identity=%s])" % (
                    self.aws_request_id, self.log_group_name, self.log_stream_name,
                    self.function_name, self.memory_limit_in_mb, self.function_version,
                    self.invoked_function_arn, self.client_context, self.identity))


# --- logging -----------------------------------------------------------------


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id or ""
        return True


class _StdoutHandler(logging.Handler):
    def emit(self, record):
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


def _setup_logging():
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    # Like Lambda, the root level stays at Python's default (WARNING) unless
    # the function's log level is configured.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)


# --- handler loading ---------------------------------------------------------


def load_handler(spec, task_root):
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, e))
    if modname.split(".")[0] in sys.builtin_module_names:
        raise Fault("Runtime.BuiltInModuleConflict",
                    "Cannot use built-in module %s as a handler module" % modname)

    if task_root in sys.path:
        sys.path.remove(task_root)
    sys.path.insert(0, task_root)
    # PYTHONPATH entries the interpreter did not see at its start (a
    # template process takes on the instance's environment later): the
    # function's layers, /opt/python and its site-packages, right after
    # its own code, as on Lambda.
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(":") if p and p not in sys.path]
    sys.path[1:1] = extra
    # The runtime's boto3, for functions that do not bundle it, as on
    # Lambda: last, so the function's own copy, and one installed for the
    # interpreter, win.
    sdk = os.environ.get("ALOFT_SDK_PYTHON")
    if sdk and sdk not in sys.path:
        sys.path.append(sdk)

    import importlib

    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError",
                    "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise Fault("Runtime.UserCodeSyntaxError",
                    "Syntax error in module '%s': %s" % (modname, e), trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        raise Fault("Runtime.HandlerNotFound",
                    "Handler '%s' missing on module '%s'" % (fname, modname))


# --- main loop ---------------------------------------------------------------


def _on_sigterm(signum, frame):
    _flush_output()
    os._exit(0)


def handle_invocation(client, handler, headers, body):
    global _request_id
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _request_id = request_id
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)

    err = None
    try:
        context = LambdaContext(request_id, headers)
        event = _decode_event(body, headers.get("content-type"))
        result = handler(event, context)
        payload, content_type = _encode_result(result)
    except Fault as f:
        err = _error_body(f.message, f.error_type, f.trace, request_id)
    except Exception as e:
        err = _error_from_exception(e, request_id)

    path = "/invocation/%s/" % request_id
    if err is not None:
        _log_error(err)
        _flush_output()
        client.post(path + "error", json.dumps(err).encode("utf-8"),
                    error_type=err["errorType"])
    else:
        # User output must reach the log before the response is visible.
        _flush_output()
        client.post(path + "response", payload, content_type)


def main():
    signal.signal(signal.SIGTERM, _on_sigterm)
    # The bootstrap's own directory must not shadow user modules.
    here = os.path.dirname(_BOOTSTRAP_FILE)
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]

    api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not api:
        sys.stderr.write("aloft bootstrap: AWS_LAMBDA_RUNTIME_API is not set\n")
        return 1
    client = RuntimeClient(api)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    spec = os.environ.get("_HANDLER", "")

    _setup_logging()
    try:
        handler = load_handler(spec, task_root)
    except Fault as f:
        err = _error_body(f.message, f.error_type, f.trace)
    except Exception as e:
        err = _error_from_exception(e)
    else:
        err = None
    if err is not None:
        _log_error(err)
        _flush_output()
        client.post("/init/error", json.dumps(err).encode("utf-8"), error_type=err["errorType"])
        return 1

    while True:
        headers, body = client.next()
        handle_invocation(client, handler, headers, body)


def await_order():
    """Says the template is ready on descriptor 3, reads the order
    ({"env": [...], "dir": "..."}) up to end of file, and takes it on."""
    import importlib  # what load_handler needs, ahead of time
    fd = 3
    os.write(fd, b"ready\n")
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    order = json.loads(b"".join(chunks).decode("utf-8"))
    os.environ.clear()
    for kv in order["env"]:
        key, sep, value = kv.partition("=")
        if sep and key:
            os.environ[key] = value
    time.tzset()
    os.chdir(order["dir"])


if __name__ == "__main__":
    if os.environ.get("_ALOFT_TEMPLATE"):
        await_order()
    try:
        code = main()
    except (RuntimeAPIError, OSError) as e:
        _flush_output()
        sys.stderr.write("aloft bootstrap: Runtime API: %s\n" % e)
        code = 1
    sys.exit(code)
