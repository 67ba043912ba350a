package invoker

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/runtimeapi"
	"github.com/aloft-dev/aloft/internal/runtimes"
	"github.com/aloft-dev/aloft/internal/sandbox"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// instance is one running function process with its Runtime API and log pipe.
type instance struct {
	iv     *Invoker
	id     string
	stream string // log stream name
	group  string // log group name
	cfg    *function.Config
	dir    string

	sb  sandbox.Instance
	rt  *runtimeapi.Server
	out *logPipe

	initDur time.Duration
	// The phases of the start (see Observation), set before the instance
	// serves.
	tSetup, tSandbox, tRuntime, tReady time.Time
	// maxMemMB is the peak memory the last REPORT line gave, in MB;
	// written by the log pipe's reader.
	maxMemMB atomic.Int64
	fresh    bool      // has not served an invocation yet
	lastUsed time.Time // set by the pool under its lock
	frozen   bool      // guarded by the pool's lock: paused by the sandbox's freezer
	// provisioned is set (under the pool's lock) on instances kept
	// initialised by provisioned concurrency: the keep-alive spares them.
	provisioned bool
	dead        bool      // set by the invoking goroutine while busy
	later       laterEnd  // an ending invoke left for finishLater; busy only
	credsExpire time.Time // when the credentials Deps.Env gave expire; zero for never

	stopOnce sync.Once
	served   chan struct{} // closed when the Runtime API server has stopped
	exposed  io.Closer     // what Deps.Expose serves in the instance's namespace, or nil
}

// coldStart starts an instance for req. When the function cannot initialise,
// it returns the response Lambda gives for that (a function error), and no
// instance. Once left is closed before the start's turn comes, it starts
// nothing and returns errNotNeeded.
func (iv *Invoker) coldStart(ctx context.Context, p *pool, req *Request, left <-chan struct{}) (*instance, *Response, error) {
	return iv.start(ctx, p, req, false, left)
}

// errNotNeeded says a start was dropped before its turn came.
var errNotNeeded = errors.New("invoker: start not needed")

// start starts an instance, for a request or (provisioned) ahead of one,
// when its turn comes (see turns); left as in coldStart.
func (iv *Invoker) start(ctx context.Context, p *pool, req *Request, provisioned bool, left <-chan struct{}) (*instance, *Response, error) {
	end, ok := iv.turns.wait(p, left, iv.stop)
	if !ok {
		select {
		case <-iv.stop:
			return nil, nil, ErrClosed
		default:
			return nil, nil, errNotNeeded
		}
	}
	defer end()
	cfg := p.cfg
	t0 := iv.d.Now()
	codeDir, err := iv.d.CodeDir(ctx, p.codeKey)
	if err != nil {
		return nil, nil, fmt.Errorf("invoker: code of %s: %w", cfg.FunctionName, err)
	}
	layersDir, err := iv.layersDir(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("invoker: layers of %s: %w", cfg.FunctionName, err)
	}
	id := ids.Hex()
	in := &instance{
		iv:          iv,
		id:          id,
		stream:      t0.UTC().Format("2006/01/02") + "/[" + cfg.Version + "]" + id,
		group:       function.LogGroup(cfg.FunctionName),
		cfg:         cfg,
		dir:         iv.instanceDir(id),
		fresh:       true,
		provisioned: provisioned,
		served:      make(chan struct{}),
	}
	// The platform's variables first: a role that cannot be assumed
	// fails the start before anything is set up.
	var platformEnv []string
	if iv.d.Env != nil {
		if platformEnv, in.credsExpire, err = iv.d.Env(cfg); err != nil {
			return nil, nil, err
		}
	}
	tmp := filepath.Join(in.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o777); err != nil {
		return nil, nil, fmt.Errorf("invoker: instance dir: %w", err)
	}
	// Until the sandbox starts, a failure undoes what was set up.
	var ln net.Listener // the Runtime API's
	fail := func(err error) (*instance, *Response, error) {
		if ln != nil {
			ln.Close()
		}
		if in.exposed != nil {
			in.exposed.Close()
		}
		if in.out != nil {
			in.out.w.Close()
			in.out.r.Close()
		}
		os.RemoveAll(in.dir)
		return nil, nil, err
	}
	// With private networks the Runtime API listens inside the
	// instance's namespace, where nothing else can reach it; otherwise on
	// a host loopback port.
	private := iv.privateNetworks()
	var listen func(sandbox.Network) error
	rtAddr := runtimeapi.Address
	if private {
		listen = func(nw sandbox.Network) error {
			l, err := nw.Listen(runtimeapi.Address)
			if err != nil {
				return err
			}
			if ln != nil { // a second try of the start, in another sandbox
				ln.Close()
			}
			ln = l
			if iv.d.Expose == nil || cfg.Network == function.NetworkNone {
				return nil // an offline function reaches nothing of the platform
			}
			c, err := iv.d.Expose(nw)
			if err != nil {
				return err
			}
			if in.exposed != nil {
				in.exposed.Close()
			}
			in.exposed = c
			return nil
		}
	} else {
		if cfg.Network == function.NetworkNone {
			return fail(function.Errorf(fault.Internal, "ServiceException",
				"The function's tag %s=%s needs a sandbox driver with network namespaces; the %s driver has none.",
				function.NetworkTag, function.NetworkNone, iv.d.Driver.Name()))
		}
		if len(cfg.AllowNet) > 0 {
			return fail(function.Errorf(fault.Internal, "ServiceException",
				"The function's tag %s needs a sandbox driver with network namespaces; the %s driver has none.",
				function.AllowNetTag, iv.d.Driver.Name()))
		}
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fail(fmt.Errorf("invoker: runtime api: %w", err))
		}
		rtAddr = ln.Addr().String()
	}
	in.rt = runtimeapi.New()
	if in.out, err = newLogPipe(in); err != nil {
		return fail(err)
	}
	if err := iv.track(in); err != nil {
		return fail(err)
	}

	family := function.RuntimeFamily(cfg.Runtime)
	argv, extraEnv, err := iv.d.Command(cfg.Runtime, codeDir)
	tSandbox := iv.d.Now()
	if err == nil {
		in.sb, err = iv.d.Driver.Start(ctx, sandbox.Spec{
			ID: id, Argv: argv, Env: in.env(codeDir, tmp, rtAddr, family, iv.layerEnv(cfg, codeDir, layersDir, extraEnv), platformEnv), Dir: codeDir,
			CodeDir: codeDir, LayersDir: layersDir, TmpDir: tmp, TmpMB: cfg.EphemeralStorage.Size, MemoryMB: cfg.MemorySize, Output: in.out.w,
			Offline: cfg.Network == function.NetworkNone, AllowNet: cfg.AllowNet, Listen: listen,
			Template: layerTemplate(layersDir, in.template(family, argv, extraEnv)),
		})
	}
	// The instance owns this goroutine; shutdown waits for it. Until it
	// runs, the function's connections wait in the listener's backlog.
	if ln != nil {
		go func(ln net.Listener) { defer close(in.served); in.rt.Serve(ln) }(ln)
	} else {
		close(in.served)
	}
	fromTemplate := false
	if op, ok := in.sb.(sandbox.OutputPipe); ok && err == nil {
		// Started from a template: the function writes to the template's
		// pipe.
		if r, w := op.OutputPipe(); r != nil {
			oldR, oldW := in.out.r, in.out.w
			if uerr := in.out.use(r, w); uerr != nil { // not a pipe the poller takes: its output is lost
				iv.log.Warn("template output pipe", "instance_id", in.id, "err", uerr)
				r.Close()
				w.Close()
			} else {
				oldR.Close()
				oldW.Close()
			}
			fromTemplate = true
		}
	}
	go in.out.read()
	if err != nil {
		return nil, in.initFailed(req, t0, FailInvalidEntrypoint, err.Error(), nil), nil
	}
	tRuntime := iv.d.Now()

	// Lambda gives initialisation ten seconds, and retries a slower one
	// within the function's timeout; allow whichever is longer.
	limit := time.NewTimer(max(iv.d.InitLimit, time.Duration(cfg.Timeout)*time.Second))
	defer limit.Stop()
	select {
	case <-in.rt.Ready():
	case res := <-in.rt.InitError():
		return nil, in.initFailed(req, t0, 0, "", res.Payload), nil
	case <-in.sb.Done():
		select {
		case res := <-in.rt.InitError():
			return nil, in.initFailed(req, t0, 0, "", res.Payload), nil
		default:
		}
		st, _ := in.sb.Wait(context.Background())
		return nil, in.initFailed(req, t0, FailExit, "Runtime exited with error: "+st.String(), nil), nil
	case <-limit.C:
		return nil, in.initFailed(req, t0, FailUnknown,
			fmt.Sprintf("Runtime failed to initialise within %s", max(iv.d.InitLimit, time.Duration(cfg.Timeout)*time.Second)), nil), nil
	case <-ctx.Done():
		in.shutdown(0)
		return nil, nil, ctx.Err()
	}
	if b, ok := in.sb.(sandbox.Booster); ok {
		if err := b.EndBoost(); err != nil {
			iv.log.Warn("could not apply the CPU limit", "function", cfg.FunctionName, "err", err)
		}
	}
	in.tReady = iv.d.Now()
	in.initDur = in.tReady.Sub(t0)
	in.tSetup, in.tSandbox, in.tRuntime = t0, tSandbox, tRuntime
	// The phases of a cold start: setting up (code, Runtime API, log pipe),
	// the sandbox, and the runtime's own start with the function's
	// initialisation, up to its first request for work.
	iv.log.Info("instance started", "function", cfg.FunctionName, "instance", in.stream,
		"setup_ms", ms(tSandbox.Sub(t0)), "sandbox_ms", ms(tRuntime.Sub(tSandbox)),
		"init_ms", ms(in.initDur-tRuntime.Sub(t0)), "total_ms", ms(in.initDur), "template", fromTemplate)
	p.started()
	return in, nil, nil
}

// ms renders d in milliseconds for logs.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// privateNetworks reports whether the driver runs each instance in a
// network namespace of its own.
func (iv *Invoker) privateNetworks() bool {
	n, ok := iv.d.Driver.(sandbox.Networker)
	return ok && n.PrivateNetworks()
}

// initFailed stops a failed instance and builds Lambda's answer: either the
// error the runtime posted (body) or one of Aloft's own (kind, msg).
//
// The failure has a request id of its own: the start may have been
// req's, but req may be served by another instance meanwhile, and its
// id must not name this failure's lines too.
func (in *instance) initFailed(req *Request, t0 time.Time, kind FailureKind, msg string, body []byte) *Response {
	reqID := ids.New()
	var resp *Response
	var extra []string
	if body == nil {
		f := &Failure{kind, "RequestId: " + reqID + " Error: " + msg}
		resp = failed(f, in.cfg.Version, reqID)
		extra = append(extra, f.Message+"\n"+kind.ErrorType())
	} else {
		resp = &Response{Payload: body, FunctionError: "Unhandled", Version: in.cfg.Version, RequestID: reqID}
	}
	in.dead = true
	if in.sb != nil {
		in.sb.Stop(context.Background(), 0)
	}
	d := in.iv.d.Now().Sub(t0)
	resp.LogTail = in.finish(reqID, t0, d, extra, true)
	in.iv.stopAsync(in)
	return resp
}

// baseEnv is where every instance's environment starts, and the
// environment of template processes.
var baseEnv = []string{"TZ=:UTC", "LANG=en_US.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin"}

// template returns the template process (a zygote: an interpreter with
// Aloft's bootstrap loaded, started ahead of need) an instance may be
// started from, or nil. Only interpreted runtimes have one, and functions
// whose own variables act on the interpreter's start start afresh.
func (in *instance) template(family function.Family, argv, extra []string) *sandbox.Template {
	cfg := in.cfg
	if family == function.Provided {
		return nil
	}
	if cfg.Environment != nil {
		for k := range cfg.Environment.Variables {
			if runtimes.ActsAtStart(k) {
				return nil
			}
		}
	}
	// No HOME or TMPDIR: the instance's come with its order.
	env := make([]string, 0, len(baseEnv)+len(extra)+1)
	env = append(env, baseEnv...)
	env = append(env, extra...)
	env = append(env, runtimes.TemplateVar+"=1")
	return &sandbox.Template{Argv: argv, Env: env}
}

// env builds the environment a Lambda function sees.
func (in *instance) env(codeDir, tmp, rtAddr string, family function.Family, extra, platform []string) []string {
	cfg := in.cfg
	region := strings.Split(cfg.FunctionArn, ":")
	reg := function.DefaultRegion
	if len(region) > 3 && region[3] != "" {
		reg = region[3]
	}
	// Later settings win: the platform's defaults, then the runtime's, then
	// the platform's credentials and endpoint, then the user's variables
	// (which validation keeps off the reserved names), then what Lambda
	// never lets users change.
	vars := map[string]string{"HOME": tmp, "TMPDIR": tmp}
	set := func(kvs []string) {
		for _, kv := range kvs {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = v
			}
		}
	}
	set(baseEnv)
	set(extra)
	set(platform)
	if cfg.Environment != nil {
		for k, v := range cfg.Environment.Variables {
			vars[k] = v
		}
	}
	set([]string{
		"AWS_LAMBDA_RUNTIME_API=" + rtAddr,
		"_HANDLER=" + cfg.Handler,
		"LAMBDA_TASK_ROOT=" + codeDir,
		"LAMBDA_RUNTIME_DIR=" + in.iv.d.RuntimeDir,
		"AWS_LAMBDA_FUNCTION_NAME=" + cfg.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=" + cfg.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(cfg.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME=" + function.LogGroup(cfg.FunctionName),
		"AWS_LAMBDA_LOG_STREAM_NAME=" + in.stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE=" + in.initType(),
		"AWS_REGION=" + reg,
		"AWS_DEFAULT_REGION=" + reg,
	})
	if family != function.Provided {
		vars["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + cfg.Runtime
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

func (in *instance) initType() string {
	if in.provisioned {
		return "provisioned-concurrency"
	}
	return "on-demand"
}

// observeStart fills o with what the instance brings to the invocation
// about to run on it: whether it is a cold start, and its phases.
func (in *instance) observeStart(o *Observation, p *pool) {
	o.Provisioned = in.provisioned
	o.Spillover = !in.provisioned && p.provWanted.Load() > 0
	o.MaxMemoryUsedMB = int(in.maxMemMB.Load())
	if in.fresh {
		o.Cold = true
		o.SetupStart, o.SandboxStart, o.SandboxReady, o.InitDone = in.tSetup, in.tSandbox, in.tRuntime, in.tReady
		o.InitDuration = in.initDur
	}
}

// invoke runs one invocation on a busy instance, filling o (when not
// nil) with its request id and duration. delivered is false when the
// runtime never took the event (the instance is then dead, and the event
// may run elsewhere).
func (in *instance) invoke(req *Request, o *Observation, answer func(*Response)) (resp *Response, delivered bool) {
	iv := in.iv
	reqID := req.requestID()
	start := iv.d.Now()
	timeout := time.Duration(in.cfg.Timeout) * time.Second
	deadline := start.Add(timeout)
	inv := &runtimeapi.Invocation{
		RequestID:     reqID,
		Payload:       req.Payload,
		Deadline:      deadline,
		FunctionARN:   req.InvokedARN,
		TraceID:       traceID(req.TraceID, start, reqID),
		ClientContext: req.ClientContext,
		Stream:        req.Stream,
		Expire:        true,
	}
	var end time.Time // set by Answered
	if answer != nil && !req.Tail && req.Stream == nil {
		// The answer goes out from the goroutine that received it; the
		// ending is written after, by this one (finishLater).
		inv.Answered = func(res runtimeapi.Result) {
			end = iv.d.Now()
			resp = answeredResponse(res, in.cfg.Version, reqID)
			in.later = laterEnd{reqID: reqID, start: start, dur: end.Sub(start), set: true}
			answer(resp)
		}
	}
	res, err := in.rt.Invoke(context.Background(), inv, in.sb.Done())
	if in.later.set { // answered (err is nil)
		if o != nil {
			o.RequestID, o.Duration = reqID, in.later.dur
			o.Acquired, o.Ended = start, end
		}
		return resp, true
	}
	end = iv.d.Now()
	dur := end.Sub(start)
	if o != nil {
		o.RequestID, o.Duration = reqID, dur
		o.Acquired, o.Ended = start, end // the instance was ready for it as it was handed the event
	}
	if errors.Is(err, runtimeapi.ErrNotDelivered) {
		in.dead = true
		return nil, false
	}

	resp = &Response{Payload: res.Payload, Version: in.cfg.Version, RequestID: reqID, Streamed: res.Streamed}
	var extra []string
	switch {
	case err == nil:
		if res.Error {
			resp.FunctionError = "Unhandled"
		}
	case errors.Is(err, context.DeadlineExceeded):
		in.dead = true
		in.sb.Stop(context.Background(), 0)
		secs := strconv.FormatFloat(timeout.Seconds(), 'f', 2, 64)
		resp.FunctionError = "Unhandled"
		resp.Failure = &Failure{FailTimeout, "RequestId: " + reqID + " Error: Task timed out after " + secs + " seconds"}
		resp.Payload = resp.Failure.Payload()
		extra = append(extra, iv.d.Now().UTC().Format("2006-01-02T15:04:05.000Z")+" "+reqID+" Task timed out after "+secs+" seconds")
	default: // the process exited, or the server is closing
		in.dead = true
		in.sb.Stop(context.Background(), 0)
		st, _ := in.sb.Wait(context.Background())
		kind := FailExit
		if st.OOMKilled {
			kind = FailOutOfMemory
		}
		resp.FunctionError = "Unhandled"
		resp.Failure = &Failure{kind, "RequestId: " + reqID + " Error: Runtime exited with error: " + st.String()}
		resp.Payload = resp.Failure.Payload()
		extra = append(extra, resp.Failure.Message+"\n"+kind.ErrorType())
	}
	if resp.Payload == nil {
		resp.Payload = nullPayload
	}
	resp.LogTail = in.finish(reqID, start, dur, extra, req.Tail)
	return resp, true
}

// answeredResponse is the Response of an invocation the runtime
// answered with res.
func answeredResponse(res runtimeapi.Result, version, reqID string) *Response {
	resp := &Response{Payload: res.Payload, Version: version, RequestID: reqID}
	if res.Error {
		resp.FunctionError = "Unhandled"
	}
	if resp.Payload == nil {
		resp.Payload = nullPayload
	}
	return resp
}

// laterEnd is an invocation whose ending (metering, END and REPORT) is
// left to finishLater, so that its answer goes out first.
type laterEnd struct {
	reqID string
	start time.Time
	dur   time.Duration
	set   bool
}

// finishLater closes the invocation whose ending invoke left, if any.
func (in *instance) finishLater() {
	if e := in.later; e.set {
		in.later = laterEnd{}
		in.finish(e.reqID, e.start, e.dur, nil, false)
	}
}

var nullPayload = []byte("null")

// finish meters the invocation and closes its log batch; with wantTail it
// waits for the batch and returns its last 4 KB.
func (in *instance) finish(reqID string, start time.Time, dur time.Duration, extra []string, wantTail bool) []byte {
	billed := dur
	if in.fresh {
		billed += in.initDur
	}
	billedMs := int64(math.Ceil(float64(billed) / float64(time.Millisecond)))
	if in.iv.d.Meter != nil {
		in.iv.d.Meter.Record(in.cfg.FunctionName, billedMs, in.cfg.MemorySize)
	}
	e := &ending{reqID: reqID, start: start, dur: dur, billedMs: billedMs, extra: extra}
	if in.fresh {
		e.initDur = in.initDur
		if e.initDur == 0 { // init failed: its time is the whole attempt
			e.initDur = dur
		}
		in.fresh = false
	}
	if wantTail {
		e.tail = make(chan []byte, 1)
	}
	in.out.end(e)
	if !wantTail {
		return nil
	}
	select {
	case t := <-e.tail:
		return t
	case <-time.After(2 * time.Second):
		return nil
	}
}

// shutdown stops the process, the Runtime API and the log pipe, and removes
// the instance's scratch directory.
func (in *instance) shutdown(grace time.Duration) {
	in.stopOnce.Do(func() {
		if f, ok := in.sb.(sandbox.Freezer); ok {
			f.Thaw() // frozen processes cannot act on signals
		}
		if in.sb != nil {
			ctx, cancel := context.WithTimeout(context.Background(), grace+5*time.Second)
			if err := in.sb.Stop(ctx, grace); err != nil {
				in.iv.log.Warn("instance did not stop", "instance_id", in.id, "err", err)
			}
			cancel()
		}
		in.rt.Close()
		<-in.served
		if in.exposed != nil {
			in.exposed.Close()
		}
		in.out.close()
		os.RemoveAll(in.dir)
		in.iv.untrack(in)
	})
}

// traceID returns the X-Amzn-Trace-Id the function sees for invocation
// reqID of a request that carried h: h's root and decision, with the
// function segment as parent (traceid.ForFunction); without h, an
// unsampled one built from the request id.
func traceID(header string, t time.Time, reqID string) string {
	if header != "" {
		return traceid.ForFunction(header, reqID)
	}
	var ts [4]byte
	u := uint32(t.Unix())
	ts[0], ts[1], ts[2], ts[3] = byte(u>>24), byte(u>>16), byte(u>>8), byte(u)
	h := strings.ReplaceAll(reqID, "-", "")
	return "Root=1-" + hex.EncodeToString(ts[:]) + "-" + h[:24] + ";Parent=" + h[16:32] + ";Sampled=0"
}
