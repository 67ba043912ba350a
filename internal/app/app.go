// Package app wires Aloft's components into one server and owns the order
// in which they start and stop. Start order: data dir and keys, listeners
// bound, backbone, runtimes, registry, gateway catalog, logs, meter,
// invoker, async queue, scheduler, API listener served, gateway listener
// served. Stop order: the gateway listener, then the API listener, stop
// accepting and drain in-flight requests (and so in-flight invocations),
// then the scheduler and the queue's workers stop, then instances stop,
// then logs and usage are flushed, then the backbone closes.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/client"
	"github.com/aloft-dev/aloft/internal/cloudwatchapi"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/edge/expect"
	"github.com/aloft-dev/aloft/internal/edge/fastpath"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/invoker"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/layers"
	dutylease "github.com/aloft-dev/aloft/internal/lease"
	"github.com/aloft-dev/aloft/internal/logs"
	"github.com/aloft-dev/aloft/internal/mappings"
	"github.com/aloft-dev/aloft/internal/meter"
	"github.com/aloft-dev/aloft/internal/metrics"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/placement"
	"github.com/aloft-dev/aloft/internal/queues"
	"github.com/aloft-dev/aloft/internal/registry"
	"github.com/aloft-dev/aloft/internal/runtimeapi"
	"github.com/aloft-dev/aloft/internal/runtimes"
	"github.com/aloft-dev/aloft/internal/s3api"
	"github.com/aloft-dev/aloft/internal/sandbox"
	"github.com/aloft-dev/aloft/internal/sandbox/egress"
	"github.com/aloft-dev/aloft/internal/sandbox/linux"
	"github.com/aloft-dev/aloft/internal/sandbox/process"
	"github.com/aloft-dev/aloft/internal/scheduler"
	"github.com/aloft-dev/aloft/internal/sigv4"
	"github.com/aloft-dev/aloft/internal/snsapi"
	"github.com/aloft-dev/aloft/internal/store"
	"github.com/aloft-dev/aloft/internal/tables"
	"github.com/aloft-dev/aloft/internal/topics"
)

// Run starts the server, serves until ctx ends, then shuts down in order.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	s, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// Server is a started Aloft server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	keys     Keys
	st       *store.Store
	reg      *registry.Registry
	layers   *layers.Store // Lambda layer versions (layers.go)
	iam      *iam.Store
	logStore *logs.Store
	queues   *queues.Service // SQS's queues
	topics   *topics.Service // SNS's topics
	sns      *snsapi.Server
	mappings *mappings.Service // event source mappings
	tables   *tables.Service   // DynamoDB's tables
	meter    *meter.Meter
	inv      *invoker.Invoker
	// invoking is what the APIs, the gateway and the event sources
	// invoke through, and placer where a cluster runs them (placement.go).
	invoking lambdaapi.Invoker
	placer   *placement.Placer
	queue    *async.Queue
	sched    *scheduler.Scheduler
	leases   *dutylease.Leases // this node's leases of once-per-cluster duties (lease.go)
	http     *http.Server
	fast     *fastpath.Server // reads the listener's connections first
	ln       net.Listener
	served   chan error
	debug    func() // stops the debug profiler
	driver   sandbox.Driver
	sandbox  sandboxInfo
	// inner serves the APIs inside instances' private network namespaces
	// (see expose); api is the handler both servers use, once built.
	inner    *http.Server
	api      atomic.Pointer[http.Handler]
	endpoint string         // AWS_ENDPOINT_URL for functions
	objects  objstore.Store // buckets and objects: disk, or an external store (--objects-endpoint)
	disk     *objstore.Disk // the objects under <data dir>/objects; nil with an external store
	// bucketDocs are an external store's bucket configurations (nil without one).
	bucketDocs *bucketDocs
	s3         *s3api.Handler // the S3 API over objects
	gw         gatewayParts
	tr         tracing    // traces (traces.go)
	tel        *telemetry // metrics (telemetry.go)
	// observers are handed every invocation's Observation after the
	// metrics; append to it before the invoker is built.
	observers []func(*invoker.Observation)
	metrics   *metrics.Store        // CloudWatch metrics (metrics.go)
	cw        *cloudwatchapi.Server // their API
	sweeper   *objstore.Sweeper     // aborts abandoned multipart uploads (s3uploads.go)
	lifecycle *objstore.Sweeper     // applies buckets' lifecycle rules (lifecycle.go)
}

// Start brings every component up and starts serving. On failure it stops
// what it had started.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, debug: func() {}}
	s.inner = &http.Server{ReadHeaderTimeout: 30 * time.Second, ReadTimeout: 10 * time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h := s.api.Load(); h != nil {
				expect.RestoreHeader(r)
				(*h).ServeHTTP(w, r)
				return
			}
			http.Error(w, "starting", http.StatusServiceUnavailable)
		})}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Shutdown(sctx)
		}
	}()
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("app: data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data dir: %w", err)
	}
	if s.keys, err = loadKeys(dir, log); err != nil {
		return nil, err
	}
	s.debug = startDebug(log, s.keys)
	// Bind first, serve last: instances started while the server comes up
	// (queued events) already know the address of the APIs.
	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("app: listen on %s: %w", cfg.Listen, err)
	}
	if err := s.listenGateway(cfg.GatewayListen); err != nil {
		return nil, err
	}
	if s.st, err = store.Open(ctx, store.Options{Dir: dir, URL: cfg.NATSURL, SyncInterval: cfg.SyncInterval,
		Cluster: cfg.clusterOptions(), Logger: log.With("component", "store")}); err != nil {
		return nil, err
	}
	js := s.st.JetStream()

	sdkNode, sdkPython := sdkDirs(cfg.SDKDir, log)
	host := runtimes.Detect(ctx, runtimes.Options{Python: cfg.Python, Node: cfg.Node, NodeModules: sdkNode, PythonPath: sdkPython})
	runtimeDir := filepath.Join(dir, "runtimes")
	if err := runtimes.Install(runtimeDir); err != nil {
		return nil, fmt.Errorf("app: install bootstraps: %w", err)
	}
	if len(host.Pythons) == 0 {
		log.Warn("runtime unavailable", "family", "python", "reason", host.Check("python3.12").Error())
	}
	if len(host.Nodes) == 0 {
		log.Warn("runtime unavailable", "family", "nodejs", "reason", host.Check("nodejs20.x").Error())
	}
	log.Info("runtimes", "python", host.Pythons, "nodejs", host.Nodes)

	if s.reg, err = registry.Open(ctx, js, filepath.Join(dir, "code"), log.With("component", "registry")); err != nil {
		return nil, err
	}
	if err := s.openLayers(ctx, js, dir, log.With("component", "layers")); err != nil {
		return nil, err
	}
	if err := s.openGateway(ctx, js, log.With("component", "gateway")); err != nil {
		return nil, err
	}
	if s.iam, err = iam.Open(ctx, js, log.With("component", "iam")); err != nil {
		return nil, err
	}
	if err := s.iam.EnsureDefaultRole(ctx); err != nil {
		return nil, err
	}
	if err := s.upgradeRoles(ctx, log); err != nil {
		return nil, err
	}
	if err := s.reg.SweepCode(); err != nil {
		log.Warn("could not remove unused code", "err", err)
	}
	// Logs are written asynchronously to the disk of a backbone embedded
	// alone (see logs.Options.AsyncPersist); on a cluster the stream is
	// replicated, which that mode does not allow, and every node follows
	// it to answer for the logs the others wrote.
	alone := cfg.NATSURL == "" && cfg.ClusterListen == ""
	if s.logStore, err = logs.Open(ctx, js, logs.Options{Logger: log.With("component", "logs"), AsyncPersist: alone, Follow: !alone}); err != nil {
		return nil, fmt.Errorf("app: logs: %w", err)
	}
	if s.queues, err = queues.Open(ctx, js, s.st.Conn(), log.With("component", "queues")); err != nil {
		return nil, err
	}
	if s.tables, err = tables.Open(ctx, js, s.st.Conn(), log.With("component", "tables")); err != nil {
		return nil, err
	}
	if err := s.openLeases(ctx, js, log); err != nil {
		return nil, err
	}
	s.tables.Share(s.leases)
	if s.meter, err = meter.Open(ctx, js, s.nodeName(), 0, log.With("component", "meter")); err != nil {
		return nil, err
	}
	if err := s.openTraces(ctx, js, log); err != nil {
		return nil, err
	}

	driver, info, err := chooseDriver(cfg, host, runtimeDir, s.innerAddr(), log)
	if err != nil {
		return nil, err
	}
	s.sandbox = info
	s.driver = driver
	// Where functions find Aloft's APIs: inside their own network
	// namespace when they have one, otherwise on the API listener.
	s.endpoint = "http://" + s.ln.Addr().String()
	if n, ok := driver.(sandbox.Networker); ok && n.PrivateNetworks() {
		s.endpoint = "http://" + s.innerAddr()
	}
	s.startTelemetry(js)
	if err := s.openMetrics(ctx, js, log); err != nil {
		return nil, err
	}
	workDir := filepath.Join(dir, "instances")
	os.RemoveAll(workDir) // scratch space of instances from an earlier run
	s.inv, err = invoker.New(invoker.Deps{
		Driver: driver,
		Command: func(runtime, codeDir string) ([]string, []string, error) {
			return host.Command(runtime, codeDir, runtimeDir)
		},
		CodeDir: func(ctx context.Context, key string) (string, error) {
			return s.reg.Unpacked(ctx, key)
		},
		Layers:           s.layersDir,
		Env:              s.functionEnv,
		Expose:           s.expose,
		RuntimeDir:       runtimeDir,
		WorkDir:          workDir,
		Logs:             s.withEMF(s.appendLogs),
		Meter:            s.meter,
		Logger:           log.With("component", "invoker"),
		KeepAlive:        cfg.KeepAlive,
		ConcurrencyLimit: cfg.ConcurrencyLimit,
		IdleMemoryMB:     idleMemory(cfg.IdleMemoryMB, log),
		Observe:          s.observer(),
	})
	if err != nil {
		return nil, err
	}
	s.inv.Start()
	if err := s.startPlacement(); err != nil {
		return nil, err
	}
	s.reg.OnChange(func(name string) {
		if rec, ok := s.reg.Get(name); ok {
			s.inv.RetireChanged(&rec.Config) // versions keep theirs
		} else {
			s.inv.Retire(name)
		}
		s.provision(name) // a new revision gets its provisioned instances too
	})
	for _, rec := range s.reg.List() {
		s.provision(rec.Config.FunctionName)
	}

	s.queue, err = async.Open(ctx, js, async.Deps{
		Invoke:    s.invokeEvent,
		Target:    s.eventTarget,
		Send:      s.sendToDestination,
		Logger:    log.With("component", "queue"),
		Workers:   cfg.AsyncWorkers,
		RetryBase: cfg.RetryBase,
		Observe:   s.asyncObserver(),
		Node:      s.nodeName(),
	})
	if err != nil {
		return nil, err
	}
	s.queue.Start()
	if s.sched, err = scheduler.Open(ctx, js, scheduler.Deps{Queue: s.queue, Logger: log.With("component", "scheduler"), Leases: s.leases}); err != nil {
		return nil, err
	}
	s.sched.Start()
	s.topics, err = topics.Open(ctx, js, topics.Deps{
		Queues:  s.queues,
		Invoke:  s.invokeFromTopic,
		BaseURL: "http://" + s.ln.Addr().String(),
		Log:     log.With("component", "topics"),
	})
	if err != nil {
		return nil, err
	}
	s.topics.Start()
	s.mappings, err = mappings.Open(ctx, js, mappings.Deps{Queues: s.queues, Tables: s.tables, Invoke: s.invokeForMapping, Reserved: s.reserved,
		Send: func(ctx context.Context, arn string, body []byte) error {
			return s.sendToDestination(ctx, arn, body, nil)
		},
		Log: log.With("component", "mappings"), IteratorAge: s.iteratorAge(), Leases: s.leases})
	if err != nil {
		return nil, err
	}
	s.mappings.Start()
	s.startMetrics()
	s.telemetryRunning()

	verifier := &sigv4.Verifier{Lookup: s.lookup}
	if err := s.startObjects(ctx, js, dir, verifier, log); err != nil {
		return nil, err
	}
	if err := s.startUploadSweeper(ctx, js, log); err != nil {
		return nil, err
	}
	if err := s.startLifecycle(ctx, js, log); err != nil {
		return nil, err
	}
	code := &lambdaapi.CodeLinks{Key: []byte(s.keys.derive("code links")), Zip: s.anyCodeZip, Logger: log.With("component", "api")}
	// Large request bodies wait here, unlinked, while their signatures are
	// checked: on the data dir's disk rather than in memory.
	spool := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	lambda := lambdaapi.New(lambdaapi.Deps{
		Registry:          s.reg,
		Invoker:           s.invoking,
		Usage:             s.meter.Report,
		Queue:             s.queue,
		CheckRuntime:      host.Check,
		CheckRole:         s.iam.CheckExecutionRole,
		Runtimes:          host.Runtimes,
		CodeURL:           func(_, codeHex string) string { return code.URL("http://"+s.ln.Addr().String(), codeHex) },
		ConcurrencyLimit:  cfg.ConcurrencyLimit,
		URLs:              s.gw.cat,
		FunctionURL:       s.functionURL,
		Mappings:          s.mappings,
		CheckSourceAccess: s.checkSourceAccess,
		Logger:            log.With("component", "api"),
		Sampler:           &s.tr.sampler,
		Layers:            s.layers,
		S3Code:            s.lambdaS3Code,
		CodeUnzipped:      s.codeUnzipped,
	})
	metricsPage, err := s.metricsHandler(dir)
	if err != nil {
		return nil, err
	}
	services := s.services(lambda, log)
	s.clusterRoutes(services)
	health := map[string]string{"sandbox": s.sandbox.Driver, "isolation": s.sandbox.Isolation}
	handler := edge.New(edge.Config{
		Services: services,
		Default:  serviceNamed(services, "lambda"),
		Fallback: serviceNamed(services, "s3"),
		Verifier: verifier,
		SpoolDir: spool,
		Health:   health,
		Public:   s.publicLinks(code),
		Resolve:  s.resolve,
		Metrics:  metricsPage,
	})
	var h http.Handler = handler
	s.api.Store(&h)
	s.http = &http.Server{Handler: expect.Restore(s.websiteHosts(s.clusterHealth(handler, health))), ReadHeaderTimeout: 30 * time.Second, ReadTimeout: 10 * time.Minute}
	// Invocations are read and answered by the fast path, with the same
	// handler; every other request, and its connection from then on,
	// by net/http.
	s.fast = &fastpath.Server{Handler: s.http.Handler, Takes: lambdaapi.IsInvoke,
		ReadHeaderTimeout: s.http.ReadHeaderTimeout, ReadTimeout: s.http.ReadTimeout, IdleTimeout: s.http.ReadTimeout,
		Log: log.With("component", "api")}
	s.served = make(chan error, 2)
	go func() { s.served <- s.http.Serve(expect.Listener(s.fast.Handoff())) }()
	go func() { s.served <- s.fast.Serve(s.ln) }()
	s.serveGateway(verifier, log.With("component", "gateway"))
	// Tell this user's CLI, in any directory, where the server and its
	// keys are.
	if abs, err := filepath.Abs(dir); err == nil {
		if err := client.WriteServerRecord(client.ServerRecord{Endpoint: "http://" + s.ln.Addr().String(), DataDir: abs}); err != nil {
			log.Warn("could not record the server for the CLI", "err", err)
		}
	}
	log.Info("aloft server ready", "listen", s.ln.Addr().String(), "gateway", s.gw.addr, "data_dir", dir, "sandbox", s.sandbox.Driver)
	return s, nil
}

// sandboxInfo is what /health and the start-up log say of the sandbox.
type sandboxInfo struct {
	Driver    string // "linux", "linux-rootless" or "process"
	Isolation string // what functions are kept from, and what they are not
}

// Isolation levels /health reports.
const (
	isolationFull     = "full: namespaces, cgroups, seccomp, an unprivileged user per instance, a private network"
	isolationRootless = "rootless: namespaces, seccomp and a read-only root without the data dir, as the server's own user; " +
		"NO cgroup limits (memory, CPU, processes), no freezing of idle instances, and no network beyond the instance's loopback and Aloft's API"
	isolationRootlessCgroups = "rootless: namespaces, cgroup limits (memory, CPU, processes), seccomp and a read-only root without the data dir, as the server's own user; " +
		"no network beyond the instance's loopback and Aloft's API"
	isolationNone = "NONE: function instances run as plain child processes of the server's user: they are NOT isolated from each other or from the host, " +
		"and can read the data dir"
)

// chooseDriver picks the sandbox driver and says loudly which one it is.
// "auto" takes the linux driver when it can run here: as root, with
// cgroups and a private network routed to the internet; in a user
// namespace (a server without root, see RunRootless), without a way out
// and with cgroups only where the server's cgroup is delegated to its
// user; and otherwise the process driver, with a warning.
func chooseDriver(cfg Config, host *runtimes.Host, runtimeDir, inner string, log *slog.Logger) (sandbox.Driver, sandboxInfo, error) {
	unisolated := sandboxInfo{"process", isolationNone}
	switch cfg.Sandbox {
	case "process":
		log.Warn("sandbox driver: process (chosen with --sandbox=process); isolation " + isolationNone)
		return &process.Driver{}, unisolated, nil
	case "", "auto", "linux":
	default:
		return nil, sandboxInfo{}, fmt.Errorf("app: unknown --sandbox %q: want auto, linux or process", cfg.Sandbox)
	}
	ro := linux.DefaultReadOnly()
	for _, exe := range host.Interpreters() {
		ro = append(ro, linux.InterpreterPrefixes(exe)...)
	}
	for _, dir := range []string{host.NodeModules, host.PythonPath} {
		if dir != "" {
			ro = append(ro, dir)
		}
	}
	// One cgroup parent per data dir: servers on other data dirs keep
	// theirs, a restart sweeps what the previous run left, and a clean
	// stop removes it, even after a run that was killed. The data dir
	// also picks one of 256 ranges of instance identities, so that
	// servers on one host seldom hand out the same ones.
	dataDir := filepath.Dir(runtimeDir)
	sum := sha256.Sum256([]byte(dataDir))
	o := linux.Options{ReadOnly: ro, Hidden: []string{dataDir}, RuntimeDir: runtimeDir, Logger: log.With("component", "sandbox"),
		CgroupParent: "aloft/" + hex.EncodeToString(sum[:6]), OwnParent: true,
		FirstUID: linux.DefaultFirstUID + int(sum[6])*linux.DefaultUIDCount,
		Listen:   []string{runtimeapi.Address, inner}}
	rootless := linux.InUserNamespace()
	if rootless {
		// /run is the host root's; the data dir is the server's.
		o.RootDir = filepath.Join(dataDir, "sandbox-root")
	}
	// Lambda's network: out to the internet, nowhere near the host. Where
	// the host cannot route for the instances, they keep their loopback
	// (and the APIs served there) only.
	var egressErr error
	if os.Geteuid() == 0 && !rootless {
		var eg *egress.Host
		if eg, egressErr = egress.New(egress.Options{Allow: cfg.AllowNet, Logger: log.With("component", "egress")}); egressErr == nil {
			o.Egress = func(nsfd int) (io.Closer, error) {
				l, err := eg.Attach(nsfd)
				if err != nil {
					return nil, err // not a nil *Link in a non-nil interface
				}
				return l, nil
			}
		}
	}
	if rootless && len(cfg.AllowNet) > 0 {
		return nil, sandboxInfo{}, errors.New("app: --sandbox-allow-net needs the linux sandbox as root: without root functions have no network to allow")
	}
	d, err := linux.New(o)
	if err == nil {
		if rootless {
			isolation := isolationRootless
			if d.HasCgroups() {
				isolation = isolationRootlessCgroups
			}
			log.Warn("sandbox driver: linux, rootless (the server runs without root, as root of a user namespace of its own); isolation " + isolation)
			return d, sandboxInfo{"linux-rootless", isolation}, nil
		}
		if egressErr != nil {
			log.Warn("sandbox network: functions can reach NOTHING outside their instance (no internet) because the host cannot route for them: " + egressErr.Error())
		}
		log.Info("sandbox driver: linux (namespaces, cgroups, seccomp, unprivileged user, private network)")
		return d, sandboxInfo{"linux", isolationFull}, nil
	}
	if cfg.Sandbox == "linux" {
		return nil, sandboxInfo{}, fmt.Errorf("app: the linux sandbox cannot run here: %w", err)
	}
	if len(cfg.AllowNet) > 0 {
		return nil, sandboxInfo{}, fmt.Errorf("app: --sandbox-allow-net needs the linux sandbox, which cannot run here: %w", err)
	}
	log.Warn("sandbox driver: process, because the linux sandbox cannot run here (" + err.Error() + "); isolation " + isolationNone +
		"; pass --sandbox=process to choose this on purpose")
	return &process.Driver{}, unisolated, nil
}

// RunRootless runs the server again as root of a user namespace of its
// own, where the linux sandbox can isolate functions without the host's
// root, when that is what cfg asks for and can happen here: the sandbox
// is "auto" or "linux", the server is not root and not in such a
// namespace already, and the host lets users create them. It reports
// whether it ran the server, and the server's exit code. Otherwise the
// caller runs the server itself, which then picks its driver as
// chooseDriver says.
func RunRootless(ctx context.Context, cfg Config, log *slog.Logger) (code int, ran bool) {
	if cfg.Sandbox == "process" || os.Geteuid() == 0 || linux.InUserNamespace() {
		return 0, false
	}
	code, err := linux.RunInUserNamespace(ctx)
	if err != nil {
		log.Warn("the rootless sandbox cannot run here: this user may not create user namespaces", "err", err)
		return 0, false
	}
	return code, true
}

// idleMemory returns the idle-instance memory budget in MB: mb, or the
// invoker's default for this machine when mb is 0.
func idleMemory(mb int, log *slog.Logger) int {
	if mb > 0 {
		return mb
	}
	mb, err := invoker.DefaultIdleMemory()
	if err != nil {
		log.Warn("idle instances have no memory budget", "err", err)
		return 0
	}
	log.Info("idle instances memory budget", "mb", mb)
	return mb
}

// Addr returns the API listener's address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the server in the fixed order. ctx bounds the wait for
// in-flight requests; after it, stragglers are cut off, and stopping
// instances and flushing logs and usage get their own deadline so that
// nothing accepted is lost to a slow request. It is safe to call on a
// partly started server.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	s.debug()
	s.stopTelemetry()
	if err := s.gw.shutdownListener(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.http == nil && s.ln != nil {
		s.ln.Close() // bound but never served
	}
	if s.http != nil {
		if err := s.fast.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: drain requests: %w", err))
		}
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: drain requests: %w", err))
			s.http.Close()
		}
		for range 2 {
			if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		s.http = nil
	}
	fctx, cancel, lost := s.finalContext()
	defer cancel()
	s.stopLifecycle() // before the queue and topics its notifications go to
	if s.sched != nil {
		errs = append(errs, s.sched.Close(fctx))
		s.sched = nil
	}
	if s.mappings != nil {
		s.mappings.Close()
		s.mappings = nil
	}
	if s.topics != nil {
		s.topics.Close()
		s.topics = nil
	}
	if s.queue != nil {
		errs = append(errs, s.queue.Close(fctx))
		s.queue = nil
	}
	errs = append(errs, s.closePlacement(fctx))
	if s.inv != nil {
		errs = append(errs, s.inv.Close(fctx))
		s.inv = nil
	}
	errs = append(errs, s.closeMetrics(fctx))
	s.stopUploadSweeper()
	// The instances are gone: nothing is left to call the APIs from inside.
	s.inner.Close()
	if c, ok := s.driver.(interface{ Close() error }); ok {
		errs = append(errs, c.Close())
		s.driver = nil
	}
	errs = append(errs, s.closeTraces(fctx))
	if s.meter != nil {
		errs = append(errs, s.meter.Close(fctx))
		s.meter = nil
	}
	if s.tables != nil {
		s.tables.Close()
		s.tables = nil
	}
	s.closeLeases()
	if s.queues != nil {
		s.queues.Close()
		s.queues = nil
	}
	if s.logStore != nil {
		errs = append(errs, s.logStore.Close(fctx))
		s.logStore = nil
	}
	errs = append(errs, s.gw.close())
	if s.disk != nil {
		errs = append(errs, s.disk.Close())
		s.disk = nil
	}
	if s.bucketDocs != nil {
		s.bucketDocs.Stop()
		s.bucketDocs = nil
	}
	s.objects = nil
	if s.layers != nil {
		s.layers.Close()
	}
	if s.reg != nil {
		s.reg.Close()
		if s.iam != nil {
			s.iam.Close()
		}
		s.reg = nil
	}
	if s.st != nil {
		errs = append(errs, s.st.Close())
		s.st = nil
	}
	return s.shutdownErr(lost, errs)
}

// provision starts the provisioned instances of the named function, of
// each version (and $LATEST) that some setting keeps ready.
func (s *Server) provision(name string) { s.provisionOn(s.inv, name) }

// provisionOn is provision on inv, this node's share of the instances.
func (s *Server) provisionOn(inv *invoker.Invoker, name string) {
	rec, ok := s.reg.Get(name)
	if !ok {
		return
	}
	for version, n := range rec.ProvisionedByVersion() {
		t, err := rec.Describe(version)
		if err == nil {
			err = inv.Provision(invoke.For(t, s.reg.ReservedTotal(), nil), s.provisionShare(n))
		}
		if err != nil {
			s.log.Warn("could not provision instances", "function", name, "version", version, "err", err)
		}
	}
}

// innerAddr is where Aloft's APIs listen inside instances' private
// network namespaces: the loopback, at the API listener's port.
func (s *Server) innerAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port))
}

// expose serves Aloft's APIs inside an instance's private network
// namespace, at innerAddr; closing the result stops that.
func (s *Server) expose(nw sandbox.Network) (io.Closer, error) {
	ln, err := nw.Listen(s.innerAddr())
	if err != nil {
		return nil, err
	}
	// Serve returns when ln is closed; the server tracks ln and closes it
	// at Shutdown too.
	go s.inner.Serve(expect.Listener(ln))
	return ln, nil
}

// executionSession is how long the credentials of a function's
// instances last; the invoker replaces an instance before they expire.
const executionSession = 12 * time.Hour

// functionEnv gives a function's instances temporary credentials of its
// execution role and the address of Aloft's APIs, so an AWS SDK inside
// the function talks to this server with no configuration and may do
// exactly what the role allows.
func (s *Server) functionEnv(cfg *function.Config) ([]string, time.Time, error) {
	creds, err := s.iam.ExecutionCredentials(cfg.Role, cfg.FunctionName, executionSession)
	if err != nil {
		return nil, time.Time{}, function.Errorf(fault.Invalid, "InvalidParameterValueException",
			"The role defined for the function cannot be assumed by Lambda: %s", cfg.Role)
	}
	return []string{
		"AWS_ENDPOINT_URL=" + s.endpoint,
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + creds.SessionToken,
	}, creds.Expiration, nil
}

// upgradeRoles gives the default execution role to functions whose role
// does not exist (those created before roles were checked), logging each
// once. It runs once per deployment: later, a function whose role was
// deleted fails to start, as on AWS.
func (s *Server) upgradeRoles(ctx context.Context, log *slog.Logger) error {
	first, err := s.iam.Once(ctx, "execution-roles")
	if err != nil || !first {
		return err
	}
	for _, rec := range s.reg.List() {
		if s.iam.RoleExists(rec.Config.Role) {
			continue
		}
		old := rec.Config.Role
		_, err := s.reg.Amend(ctx, rec.Config.FunctionName, func(r *registry.Record) error {
			r.Config.Role = function.DefaultRole
			return nil
		})
		if err != nil {
			return fmt.Errorf("app: give %s the default role: %w", rec.Config.FunctionName, err)
		}
		log.Warn("a function's execution role does not exist; it now runs with the default role",
			"function", rec.Config.FunctionName, "role", old, "default", function.DefaultRole)
	}
	return nil
}

// invokeEvent runs an asynchronous event on the function at its
// qualifier as it is now ($LATEST's current configuration, a version, or
// what an alias routes to).
func (s *Server) invokeEvent(ctx context.Context, ev *async.Event) (*async.Result, error) {
	rec, ok := s.reg.Get(ev.Function)
	if !ok {
		return nil, async.ErrGone
	}
	t, err := rec.Resolve(ev.Qualifier)
	if err != nil {
		return nil, async.ErrGone
	}
	resp, err := s.invokeHop(ctx, invoke.For(t, s.reg.ReservedTotal(), ev.Payload), ev.TraceID, hopEventQueue, time.UnixMilli(ev.Enqueued))
	if err != nil {
		return nil, err
	}
	return &async.Result{Payload: resp.Payload, FunctionError: resp.FunctionError, Version: resp.Version, RequestID: resp.RequestID}, nil
}

// eventTarget tells the queue about a function: its ARN, event-invoke
// configuration, dead-letter target, and whether it is switched off.
// sendToDestination delivers an asynchronous invocation's destination
// record or dead letter to a queue or a topic, with attrs as message
// attributes (ErrorCode a number, the others strings).
func (s *Server) sendToDestination(ctx context.Context, arn string, body []byte, attrs map[string]string) error {
	if strings.HasPrefix(arn, "arn:aws:sns:") {
		name, err := topics.TopicName(arn)
		if err != nil {
			return err
		}
		m := &topics.Message{Message: string(body), Attributes: map[string]topics.Attribute{}}
		for k, v := range attrs {
			m.Attributes[k] = topics.Attribute{DataType: attributeType(k), StringValue: v}
		}
		_, err = s.topics.Publish(ctx, name, m)
		return err
	}
	m := &queues.Message{Body: string(body), Delay: -1, Sender: awsproto.AccountID, Attributes: map[string]queues.Attribute{}}
	for k, v := range attrs {
		m.Attributes[k] = queues.Attribute{DataType: attributeType(k), StringValue: v}
	}
	_, errs, err := s.queues.Send(ctx, arn[strings.LastIndexByte(arn, ':')+1:], []*queues.Message{m})
	if err != nil {
		return err
	}
	return errs[0]
}

// attributeType is the data type of a dead letter's attribute.
func attributeType(name string) string {
	if name == "ErrorCode" {
		return "Number"
	}
	return "String"
}

// invokeFromTopic hands an SNS event to the function with ARN arn, to be
// invoked asynchronously, as SNS invokes functions.
func (s *Server) invokeFromTopic(ctx context.Context, arn string, payload []byte) error {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[5] != "function" {
		return fmt.Errorf("app: %q is not a function ARN", arn)
	}
	ev := &async.Event{ID: ids.New(), Function: parts[6], Payload: payload}
	if len(parts) > 7 {
		ev.Qualifier = parts[7] // a version or alias
	}
	return s.queue.Enqueue(ctx, ev)
}

// invokeForMapping invokes function ref (name or name:qualifier)
// synchronously for an event source mapping.
func (s *Server) invokeForMapping(ctx context.Context, ref string, payload []byte) ([]byte, string, error) {
	name, qualifier, _ := strings.Cut(ref, ":")
	t, err := s.reg.Resolve(name, qualifier)
	if err != nil {
		return nil, "", fmt.Errorf("app: function %s: %w", ref, err)
	}
	resp, err := s.invokeHop(ctx, invoke.For(t, s.reg.ReservedTotal(), payload), batchTrace(payload), hopMapping, time.Time{})
	if err != nil {
		return nil, "", err
	}
	return resp.Payload, resp.FunctionError, nil
}

// reserved returns function name's reserved concurrency, if it has one.
func (s *Server) reserved(name string) (int, bool) {
	rec, ok := s.reg.Get(name)
	if !ok || rec.Reserved == nil {
		return 0, false
	}
	return *rec.Reserved, true
}

// checkSourceAccess says whether execution role roleARN may perform
// action on resource, as its sessions would be authorized.
func (s *Server) checkSourceAccess(roleARN, action, resource string) error {
	creds, err := s.iam.ExecutionCredentials(roleARN, "event-source-check", 15*time.Minute)
	if err != nil {
		return err
	}
	p, err := s.iam.Resolve(creds.AccessKeyID, creds.SessionToken)
	if err != nil {
		return err
	}
	return p.Authorize(action, resource)
}

// publicLinks are the unsigned paths the API listener serves: code
// downloads, and the links SNS messages carry.
func (s *Server) publicLinks(code http.Handler) map[string]http.Handler {
	out := map[string]http.Handler{lambdaapi.CodePath: code}
	maps.Copy(out, s.snsAPI().Links())
	maps.Copy(out, s.consoleLinks())
	return out
}

func (s *Server) eventTarget(ctx context.Context, name, qualifier string) (*async.Target, error) {
	rec, ok := s.reg.Get(name)
	if !ok {
		return nil, async.ErrGone
	}
	t, err := rec.Describe(qualifier)
	if err != nil {
		return nil, async.ErrGone // the version or alias is gone
	}
	cfg, err := s.reg.EventConfig(ctx, registry.EventKey(name, qualifier))
	if err != nil {
		return nil, err
	}
	tg := &async.Target{ARN: t.ARN, Config: cfg, Disabled: rec.Reserved != nil && *rec.Reserved == 0}
	if d := t.Config.DeadLetterConfig; d != nil {
		tg.DeadLetter = d.TargetArn
	}
	return tg, nil
}

// appendLogs hands an invocation's lines to the log store.
func (s *Server) appendLogs(group, stream string, lines []invoker.Line) {
	events := make([]logs.Event, len(lines))
	for i, l := range lines {
		events[i] = logs.Event{Timestamp: l.Time, Message: l.Text}
	}
	s.logStore.Append(group, stream, events)
}

// codeZip returns stored code for a code download link (lambdaapi.CodeLinks),
// ENOTFOUND when there is none.
func (s *Server) codeZip(ctx context.Context, codeHex string) ([]byte, error) {
	b, err := s.reg.Zip(ctx, codeHex)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, function.Errorf(fault.NotFound, "NoSuchKey", "no code %s", codeHex)
	}
	return b, err
}

// sdkDirs returns the node_modules directory and the Python directory of
// the AWS SDKs that scripts/install-sdks.sh installs (under dir, or its
// default), each "" when it is not installed, which it logs.
func sdkDirs(dir string, log *slog.Logger) (node, python string) {
	if dir == "" {
		dir = os.Getenv("ALOFT_SDK_DIR")
	}
	if dir == "" {
		data := os.Getenv("XDG_DATA_HOME")
		if data == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", ""
			}
			data = filepath.Join(home, ".local", "share")
		}
		dir = filepath.Join(data, "aloft", "sdk")
	}
	found := func(sub, what string) string {
		p := filepath.Join(dir, sub)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			log.Info("no AWS SDK for "+what+" functions to import unbundled; bash scripts/install-sdks.sh installs it", "dir", p)
			return ""
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return p
	}
	node = found(filepath.Join("node", "node_modules"), "Node.js")
	if found(filepath.Join("python", "boto3"), "Python") != "" {
		python, _ = filepath.Abs(filepath.Join(dir, "python"))
	}
	return node, python
}
