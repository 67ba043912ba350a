// Package alofttest runs a real `aloft server` process for integration
// tests: it builds the binary once per test process, starts it on a free
// loopback port with a temporary data dir and fixed root keys, and hands out
// AWS SDK clients pointed at it. It also builds test functions and zips.
//
// The suites built on Start also run against a cluster: with
// ALOFT_E2E_CLUSTER=3 in the environment, every Start starts three nodes
// of a fresh cluster and hands the test node 1 (ClusterEnv); a test about
// one server's own process or data dir opts out with Alone.
package alofttest

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/aloft-dev/aloft/internal/client"
)

// Root keys every test server uses.
const (
	AccessKeyID     = "AKIAALOFTTEST0000001"
	SecretAccessKey = "aloft-test-secret-key-0000000000000000000"
	Region          = "us-east-1"
)

// ModuleRoot returns the directory of the aloft module.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

// Cleanup removes what Binary built; a TestMain calls it once the tests
// have run.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// Binary builds cmd/aloft once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "aloft-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "aloft")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/aloft")
		cmd.Dir = ModuleRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build aloft: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Server is a running aloft server process.
type Server struct {
	t    testing.TB
	Dir  string   // data dir
	Args []string // extra flags
	// User, when set, is who the server runs as (StartAs).
	User *syscall.Credential
	bin  string // the binary, when not Binary's
	URL  string // http://127.0.0.1:port
	// Cluster is the cluster Start started for ClusterEnv, on its node 1.
	Cluster *Cluster
	// ObjectStore is the server Start started as the cluster's external
	// object store for ObjectsEnv; nil when this server keeps its objects
	// itself.
	ObjectStore *Server
	// GatewayURL is the HTTP gateway's base URL (http://127.0.0.1:port).
	GatewayURL string
	cmd        *exec.Cmd
	exited     chan struct{}
	logMu      sync.Mutex
	log        bytes.Buffer // the server's stderr
	logPipe    *os.File     // its read end, while the server runs
	logRead    atomic.Int64 // bytes read from the pipe
	logKept    atomic.Int64 // bytes of those in log
	waitErr    error
}

// Start starts a server with a fresh data dir and the given extra flags,
// and stops it when the test ends. When ClusterEnv asks for a cluster, the
// server is node 1 of a fresh one (see ClusterEnv).
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	if n := startNodes(t, args); n > 1 {
		return startClustered(t, n, args)
	}
	return launch(t, &Server{t: t, Dir: t.TempDir(), Args: args})
}

// launch starts s and stops it when the test ends, showing its log if
// the test failed.
func launch(t testing.TB, s *Server) *Server {
	t.Helper()
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.Stop()
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.Log())
		}
	})
	return s
}

// StartAs starts a server as another user (uid and gid), with a fresh
// data dir and a copy of the binary that user may read, and stops it when
// the test ends. The test must run as root.
func StartAs(t testing.TB, uid, gid int, args ...string) *Server {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("starting a server as another user needs root: run the suite as root, as CI does")
	}
	base, err := os.MkdirTemp("", "aloft-as-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	bin, data := filepath.Join(base, "aloft"), filepath.Join(base, "data")
	b, err := os.ReadFile(Binary(t))
	if err == nil {
		err = os.WriteFile(bin, b, 0o755)
	}
	if err == nil {
		err = os.Chmod(base, 0o755)
	}
	if err == nil {
		err = os.Mkdir(data, 0o700)
	}
	if err == nil {
		err = os.Chown(data, uid, gid)
	}
	if err != nil {
		t.Fatal(err)
	}
	return launch(t, &Server{t: t, Dir: data, Args: args, bin: bin, User: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}})
}

func (s *Server) start() {
	t := s.t
	t.Helper()
	args := append([]string{"server", "--data-dir", s.Dir, "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0"}, s.Args...)
	bin := s.bin
	if bin == "" {
		bin = Binary(t)
	}
	cmd := exec.Command(bin, args...)
	// The server records itself for the CLI in the user's configuration
	// directory: a test's server, in the test's own.
	// An external object store is another test server, with the same
	// keys (--objects-endpoint; see ObjectsEnv).
	cmd.Env = append(os.Environ(), "ALOFT_ACCESS_KEY_ID="+AccessKeyID, "ALOFT_SECRET_ACCESS_KEY="+SecretAccessKey,
		"ALOFT_OBJECTS_ACCESS_KEY_ID="+AccessKeyID, "ALOFT_OBJECTS_SECRET_ACCESS_KEY="+SecretAccessKey,
		"XDG_CONFIG_HOME="+filepath.Join(s.Dir, "config"))
	if s.User != nil {
		cmd.Dir = s.Dir
		cmd.Env = append(cmd.Env, "HOME="+s.Dir)
	}
	// The server dies with the test process, even one killed with
	// SIGKILL, rather than outliving it (see serverProcAttr).
	cmd.SysProcAttr = serverProcAttr(s.User)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.logPipe, _ = stderr.(*os.File)
	s.logRead.Store(0)
	s.logKept.Store(0)
	s.exited = make(chan struct{})
	type addrs struct{ api, gateway string }
	ready := make(chan addrs, 1)
	started := make(chan error, 1)
	go func() {
		// Linux sends the parent-death signal when the thread that
		// started the child ends, not the process: so the server is
		// started on a thread this goroutine holds until the server has
		// exited. The runtime ends a thread only when the goroutine
		// locked to it exits locked, and any goroutine may lock the
		// thread it runs on (the netns kit's dialer does, and ends its
		// thread if it cannot leave a namespace): a server started on
		// an unlocked thread could be killed mid-test by another
		// goroutine's exit. One thread per running server is cheap.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		sc := bufio.NewScanner(countingReader{stderr, &s.logRead})
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logMu.Lock()
			s.log.WriteString(line + "\n")
			s.logMu.Unlock()
			s.logKept.Add(int64(len(line)) + 1)
			var rec struct {
				Msg     string `json:"msg"`
				Listen  string `json:"listen"`
				Gateway string `json:"gateway"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "aloft server ready" {
				select {
				case ready <- addrs{rec.Listen, rec.Gateway}:
				default:
				}
			}
		}
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	select {
	case a := <-ready:
		s.URL, s.GatewayURL = "http://"+a.api, "http://"+a.gateway
	case <-s.exited:
		t.Fatalf("aloft server exited before it was ready: %v\n%s", s.waitErr, s.Log())
	case <-time.After(60 * time.Second):
		t.Fatalf("aloft server not ready after 60s\n%s", s.Log())
	}
}

// PID returns the server process's id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Alive reports whether the server process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Log returns what the server has written to stderr, up to now: a line
// the server wrote before it answered a request is in it once the answer
// has come (Log first waits, up to a second, for what is still in the
// pipe from the server to be read).
func (s *Server) Log() string {
	for deadline := time.Now().Add(time.Second); !s.logSettled() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		// SIGQUIT makes the server write where its goroutines are to
		// its log, which the test shows when it fails.
		s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
		s.t.Errorf("server did not stop within 60s after SIGTERM")
	}
	if s.waitErr != nil {
		s.t.Errorf("server exit after SIGTERM: %v", s.waitErr)
	}
	s.cmd = nil
}

// ObjectsDir is the data dir under which this server's buckets and
// objects are kept: its own, or its external object store's.
func (s *Server) ObjectsDir() string {
	if s.ObjectStore != nil {
		return s.ObjectStore.Dir
	}
	return s.Dir
}

// Kill ends the server with SIGKILL.
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same data dir (after Stop or Kill).
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.Stop()
	}
	s.start()
}

// Env returns the environment a CLI run against this server needs.
func (s *Server) Env() []string {
	return append(os.Environ(), "ALOFT_ENDPOINT="+s.URL, "ALOFT_ACCESS_KEY_ID="+AccessKeyID, "ALOFT_SECRET_ACCESS_KEY="+SecretAccessKey)
}

// transport is the tests' clients' connection pool: enough idle
// connections kept for the benchmarks' 16 clients at once (the default
// keeps two, so the others would connect anew for every request).
var transport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}()

// Config returns an AWS SDK configuration for this server.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:  &http.Client{Timeout: 5 * time.Minute, Transport: client.SequentialBodies(transport)},
	}
}

// Lambda returns a Lambda client for this server.
func (s *Server) Lambda() *lambda.Client {
	return lambda.NewFromConfig(s.Config(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// APIGateway returns an API Gateway v2 client for this server.
func (s *Server) APIGateway() *apigatewayv2.Client {
	return apigatewayv2.NewFromConfig(s.Config(), func(o *apigatewayv2.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// Logs returns a CloudWatch Logs client for this server.
func (s *Server) Logs() *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(s.Config(), func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// SQS returns an SQS client for this server.
func (s *Server) SQS() *sqs.Client {
	return sqs.NewFromConfig(s.Config(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// DynamoDB returns a DynamoDB client for this server.
func (s *Server) DynamoDB() *dynamodb.Client {
	return dynamodb.NewFromConfig(s.Config(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// DynamoDBStreams returns a DynamoDB Streams client for this server.
func (s *Server) DynamoDBStreams() *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(s.Config(), func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// SNS returns an SNS client for this server.
func (s *Server) SNS() *sns.Client {
	return sns.NewFromConfig(s.Config(), func(o *sns.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// Run runs the aloft CLI against this server and returns its stdout, stderr
// and exit code.
func (s *Server) Run(ctx context.Context, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	cmd := exec.CommandContext(ctx, Binary(s.t), args...)
	cmd.Env = s.Env()
	cmd.Dir = s.Dir
	cmd.Stdin = stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return o.String(), e.String(), code
}

// ZipFiles zips name→content pairs; names ending in "bootstrap" are
// executable.
func ZipFiles(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if filepath.Base(name) == "bootstrap" {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ZipDir zips the files of dir.
func ZipDir(t testing.TB, dir string) []byte {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ZipFiles(t, files)
}

var (
	goFnMu     sync.Mutex
	goFnCache  = map[string]string{} // package@version: executable
	goZipCache = map[string][]byte{} // package@version: zip
)

// GoFunction builds the Go function in pkgDir (relative to the module root)
// for the provided runtime, with -ldflags "-X main.version=VERSION", and
// returns its zip with the binary as bootstrap. Builds are cached per
// package and version.
func GoFunction(t testing.TB, pkgDir, version string) []byte {
	t.Helper()
	key := pkgDir + "@" + version
	goFnMu.Lock()
	z, ok := goZipCache[key]
	goFnMu.Unlock()
	if ok {
		return z
	}
	bin, err := os.ReadFile(GoBinary(t, pkgDir, version))
	if err != nil {
		t.Fatal(err)
	}
	z = ZipFiles(t, map[string]string{"bootstrap": string(bin)})
	goFnMu.Lock()
	goZipCache[key] = z
	goFnMu.Unlock()
	return z
}

// GoBinary builds the Go command in pkgDir (relative to the module root)
// as GoFunction does and returns the executable's path, which lives as
// long as the test. Builds are cached per package and version.
func GoBinary(t testing.TB, pkgDir, version string) string {
	t.Helper()
	goFnMu.Lock()
	defer goFnMu.Unlock()
	key := pkgDir + "@" + version
	if p, ok := goFnCache[key]; ok {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-ldflags", "-s -w -X main.version="+version, "-o", out, "./"+pkgDir)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkgDir, err, b)
	}
	goFnCache[key] = out
	return out
}

// Backbone starts a NATS server with JetStream in the test's process, on
// a free loopback port, for servers started with --nats-url to share (a
// cluster of nodes); it stops when the test ends.
func Backbone(t testing.TB) string {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("the backbone did not start")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
