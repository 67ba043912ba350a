package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/benchtest"
)

// signedInvoker sends Invoke requests with a plain net/http client, signed
// with the SDK's signer, so the client side costs the same as the baseline's
// plain round trip plus a signature.
type signedInvoker struct {
	url    string
	client *http.Client
	signer *v4.Signer
	creds  aws.Credentials
	body   []byte
	hash   string
	async  bool // send Event invocations (202 expected)
}

func newSignedInvoker(srv *alofttest.Server, name string, body []byte) *signedInvoker {
	sum := sha256.Sum256(body)
	return &signedInvoker{
		url:    srv.URL + "/2015-03-31/functions/" + name + "/invocations",
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		signer: v4.NewSigner(),
		creds:  aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: alofttest.SecretAccessKey},
		body:   body,
		hash:   hex.EncodeToString(sum[:]),
	}
}

func (s *signedInvoker) invoke() error {
	req, _ := http.NewRequest("POST", s.url, bytes.NewReader(s.body))
	want := 200
	if s.async {
		req.Header.Set("X-Amz-Invocation-Type", "Event")
		want = 202
	}
	if err := s.signer.SignHTTP(context.Background(), s.creds, req, s.hash, "lambda", alofttest.Region, time.Now()); err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want || resp.Header.Get("X-Amz-Function-Error") != "" {
		return fmt.Errorf("invoke: status %d, function error %q: %.300s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), body)
	}
	return nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkWarmInvoke measures warm invocations of a no-op provided
// function end to end (client, SigV4, API, invoker, Runtime API, function)
// under each sandbox driver, against a plain HTTP round trip on loopback to
// the same server process (GET /health, no signature, no invocation),
// measured in the same run and alternated with the invocations so all see
// the same machine. The function runs at 128 MB (a fifth of a CPU under
// the linux driver's quota) and at 1,769 MB (a whole CPU), so that the
// platform's own tail can be told from the quota's. It also reports a
// round trip to a server inside the benchmark's own process, the cheapest
// loopback exchange there is, and the protocol's floor: the same function
// binary, unsandboxed (under the linux driver in the scheduling class the
// sandbox gives functions), behind rtrelay, a process that does nothing but
// relay each request to the function's Runtime API and back, against a GET
// /health round trip to that relay. The AWS Lambda Runtime Interface
// Emulator runs the same binary as a peer, its invocations alternating
// with the others, and last each server's CPU per warm invocation is
// measured, Aloft's at 1,769 MB against the emulator's.
func BenchmarkWarmInvoke(b *testing.B) {
	eachDriver(b, benchWarm)
}

// eachDriver runs bench as a sub-benchmark per sandbox driver, skipping the
// linux driver, with the reason, when not root.
func eachDriver(b *testing.B, bench func(b *testing.B, driver string)) {
	for _, driver := range []string{"process", "linux"} {
		b.Run(driver, func(b *testing.B) {
			if driver == "linux" && os.Geteuid() != 0 {
				b.Skip("the linux sandbox needs root: run as root, as CI does")
			}
			bench(b, driver)
		})
	}
}

func benchWarm(b *testing.B, driver string) {
	srv := alofttest.Start(b, "--sandbox", driver)
	goRC := runtimeCases()[0]
	code := alofttest.GoFunction(b, "e2e/functions/gofn", "v1")
	createB(b, srv.Lambda(), "bench-warm", goRC.runtime, goRC.handler, code)
	createB(b, srv.Lambda(), "bench-warm-cpu", goRC.runtime, goRC.handler, code)
	_, err := srv.Lambda().UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("bench-warm-cpu"), MemorySize: aws.Int32(1769)})
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"op":"noop"}`)
	inv := newSignedInvoker(srv, "bench-warm", payload)
	inproc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer inproc.Close()
	relay := startRelay(b, alofttest.GoBinary(b, "e2e/functions/gofn", "v1"), driver == "linux")
	peer := startRIE(b, alofttest.GoBinary(b, "e2e/functions/gofn", "v1"))
	rieSend := func() error { return peer.invoke(inv.client, payload) }
	invokeCPU := newSignedInvoker(srv, "bench-warm-cpu", payload).invoke
	get := func(url string) func() error {
		return func() error {
			resp, err := inv.client.Get(url)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		}
	}
	relayed := func() error {
		resp, err := inv.client.Post(relay+"/invoke", "application/json", bytes.NewReader(payload))
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "null" {
			return fmt.Errorf("relay: status %d: %.300s", resp.StatusCode, body)
		}
		return nil
	}
	// The paths, in the order each iteration takes them.
	paths := []struct {
		name string
		send func() error
		lat  []time.Duration
	}{
		{name: "loopback", send: get(srv.URL + "/health")},
		{name: "invoke", send: inv.invoke},
		{name: "invoke-1769", send: invokeCPU},
		{name: "rie", send: rieSend},
		{name: "inproc", send: get(inproc.URL)},
		{name: "relay-loopback", send: get(relay + "/health")},
		{name: "relay", send: relayed},
	}
	for range 200 { // warm every path
		for _, p := range paths {
			if err := p.send(); err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
		}
	}
	for i := range paths {
		paths[i].lat = make([]time.Duration, 0, b.N)
	}
	b.ResetTimer()
	for range b.N {
		for i := range paths {
			t0 := time.Now()
			if err := paths[i].send(); err != nil {
				b.Fatalf("%s: %v", paths[i].name, err)
			}
			paths[i].lat = append(paths[i].lat, time.Since(t0))
		}
	}
	b.StopTimer()
	p50, p99 := map[string]time.Duration{}, map[string]time.Duration{}
	for _, p := range paths {
		p50[p.name], p99[p.name] = percentile(p.lat, 0.50), percentile(p.lat, 0.99)
		b.ReportMetric(us(p50[p.name]), p.name+"-p50-µs")
		if p.name != "inproc" {
			b.ReportMetric(us(p99[p.name]), p.name+"-p99-µs")
		}
	}
	b.ReportMetric(float64(p50["invoke"])/float64(p50["loopback"]), "p50-ratio")
	for _, fn := range []string{"invoke", "invoke-1769"} {
		b.ReportMetric(us(p50[fn]-p50["loopback"]), fn+"-over-p50-µs")
		b.ReportMetric(us(p99[fn]-p99["loopback"]), fn+"-over-p99-µs")
	}
	b.ReportMetric(us(p50["relay"]-p50["relay-loopback"]), "floor-over-p50-µs")
	b.ReportMetric(us(p99["relay"]-p99["relay-loopback"]), "floor-over-p99-µs")
	// Against the emulator: the same function binary, a whole CPU each.
	b.ReportMetric(float64(p50["invoke-1769"])/float64(p50["rie"]), "rie-p50-ratio")
	b.ReportMetric(float64(p99["invoke-1769"])/float64(p99["rie"]), "rie-p99-ratio")
	b.ReportMetric(us(p50["invoke-1769"]-p50["relay"]), "over-relay-p50-µs")
	// The CPU each server process spends per warm invocation, less its
	// idle use: Aloft's (the function and its sandbox are other
	// processes) and the emulator's (its function is its child).
	cpu, _ := cpuPerOp(b, []int{srv.PID()}, b.N, 1, invokeCPU)
	rieCPU, _ := cpuPerOp(b, []int{peer.pid}, b.N, 1, rieSend)
	b.ReportMetric(us(cpu), "server-cpu-µs/op")
	b.ReportMetric(us(rieCPU), "rie-cpu-µs/op")
}

// startRelay starts rtrelay and the function executable fn as its runtime,
// outside any sandbox (scheduled as the linux sandbox's functions are, in
// the SCHED_BATCH class on one CPU, when batch is set), and returns the
// relay's URL. Both
// stop with the benchmark.
func startRelay(b *testing.B, fn string, batch bool) string {
	b.Helper()
	relay := exec.Command(alofttest.GoBinary(b, "e2e/rtrelay", "v1"))
	relay.Stderr = os.Stderr
	out, err := relay.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := relay.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { relay.Process.Kill(); relay.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("rtrelay's address: %v", err)
	}
	addr = strings.TrimSpace(addr)
	runtime, err := benchtest.StartFunction(fn, addr, "relay", 128, batch)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { runtime.Process.Kill(); runtime.Wait() })
	return "http://" + addr
}

// BenchmarkWarmThroughput measures no-op invocations per second with 1, 16
// and 128 concurrent clients, and the server's CPU per invocation (less
// its idle use). Its peer is the AWS Lambda Runtime Interface Emulator,
// which serves one invocation at a time: as many emulators as clients,
// each with its own function process, one client each; their CPU is the
// emulators' own. Its floor is rawrelay, the Invoke and Runtime API
// exchanges with no HTTP library and nothing else.
func BenchmarkWarmThroughput(b *testing.B) {
	srv := alofttest.Start(b)
	goRC := runtimeCases()[0]
	createB(b, srv.Lambda(), "bench-tput", goRC.runtime, goRC.handler, alofttest.GoFunction(b, "e2e/functions/gofn", "v1"))
	inv := newSignedInvoker(srv, "bench-tput", []byte(`{"op":"noop"}`))
	for _, clients := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			// Start the instances first: this measures warm throughput.
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() { inv.invoke() })
			}
			wg.Wait()
			b.ResetTimer()
			cpu, rate := cpuPerOp(b, []int{srv.PID()}, b.N, clients, inv.invoke)
			b.ReportMetric(rate, "invokes/s")
			b.ReportMetric(us(cpu), "server-cpu-µs/op")
		})
	}
	b.Run("rie/clients=16", func(b *testing.B) {
		fn := alofttest.GoBinary(b, "e2e/functions/gofn", "v1")
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
		peers := make(chan *rie, 16)
		var pids []int
		for range 16 {
			p := startRIE(b, fn)
			peers <- p
			pids = append(pids, p.pid)
		}
		payload := []byte(`{"op":"noop"}`)
		b.ResetTimer()
		cpu, rate := cpuPerOp(b, pids, b.N, 16, func() error {
			p := <-peers
			defer func() { peers <- p }()
			return p.invoke(client, payload)
		})
		b.ReportMetric(rate, "invokes/s")
		b.ReportMetric(us(cpu), "server-cpu-µs/op")
	})
	// The floor: rawrelay, the exchanges with nothing else, its functions
	// scheduled as the linux sandbox schedules them (the batch class, a
	// CPU each) and in the default way.
	for _, sched := range []string{"batch", "other"} {
		name := "floor/clients=16"
		if sched != "batch" {
			name = "floor/sched=" + sched + "/clients=16"
		}
		b.Run(name, func(b *testing.B) { benchFloor(b, sched) })
	}
}

// benchFloor measures rawrelay's throughput and CPU per invocation with
// 16 functions whose scheduling class is sched, one client each, with the
// same signed requests as Aloft's.
func benchFloor(b *testing.B, sched string) {
	addr, pid := startRawRelay(b, alofttest.GoBinary(b, "e2e/functions/gofn", "v1"), 16, sched)
	peers := make(chan *signedInvoker, 16)
	for i := range 16 {
		inv := newSignedInvoker(&alofttest.Server{URL: "http://" + addr}, fmt.Sprint("fn-", i), []byte(`{"op":"noop"}`))
		if err := inv.invoke(); err != nil {
			b.Fatal(err)
		}
		peers <- inv
	}
	b.ResetTimer()
	cpu, rate := cpuPerOp(b, []int{pid}, b.N, 16, func() error {
		inv := <-peers
		defer func() { peers <- inv }()
		return inv.invoke()
	})
	b.ReportMetric(rate, "invokes/s")
	b.ReportMetric(us(cpu), "server-cpu-µs/op")
}

// startRawRelay starts rawrelay with n processes of the function
// executable fn in the scheduling class sched, and returns the address of
// its Invoke API and its process id. They stop with the benchmark.
func startRawRelay(b *testing.B, fn string, n int, sched string) (string, int) {
	b.Helper()
	relay := exec.Command(alofttest.GoBinary(b, "e2e/rawrelay", "v1"), "-functions", fmt.Sprint(n), "-sched", sched, fn)
	relay.Stderr = os.Stderr
	relay.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the functions are its children: stop all
	out, err := relay.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := relay.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Kill(-relay.Process.Pid, syscall.SIGKILL); relay.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("rawrelay's address: %v", err)
	}
	return strings.TrimSpace(addr), relay.Process.Pid
}

// BenchmarkColdStart measures the latency of an invocation that has to
// start a new instance, for each runtime. Before each one, a configuration
// change retires the warm instance (not timed).
func BenchmarkColdStart(b *testing.B) {
	srv := alofttest.Start(b)
	c := srv.Lambda()
	// Set on a Python or Node.js function, these variables act on the
	// interpreter's start, so its instances never come from a template
	// process: the same run's baseline of a fresh interpreter.
	fresh := map[string]string{"python": "PYTHONNOUSERSITE", "node": "NODE_NO_WARNINGS"}
	for _, rc := range runtimeCases() {
		name := "bench-cold-" + rc.name
		createB(b, c, name, rc.runtime, rc.handler, benchCode(b, rc))
		for _, par := range []int{1, 16} {
			sub := rc.name
			if par > 1 {
				sub += fmt.Sprintf("/x%d", par)
			}
			b.Run(sub, func(b *testing.B) { benchCold(b, srv, c, name, par) })
		}
		if v := fresh[rc.name]; v != "" {
			createB(b, c, name+"-fresh", rc.runtime, rc.handler, benchCode(b, rc), v+"=1")
			b.Run(rc.name+"/fresh", func(b *testing.B) { benchCold(b, srv, c, name+"-fresh", 1) })
		}
	}
}

// benchCold measures cold starts of the function name, par at once: each
// round retires its instances with a configuration change, waits for the
// machine to settle, then invokes it par times concurrently. Besides the
// latencies it reports the median of each phase of the cold starts and how
// many instances each round started, from the server's log.
func benchCold(b *testing.B, srv *alofttest.Server, c *lambda.Client, name string, par int) {
	inv := newSignedInvoker(srv, name, []byte(`{}`))
	rounds := (b.N + par - 1) / par
	lat := make([]time.Duration, 0, rounds*par)
	var mu sync.Mutex
	logFrom := len(srv.Log())
	for i := 0; i < rounds; i++ {
		b.StopTimer()
		_, err := c.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String(name),
			Description:  aws.String(fmt.Sprint("revision ", i, " of ", par)),
		})
		if err != nil {
			b.Fatal(err)
		}
		// Let the retired instances stop and the linux sandbox prepare
		// its instances (and template processes) again: cold starts on a
		// machine that had a moment to itself.
		pause := 300 * time.Millisecond
		if par > 1 {
			pause = 2 * time.Second
		}
		time.Sleep(pause)
		b.StartTimer()
		var wg sync.WaitGroup
		for range par {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				if err := inv.invoke(); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(percentile(lat, 0.5))/1e6, "cold-p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99))/1e6, "cold-p99-ms")
	var sandbox, initMs []time.Duration
	templated := 0
	for _, rec := range instanceStarts(srv, name, logFrom) {
		sandbox = append(sandbox, time.Duration(rec.Sandbox*1e6))
		initMs = append(initMs, time.Duration(rec.Init*1e6))
		if rec.Template {
			templated++
		}
	}
	if len(sandbox) > 0 {
		// Requests at once take instances others freed: fewer starts than
		// requests.
		b.ReportMetric(float64(len(sandbox))/float64(rounds), "starts/round")
		b.ReportMetric(float64(percentile(sandbox, 0.5))/1e6, "sandbox-p50-ms")
		b.ReportMetric(float64(percentile(initMs, 0.5))/1e6, "init-p50-ms")
		b.ReportMetric(float64(templated)/float64(len(sandbox)), "from-template")
	}
}

// benchCode returns the test function of rc's runtime.
func benchCode(b *testing.B, rc runtimeCase) []byte {
	switch rc.name {
	case "go":
		return alofttest.GoFunction(b, "e2e/functions/gofn", "v1")
	case "python":
		return alofttest.ZipDir(b, "testdata/python")
	default:
		return alofttest.ZipDir(b, "testdata/node")
	}
}

// createB creates a function for a benchmark, with the variables env
// (KEY=VALUE).
func createB(b *testing.B, c *lambda.Client, name, runtime, handler string, zip []byte, env ...string) {
	b.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.Runtime(runtime), Handler: aws.String(handler),
		Role: aws.String("arn:aws:iam::000000000000:role/aloft"), Code: &types.FunctionCode{ZipFile: zip},
	}
	if len(env) > 0 {
		in.Environment = &types.Environment{Variables: map[string]string{}}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			in.Environment.Variables[k] = v
		}
	}
	_, err := c.CreateFunction(context.Background(), in)
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAsyncAccept measures Event invocations accepted (stored durably,
// answered 202) per second with 32 concurrent clients, at each durability
// level: every write flushed to disk before it is acknowledged (the
// default) and flushed every second. Delivery runs with one worker so
// that it takes little of the machine.
func BenchmarkAsyncAccept(b *testing.B) {
	for _, sync := range []string{"0s", "1s"} {
		b.Run("sync="+sync, func(b *testing.B) { benchAsyncAccept(b, "--sync-interval", sync) })
	}
}

func benchAsyncAccept(b *testing.B, args ...string) {
	srv := alofttest.Start(b, append([]string{"--async-workers", "1"}, args...)...)
	goRC := runtimeCases()[0]
	createB(b, srv.Lambda(), "bench-async", goRC.runtime, goRC.handler, alofttest.GoFunction(b, "e2e/functions/gofn", "v1"))
	inv := newSignedInvoker(srv, "bench-async", []byte(`{"op":"noop"}`))
	inv.async = true
	b.ResetTimer()
	t0 := time.Now()
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if err := inv.invoke(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "accepted/s")
}

// BenchmarkAsyncLatency measures the time from sending an Event invocation
// to the handler starting, with events sent one after another to a warm
// function.
func BenchmarkAsyncLatency(b *testing.B) {
	srv := alofttest.Start(b, "--sandbox", "process") // the function writes to a host directory
	goRC := runtimeCases()[0]
	dir := b.TempDir()
	_, err := srv.Lambda().CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("bench-async-lat"), Runtime: types.Runtime(goRC.runtime), Handler: aws.String(goRC.handler),
		Role: aws.String("arn:aws:iam::000000000000:role/aloft"), Code: &types.FunctionCode{ZipFile: alofttest.GoFunction(b, "e2e/functions/gofn", "v1")},
		Environment: &types.Environment{Variables: map[string]string{"RECORD_DIR": dir}},
	})
	if err != nil {
		b.Fatal(err)
	}
	send := func() {
		inv := newSignedInvoker(srv, "bench-async-lat", []byte(fmt.Sprintf(`{"op":"stamp","t":%d}`, time.Now().UnixNano())))
		inv.async = true
		if err := inv.invoke(); err != nil {
			b.Fatal(err)
		}
	}
	send() // start an instance
	time.Sleep(500 * time.Millisecond)
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	b.ResetTimer()
	for range b.N {
		send()
		time.Sleep(2 * time.Millisecond) // one at a time: latency, not throughput
	}
	b.StopTimer()
	var lat []time.Duration
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		lat = lat[:0]
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			for _, l := range strings.Fields(string(data)) {
				var ns int64
				fmt.Sscan(l, &ns)
				lat = append(lat, time.Duration(ns))
			}
		}
		if len(lat) >= b.N {
			break
		}
	}
	if len(lat) < b.N {
		b.Fatalf("only %d of %d events ran", len(lat), b.N)
	}
	b.ReportMetric(float64(percentile(lat, 0.5))/1e6, "start-p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99))/1e6, "start-p99-ms")
}

// BenchmarkBurst measures how long it takes, from zero instances, to have
// 1,000 invocations of a provided function that sleeps one second in
// flight at once: each iteration sends 1,000 concurrent invocations and
// reports the time until the last one finished, less the second it slept,
// and how many instances were started (requests waiting for a start take
// instances freed meanwhile). It runs on each sandbox driver it can.
func BenchmarkBurst(b *testing.B) {
	eachDriver(b, benchBurst)
}

func benchBurst(b *testing.B, driver string) {
	const burst = 1000
	srv := alofttest.Start(b, "--keep-alive", "1s", "--sandbox", driver)
	goRC := runtimeCases()[0]
	_, err := srv.Lambda().CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("bench-burst"), Runtime: types.Runtime(goRC.runtime), Handler: aws.String(goRC.handler),
		Role: aws.String("arn:aws:iam::000000000000:role/aloft"), Timeout: aws.Int32(30),
		Code: &types.FunctionCode{ZipFile: alofttest.GoFunction(b, "e2e/functions/gofn", "v1")},
	})
	if err != nil {
		b.Fatal(err)
	}
	inv := newSignedInvoker(srv, "bench-burst", []byte(`{"op":"sleep","ms":1000}`))
	inv.client.Transport.(*http.Transport).MaxIdleConnsPerHost = burst
	var worst time.Duration
	starts := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		logFrom := len(srv.Log())
		// Wait for the previous burst's instances to be gone.
		for deadline := time.Now().Add(30 * time.Second); i > 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if n, _ := filepath.Glob(filepath.Join(srv.Dir, "instances", "*")); len(n) == 0 {
				break
			}
		}
		b.StartTimer()
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, burst)
		ends := make([]time.Duration, burst)
		for k := range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := inv.invoke(); err != nil {
					errs <- err
				}
				ends[k] = time.Since(t0)
			}()
		}
		wg.Wait()
		el := time.Since(t0) - time.Second
		b.StopTimer()
		close(errs)
		if n := len(errs); n > 0 {
			b.Fatalf("%d of %d invocations failed, first: %v", n, burst, <-errs)
		}
		slices.Sort(ends)
		b.Logf("answered by: 10%% %v, 50%% %v, 90%% %v", ends[burst/10].Round(time.Millisecond),
			ends[burst/2].Round(time.Millisecond), ends[burst*9/10].Round(time.Millisecond))
		time.Sleep(200 * time.Millisecond) // the last starts' records
		starts = max(starts, len(instanceStarts(srv, "bench-burst", logFrom)))
		worst = max(worst, el)
	}
	b.ReportMetric(worst.Seconds(), "s-to-1000-in-flight")
	b.ReportMetric(float64(starts), "instances")
}
