// Package runtimes knows how Aloft starts each supported runtime: which
// program to exec, with which arguments and extra environment, and ships
// Aloft's own bootstraps for Python and Node.js.
//
// Every runtime is a process speaking the Lambda Runtime API (2018-06-01) at
// AWS_LAMBDA_RUNTIME_API, started with the function code directory as its
// working directory and LAMBDA_TASK_ROOT:
//
//   - provided, provided.al2, provided.al2023: the function's own executable
//     codeDir/bootstrap. When it is missing or cannot be executed Lambda fails
//     the function with error type Runtime.InvalidEntrypoint ("Couldn't find
//     valid bootstrap(s): [...]" or "fork/exec ...: permission denied");
//     Command returns an error wrapping ErrInvalidEntrypoint with that message
//     for the invoker to report.
//   - python3.x: the host's Python 3.8+ running bootstrap/python/bootstrap.py.
//   - nodejs*.x: the host's Node.js 18+ running bootstrap/node/bootstrap.mjs.
//
// The two bootstraps use only their language's standard library and follow
// the observable behaviour of Lambda's managed runtimes: handler resolution,
// the context object, error payloads and error types (Runtime.ImportModuleError,
// Runtime.HandlerNotFound, Runtime.MalformedHandlerName,
// Runtime.UserCodeSyntaxError, Runtime.MarshalError, ...) and the text log
// formats. They are compiled into the binary and written to disk by Install.
//
// Interpreters are resolved once by Detect. A python3 found on PATH is often
// a version-manager shim that costs about half a second per start, so Detect
// asks it once for sys.executable and runs that binary directly afterwards.
package runtimes
