package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/keepalive"
	"github.com/aloft-dev/aloft/internal/sandbox/process"
)

// The test binary doubles as a function built with aws-lambda-go: started
// with INVOKER_TEST_RUNTIME set, it serves the Runtime API loop.
func TestMain(m *testing.M) {
	if os.Getenv("INVOKER_TEST_RUNTIME") != "" {
		runtimeMain()
		return
	}
	os.Exit(m.Run())
}

var calls int // a global that survives between warm invocations

func runtimeMain() {
	switch os.Getenv("INIT_MODE") {
	case "exit":
		fmt.Println("init is failing")
		os.Exit(2)
	case "hang":
		time.Sleep(time.Hour)
	case "slow":
		time.Sleep(3 * time.Second)
	}
	lambda.Start(func(ctx context.Context, ev map[string]any) (any, error) {
		calls++
		switch ev["op"] {
		case "sleep":
			if mark, ok := ev["mark"].(string); ok { // tell the test the event arrived
				os.WriteFile(mark, nil, 0o600)
			}
			time.Sleep(time.Duration(ev["ms"].(float64)) * time.Millisecond)
		case "crash":
			os.Exit(3)
		case "error":
			return nil, errors.New("it went wrong")
		case "print":
			fmt.Println(ev["text"])
		case "flood": // MiB of output, in 64 KiB lines
			line := strings.Repeat("x", 64<<10-1) + "\n"
			for range int(ev["mb"].(float64)) * 16 {
				os.Stdout.WriteString(line)
			}
		}
		return map[string]any{"calls": calls, "pid": os.Getpid(), "tmp": os.Getenv("TMPDIR")}, nil
	})
}

type sink struct {
	mu      sync.Mutex
	batches [][]Line
}

func (s *sink) add(_, _ string, lines []Line) {
	s.mu.Lock()
	s.batches = append(s.batches, lines)
	s.mu.Unlock()
}

func (s *sink) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, batch := range s.batches {
		for _, l := range batch {
			b.WriteString(l.Text + "\n")
		}
	}
	return b.String()
}

type meter struct {
	mu       sync.Mutex
	requests int
	billed   int64
}

func (m *meter) Record(_ string, billedMs int64, _ int) {
	m.mu.Lock()
	m.requests++
	m.billed += billedMs
	m.mu.Unlock()
}

func newInvoker(t testing.TB, keepAlive time.Duration, opts ...func(*Deps)) (*Invoker, *sink, *meter) {
	t.Helper()
	s, m := &sink{}, &meter{}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{
		Driver: &process.Driver{},
		Command: func(string, string) ([]string, []string, error) {
			return []string{exe}, []string{"INVOKER_TEST_RUNTIME=1"}, nil
		},
		CodeDir:   func(context.Context, string) (string, error) { return os.TempDir(), nil },
		WorkDir:   t.TempDir(),
		Logs:      s.add,
		Meter:     m,
		KeepAlive: keepAlive,
		InitLimit: 2 * time.Second,
	}
	for _, o := range opts {
		o(&d)
	}
	iv, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	iv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := iv.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return iv, s, m
}

func config(name string, timeout int, env map[string]string) *function.Config {
	c := &function.Config{FunctionName: name, Runtime: "provided.al2023", Handler: "bootstrap", Timeout: timeout, RevisionID: ids.New()}
	c.ApplyDefaults()
	c.Timeout = timeout
	c.FunctionArn = function.ARN("us-east-1", name, "")
	if env != nil {
		c.Environment = &function.Environment{Variables: env}
	}
	return c
}

type result struct {
	Calls int    `json:"calls"`
	PID   int    `json:"pid"`
	Tmp   string `json:"tmp"`
}

func invoke(t *testing.T, iv *Invoker, cfg *function.Config, payload string, tail bool) (*Response, result) {
	t.Helper()
	resp, err := iv.Invoke(context.Background(), &Request{Config: cfg, Region: "us-east-1", InvokedARN: cfg.FunctionArn, Payload: []byte(payload), Tail: tail})
	if err != nil {
		t.Fatal(err)
	}
	var r result
	if resp.FunctionError == "" {
		if err := json.Unmarshal(resp.Payload, &r); err != nil {
			t.Fatalf("payload %q: %v", resp.Payload, err)
		}
	}
	return resp, r
}

func TestWarmReuseAndLogs(t *testing.T) {
	iv, s, m := newInvoker(t, time.Minute)
	cfg := config("warm", 3, nil)
	_, r1 := invoke(t, iv, cfg, `{"op":"print","text":"hello from the function"}`, false)
	resp, r2 := invoke(t, iv, cfg, `{"op":"echo"}`, true)
	if r1.Calls != 1 || r2.Calls != 2 || r1.PID != r2.PID {
		t.Fatalf("got %+v then %+v, want one process counting 1, 2", r1, r2)
	}
	if st := iv.Stats("warm"); st.Idle != 1 || st.Busy != 0 {
		t.Fatalf("stats got %+v, want 1 idle", st)
	}
	if !strings.Contains(string(resp.LogTail), "START RequestId: "+resp.RequestID) || !strings.Contains(string(resp.LogTail), "REPORT RequestId: "+resp.RequestID) {
		t.Fatalf("tail got %q", resp.LogTail)
	}
	logs := s.all()
	for _, want := range []string{"hello from the function\n", "Init Duration: ", "Billed Duration: ", "Memory Size: 128 MB"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "Init Duration"); n != 1 {
		t.Errorf("Init Duration appears %d times, want once (cold start only)", n)
	}
	// The function's line sits between its START and END.
	iStart, iLine, iEnd := strings.Index(logs, "START"), strings.Index(logs, "hello from"), strings.Index(logs, "END")
	if !(iStart < iLine && iLine < iEnd) {
		t.Errorf("line order wrong:\n%s", logs)
	}
	if m.requests != 2 || m.billed < 1 {
		t.Errorf("meter got %d requests, %d ms", m.requests, m.billed)
	}
}

func TestFunctionErrorCrashAndTimeout(t *testing.T) {
	iv, s, _ := newInvoker(t, time.Minute)
	cfg := config("bad", 1, nil)
	resp, _ := invoke(t, iv, cfg, `{"op":"error"}`, false)
	if resp.FunctionError != "Unhandled" || !strings.Contains(string(resp.Payload), "it went wrong") {
		t.Fatalf("error got %s %s", resp.FunctionError, resp.Payload)
	}
	_, r := invoke(t, iv, cfg, `{}`, false)
	if r.Calls != 2 {
		t.Fatalf("instance not kept after a handled error: calls %d", r.Calls)
	}
	resp, _ = invoke(t, iv, cfg, `{"op":"crash"}`, false)
	want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + resp.RequestID + ` Error: Runtime exited with error: exit status 3"}`
	if resp.FunctionError != "Unhandled" || string(resp.Payload) != want {
		t.Fatalf("crash got %s, want %s", resp.Payload, want)
	}
	_, r = invoke(t, iv, cfg, `{}`, false)
	if r.Calls != 1 {
		t.Fatalf("after a crash got calls %d, want a fresh instance", r.Calls)
	}
	resp, _ = invoke(t, iv, cfg, `{"op":"sleep","ms":3000}`, true)
	want = `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ` + resp.RequestID + ` Error: Task timed out after 1.00 seconds"}`
	if string(resp.Payload) != want {
		t.Fatalf("timeout got %s, want %s", resp.Payload, want)
	}
	if !strings.Contains(string(resp.LogTail), resp.RequestID+" Task timed out after 1.00 seconds") {
		t.Fatalf("timeout tail got %q", resp.LogTail)
	}
	_, r = invoke(t, iv, cfg, `{}`, false)
	if r.Calls != 1 {
		t.Fatalf("after a timeout got calls %d, want a fresh instance", r.Calls)
	}
	if !strings.Contains(s.all(), "Runtime.ExitError") {
		t.Errorf("crash not logged:\n%s", s.all())
	}
}

func TestInitFailures(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	resp, _ := invoke(t, iv, config("initexit", 3, map[string]string{"INIT_MODE": "exit"}), `{}`, true)
	if resp.FunctionError != "Unhandled" || !strings.Contains(string(resp.Payload), `"Runtime.ExitError"`) ||
		!strings.Contains(string(resp.Payload), "exit status 2") {
		t.Fatalf("got %s", resp.Payload)
	}
	if !strings.Contains(string(resp.LogTail), "init is failing") {
		t.Fatalf("init output missing from tail %q", resp.LogTail)
	}
	resp, _ = invoke(t, iv, config("inithang", 3, map[string]string{"INIT_MODE": "hang"}), `{}`, false)
	if !strings.Contains(string(resp.Payload), "failed to initialise") {
		t.Fatalf("hang got %s", resp.Payload)
	}
}

func TestConcurrentInvocationsUseSeparateInstances(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	cfg := config("par", 3, nil)
	var wg sync.WaitGroup
	pids := make([]int, 3)
	tmps := make([]string, 3)
	for i := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, r := invoke(t, iv, cfg, `{"op":"sleep","ms":300}`, false)
			pids[i], tmps[i] = r.PID, r.Tmp
		}()
	}
	wg.Wait()
	if pids[0] == pids[1] || pids[1] == pids[2] || pids[0] == pids[2] || tmps[0] == tmps[1] {
		t.Fatalf("got pids %v tmps %v, want three instances", pids, tmps)
	}
	if st := iv.Stats("par"); st.Idle != 3 {
		t.Fatalf("stats got %+v, want 3 idle", st)
	}
}

func TestRetireAndKeepAlive(t *testing.T) {
	iv, _, _ := newInvoker(t, 300*time.Millisecond)
	cfg := config("ka", 3, nil)
	_, r1 := invoke(t, iv, cfg, `{}`, false)
	// A new revision retires the old instance.
	cfg2 := *cfg
	cfg2.RevisionID = ids.New()
	_, r2 := invoke(t, iv, &cfg2, `{}`, false)
	if r2.PID == r1.PID || r2.Calls != 1 {
		t.Fatalf("new revision reused the old instance: %+v %+v", r1, r2)
	}
	deadline := time.Now().Add(5 * time.Second)
	for iv.Stats("ka").Idle != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle instance not stopped after keep-alive")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.FindProcess(r2.PID); err == nil {
		// On Unix FindProcess always succeeds; check /proc instead.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r2.PID)); err == nil && !strings.Contains(string(b), ") Z ") {
			time.Sleep(200 * time.Millisecond)
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r2.PID)); err == nil && !strings.Contains(string(b), ") Z ") {
				t.Fatalf("process %d still running after keep-alive", r2.PID)
			}
		}
	}
}

func BenchmarkInvokeWarm(b *testing.B) {
	iv, _, _ := newInvoker(b, time.Minute)
	cfg := config("bench", 3, nil)
	req := &Request{Config: cfg, Region: "us-east-1", InvokedARN: cfg.FunctionArn, Payload: []byte(`{}`)}
	if _, err := iv.Invoke(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := iv.Invoke(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCloseStopsBusyInstances(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	cfg := config("busy", 30, nil)
	invoke(t, iv, cfg, `{}`, false) // warm one up
	done := make(chan *Response, 1)
	mark := filepath.Join(t.TempDir(), "running")
	go func() {
		resp, err := iv.Invoke(context.Background(), &Request{Config: cfg, InvokedARN: cfg.FunctionArn,
			Payload: []byte(`{"op":"sleep","ms":20000,"mark":"` + mark + `"}`)})
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	// Close once the function runs the event: before that, its end is an
	// undelivered event, not a crash.
	for _, err := os.Stat(mark); err != nil; _, err = os.Stat(mark) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := iv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	resp := <-done
	if resp == nil || resp.FunctionError != "Unhandled" || !strings.Contains(string(resp.Payload), "Runtime.ExitError") {
		t.Fatalf("busy invocation after Close got %+v", resp)
	}
	if el := time.Since(t0); el > 5*time.Second {
		t.Fatalf("Close took %v with a busy instance", el)
	}
	if _, err := iv.Invoke(context.Background(), &Request{Config: cfg}); !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke after Close got %v, want ErrClosed", err)
	}
}

func TestOlderRevisionRunsOnNewerPool(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	older := config("order", 3, map[string]string{"V": "old"})
	newer := *older
	newer.RevisionID = ids.New()
	resp, err := iv.Invoke(context.Background(), &Request{Config: &newer, Revision: 2, InvokedARN: newer.FunctionArn, Payload: []byte(`{}`)})
	if err != nil || resp.FunctionError != "" {
		t.Fatalf("newer: %v %+v", err, resp)
	}
	var r1 result
	json.Unmarshal(resp.Payload, &r1)
	resp, err = iv.Invoke(context.Background(), &Request{Config: older, Revision: 1, InvokedARN: older.FunctionArn, Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	var r2 result
	json.Unmarshal(resp.Payload, &r2)
	if r2.PID != r1.PID || r2.Calls != 2 {
		t.Fatalf("a request with an older revision got %+v (newer pool served %+v), want the newer pool's instance", r2, r1)
	}
}

func TestRetiredDuringColdStartStillServes(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	cfg := config("midstart", 3, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Retire repeatedly while the first cold start is under way.
		for range 20 {
			iv.Retire("midstart")
			time.Sleep(5 * time.Millisecond)
		}
	}()
	resp, err := iv.Invoke(context.Background(), &Request{Config: cfg, InvokedARN: cfg.FunctionArn, Payload: []byte(`{}`)})
	wg.Wait()
	if err != nil || resp.FunctionError != "" {
		t.Fatalf("got %v, %+v; want the request served", err, resp)
	}
}

func TestConcurrencyLimits(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	iv.d.ConcurrencyLimit = 3
	slow := func(cfg *function.Config, reserved *int, total int) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := iv.Invoke(context.Background(), &Request{Config: cfg, Reserved: reserved, ReservedTotal: total,
				InvokedARN: cfg.FunctionArn, Payload: []byte(`{"op":"sleep","ms":800}`)})
			done <- err
		}()
		return done
	}
	one := 1
	capped := config("capped", 5, nil)
	first := slow(capped, &one, 1)
	for iv.Stats("capped").Busy == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	_, err := iv.Invoke(context.Background(), &Request{Config: capped, Reserved: &one, ReservedTotal: 1, InvokedARN: capped.FunctionArn, Payload: []byte(`{}`)})
	if e := function.AsError(err); e.Kind != fault.Throttled || e.Reason != function.ReasonReserved {
		t.Fatalf("second invocation of a function reserved at 1 got %v, want a reserved-concurrency throttle", err)
	}
	// The account has 3, one reserved: two run unreserved, the third waits.
	open := config("open", 5, nil)
	a, b := slow(open, nil, 1), slow(open, nil, 1)
	for iv.Stats("open").Busy < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	_, err = iv.Invoke(context.Background(), &Request{Config: open, ReservedTotal: 1, InvokedARN: open.FunctionArn, Payload: []byte(`{}`)})
	if e := function.AsError(err); e.Kind != fault.Throttled || e.Reason != function.ReasonAccount {
		t.Fatalf("a third unreserved invocation got %v, want an account throttle", err)
	}
	zero := 0
	_, err = iv.Invoke(context.Background(), &Request{Config: config("off", 5, nil), Reserved: &zero, Payload: []byte(`{}`)})
	if function.AsError(err).Kind != fault.Throttled {
		t.Fatalf("a function reserved at 0 got %v, want throttled", err)
	}
	for _, ch := range []chan error{first, a, b} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	// Capacity comes back when they finish.
	if _, err := iv.Invoke(context.Background(), &Request{Config: capped, Reserved: &one, ReservedTotal: 1, InvokedARN: capped.FunctionArn, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
}

func TestIdleInstancesFreezeAndThaw(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	cfg := config("cold-storage", 3, nil)
	_, r1 := invoke(t, iv, cfg, `{}`, false)
	state := func() string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r1.PID))
		if err != nil {
			return ""
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return f[0]
	}
	deadline := time.Now().Add(10 * time.Second)
	for state() != "T" {
		if time.Now().After(deadline) {
			t.Fatalf("idle instance not frozen; state %q", state())
		}
		iv.reap()
		time.Sleep(100 * time.Millisecond)
	}
	_, r2 := invoke(t, iv, cfg, `{}`, false)
	if r2.PID != r1.PID || r2.Calls != 2 {
		t.Fatalf("after a thaw got %+v, want the same instance", r2)
	}
	if s := state(); s == "T" {
		t.Fatalf("instance still frozen after serving")
	}
}

func TestProvisionedConcurrency(t *testing.T) {
	iv, _, _ := newInvoker(t, 300*time.Millisecond)
	cfg := config("prov", 3, nil)
	req := &Request{Config: cfg, InvokedARN: cfg.FunctionArn, Payload: []byte(`{}`), Tail: true}
	if err := iv.Provision(req, 2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, ready := iv.Provisioned("prov"); ready < 2; _, ready = iv.Provisioned("prov") {
		if time.Now().After(deadline) {
			t.Fatal("provisioned instances not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := iv.Invoke(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp.LogTail), "Init Duration") {
		t.Fatalf("the first invocation after provisioning was a cold start:\n%s", resp.LogTail)
	}
	// The keep-alive (300 ms here) spares provisioned instances.
	time.Sleep(time.Second)
	if st := iv.Stats("prov"); st.Idle != 2 {
		t.Fatalf("after the keep-alive got %+v, want the 2 provisioned instances", st)
	}
	// One that dies is replaced.
	resp, _ = iv.Invoke(context.Background(), &Request{Config: cfg, InvokedARN: cfg.FunctionArn, Payload: []byte(`{"op":"crash"}`)})
	if resp.FunctionError == "" {
		t.Fatal("crash did not fail")
	}
	deadline = time.Now().Add(10 * time.Second)
	for iv.Stats("prov").Idle != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("a crashed provisioned instance was not replaced: %+v", iv.Stats("prov"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Releasing them hands them to the keep-alive.
	if err := iv.Provision(req, 0); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for iv.Stats("prov").Idle != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("released instances not reaped: %+v", iv.Stats("prov"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAdaptiveKeepAlivePreWarms(t *testing.T) {
	// The clock is the test's and the reaper runs when the test says, so
	// nothing here depends on how fast the machine is.
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, m := &sink{}, &meter{}
	exe, _ := os.Executable()
	iv, err := New(Deps{
		Driver: &process.Driver{},
		Command: func(string, string) ([]string, []string, error) {
			return []string{exe}, []string{"INVOKER_TEST_RUNTIME=1"}, nil
		},
		CodeDir:         func(context.Context, string) (string, error) { return os.TempDir(), nil },
		WorkDir:         t.TempDir(),
		Logs:            s.add,
		Meter:           m,
		Now:             clock,
		KeepAlive:       time.Minute, // the fallback
		KeepAlivePolicy: keepalive.Config{Bin: 10 * time.Second, Bins: 360},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer iv.Close(context.Background())
	cfg := config("timer", 3, nil)
	req := &Request{Config: cfg, InvokedARN: cfg.FunctionArn, Payload: []byte(`{}`), Tail: true}
	// settle waits for the starts requests set off: a request served by a
	// pre-warmed instance leaves its own start to finish in the background.
	settle := func() {
		for deadline := time.Now().Add(10 * time.Second); iv.Stats("timer").Starting > 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("a start never finished")
			}
		}
	}
	const period = 15 * time.Minute // a timer: regular, and longer than the fallback
	for range 8 {
		if _, err := iv.Invoke(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		settle()
		advance(period)
		iv.reap()
	}
	st := iv.KeepAlive("timer")
	if !st.Window.Adaptive || st.Window.PreWarm < time.Minute || st.Window.KeepAlive <= period {
		t.Fatalf("a function called every %v got %+v", period, st)
	}
	// Just after a call the instance is let go: none is expected for a while.
	if _, err := iv.Invoke(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	settle()
	advance(time.Minute)
	iv.reap()
	if n := iv.Stats("timer").Idle; n != 0 {
		t.Fatalf("%d instances kept loaded inside the pre-warm window", n)
	}
	// Once the pre-warm window opens, one is loaded ahead of the call.
	advance(st.Window.PreWarm)
	iv.reap()
	deadline := time.Now().Add(10 * time.Second)
	for iv.Stats("timer").Idle != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no instance pre-warmed: %+v", iv.Stats("timer"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	advance(period - time.Minute - st.Window.PreWarm)
	resp, err := iv.Invoke(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp.LogTail), "Init Duration") {
		t.Fatalf("the call after a pre-warm was cold:\n%s", resp.LogTail)
	}
}

func TestEvictKeepsIdleMemoryWithinBudget(t *testing.T) {
	now := time.Now()
	idle := func(name string, mb int, ago time.Duration, provisioned bool) *instance {
		cfg := config(name, 3, nil)
		cfg.MemorySize = mb
		return &instance{id: name, cfg: cfg, lastUsed: now.Add(-ago), provisioned: provisioned}
	}
	a1, a2 := idle("a-recent", 128, time.Minute, false), idle("a-old", 128, 5*time.Minute, false)
	b := idle("b", 128, 30*time.Second, false)
	c := idle("c-provisioned", 1024, time.Hour, true)
	pa := &pool{idle: []*instance{a2, a1}}
	pb := &pool{idle: []*instance{b}}
	pc := &pool{idle: []*instance{c}}
	keeps := map[*pool]time.Duration{pa: 10 * time.Minute, pb: time.Minute, pc: time.Minute}

	if got := evict(keeps, 0); got != nil {
		t.Fatalf("no budget evicted %d instances", len(got))
	}
	if got := evict(keeps, 384); got != nil {
		t.Fatalf("within budget evicted %d instances", len(got))
	}
	// b's window ends first (in 30s), then a-old's (in 5m).
	got := evict(keeps, 256)
	if len(got) != 1 || got[0] != b || len(pb.idle) != 0 {
		t.Fatalf("over budget by 128 MB: evicted %v, want b", instanceIDs(got))
	}
	got = evict(keeps, 128)
	if len(got) != 1 || got[0] != a2 || len(pa.idle) != 1 || pa.idle[0] != a1 {
		t.Fatalf("budget 128 MB: evicted %v, want a-old", instanceIDs(got))
	}
	if got = evict(keeps, 100); len(got) != 1 || got[0] != a1 || len(pa.idle) != 0 {
		t.Fatalf("budget 100 MB: evicted %v, want a-recent", instanceIDs(got))
	}
	if len(pc.idle) != 1 {
		t.Fatal("a provisioned instance was evicted")
	}
}

func instanceIDs(ins []*instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.id)
	}
	return out
}

func TestWaitingRequestTakesAFreedInstance(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	cfg := config("handoff", 10, map[string]string{"INIT_MODE": "slow"}) // every start takes 3s
	_, first := invoke(t, iv, cfg, `{}`, false)

	// One request holds the only instance for 300ms; a second one,
	// arriving meanwhile, is served by that instance once it is free
	// rather than by the start it set off.
	busy := make(chan result, 1)
	go func() {
		_, r := invoke(t, iv, cfg, `{"op":"sleep","ms":300}`, false)
		busy <- r
	}()
	for iv.Stats("handoff").Busy == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	_, second := invoke(t, iv, cfg, `{}`, false)
	held := <-busy
	if held.PID != first.PID || second.PID != first.PID {
		t.Fatalf("PIDs: first %d, busy %d, waiting %d; want the waiting request served by the freed instance", first.PID, held.PID, second.PID)
	}
	// The start it set off still comes up, and stays idle for later.
	deadline := time.Now().Add(20 * time.Second)
	for iv.Stats("handoff").Idle != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: the extra instance never became idle", iv.Stats("handoff"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Starts beyond the limit wait their turn, and a request served by a freed
// instance meanwhile withdraws its own: a burst of short invocations
// starts only as many instances as ran out of turn.
func TestStartsWaitTheirTurn(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute, func(d *Deps) { d.Starts, d.StartHold = 1, time.Hour })
	cfg := config("turns", 10, map[string]string{"INIT_MODE": "slow"}) // every start takes 3s
	_, first := invoke(t, iv, cfg, `{}`, false)

	// Six requests at once: one takes the idle instance, five wait and
	// set off a start each; one start begins, the others wait their turn.
	// The first instance serves all six, 100ms each, long before a start
	// is done, so four starts never begin.
	var wg sync.WaitGroup
	pids := make(chan int, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, r := invoke(t, iv, cfg, `{"op":"sleep","ms":100}`, false)
			pids <- r.PID
		}()
	}
	wg.Wait()
	close(pids)
	for pid := range pids {
		if pid != first.PID {
			t.Fatalf("a request was served by instance %d, want all by the first (%d)", pid, first.PID)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for st := iv.Stats("turns"); st.Starting > 0 || st.Idle != 2; st = iv.Stats("turns") {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: want the one start that began to end idle, and no other", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if st := iv.Stats("turns"); st.Idle != 2 || st.Busy != 0 {
		t.Fatalf("stats %+v: want 2 idle instances", st)
	}
}

// TestOutputBounds checks the bounds on output held in memory: an
// invocation keeps at most maxBatch bytes, nothing is kept while all
// instances hold maxLogHeld, both say what they dropped, and the bytes
// held are given back once the batch is in the sink's hands.
func TestOutputBounds(t *testing.T) {
	iv, s, _ := newInvoker(t, time.Minute)
	cfg := config("flood", 30, nil)
	batchBytes := func() (kept int, marker string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		last := s.batches[len(s.batches)-1]
		for _, l := range last {
			if strings.HasPrefix(l.Text, "x") {
				kept += len(l.Text)
			}
			if strings.HasPrefix(l.Text, "[aloft] Log output truncated: ") {
				marker = l.Text
			}
		}
		return kept, marker
	}
	waitBatch := func(n int) {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			s.mu.Lock()
			got := len(s.batches)
			s.mu.Unlock()
			if got >= n {
				return
			}
		}
		t.Fatalf("no batch %d", n)
	}

	invoke(t, iv, cfg, `{"op":"flood","mb":20}`, false)
	waitBatch(1)
	kept, marker := batchBytes()
	if kept > maxBatch || kept < maxBatch-(64<<10) || !strings.Contains(marker, "bytes were dropped") {
		t.Errorf("20 MiB printed: %d bytes kept (bound %d), marker %q", kept, maxBatch, marker)
	}
	if h := iv.logHeld.Load(); h != 0 {
		t.Errorf("%d bytes still counted as held after the batch went to the sink", h)
	}

	// Other instances hold the whole budget: nothing of this one is kept.
	iv.logHeld.Add(maxLogHeld)
	invoke(t, iv, cfg, `{"op":"flood","mb":1}`, false)
	waitBatch(2)
	if kept, marker := batchBytes(); kept != 0 || !strings.Contains(marker, fmt.Sprint(16*(64<<10-1), " bytes were dropped")) {
		t.Errorf("with the budget spent: %d bytes kept, marker %q", kept, marker)
	}
	if h := iv.logHeld.Add(-maxLogHeld); h != 0 {
		t.Errorf("the budget counts %d bytes more than the other instances hold", h)
	}
}

// TestAnswerBeforeEnding: with Request.Answer, the answer is handed over
// before the invocation's END and REPORT are written and before Invoke
// returns (which returns the same response); its concurrency is free by
// then, so a request of a function with a reservation of one, sent from
// within Answer, is not throttled and runs on the same instance once it
// is back, rather than on a new one.
func TestAnswerBeforeEnding(t *testing.T) {
	iv, s, _ := newInvoker(t, time.Minute)
	one := 1
	cfg := config("answer", 3, nil)
	req := func(payload string) *Request {
		return &Request{Config: cfg, Reserved: &one, Region: "us-east-1", InvokedARN: cfg.FunctionArn, Payload: []byte(payload)}
	}
	invoke(t, iv, cfg, `{"op":"print","text":"warm"}`, false) // started and warm

	var answered *Response
	var logsAtAnswer string
	next := make(chan error, 1)
	var nextPID int
	r := req(`{"op":"print","text":"answered first"}`)
	waiters := func() int {
		iv.mu.Lock()
		p := iv.pools[PoolKey(cfg)]
		iv.mu.Unlock()
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.waiters)
	}
	r.Answer = func(resp *Response) {
		answered, logsAtAnswer = resp, s.all()
		go func() {
			resp, err := iv.Invoke(context.Background(), req(`{"op":"echo"}`))
			if err == nil {
				var res result
				err = json.Unmarshal(resp.Payload, &res)
				nextPID = res.PID
			}
			next <- err
		}()
		// Hold the answer until that invocation waits for this
		// instance (or failed), so that it arrives while this one is
		// still returning.
		for deadline := time.Now().Add(2 * time.Second); waiters() == 0 && len(next) == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	resp, err := iv.Invoke(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if answered == nil || answered != resp {
		t.Fatalf("Answer got %p, Invoke returned %p", answered, resp)
	}
	var res result
	if err := json.Unmarshal(resp.Payload, &res); err != nil || res.PID == 0 {
		t.Fatalf("payload %q: %v", resp.Payload, err)
	}
	if strings.Contains(logsAtAnswer, "REPORT RequestId: "+resp.RequestID) {
		t.Fatalf("the REPORT was written before the answer:\n%s", logsAtAnswer)
	}
	if err := <-next; err != nil {
		t.Fatalf("the invocation sent from Answer: %v", err)
	}
	if nextPID != res.PID {
		t.Fatalf("the invocation sent from Answer ran in process %d, not the returning instance's %d", nextPID, res.PID)
	}
	logs := s.all()
	for _, want := range []string{"answered first\n", "END RequestId: " + resp.RequestID, "REPORT RequestId: " + resp.RequestID} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %q:\n%s", want, logs)
		}
	}
	if i, j := strings.Index(logs, "REPORT RequestId: "+resp.RequestID), strings.LastIndex(logs, "START RequestId: "); i > j {
		t.Fatalf("the next invocation started before this one's REPORT:\n%s", logs)
	}
	// No second instance was started for the invocation that waited.
	time.Sleep(300 * time.Millisecond)
	if st := iv.Stats("answer"); st.Idle != 1 || st.Busy != 0 || st.Starting != 0 {
		t.Fatalf("stats got %+v, want the one instance idle", st)
	}
}
