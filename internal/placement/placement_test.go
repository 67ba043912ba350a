package placement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
)

func TestShare(t *testing.T) {
	for _, tc := range []struct {
		limit, n int
		want     []int
	}{
		{1, 3, []int{1, 0, 0}},
		{2, 3, []int{1, 1, 0}},
		{10, 3, []int{4, 3, 3}},
		{1000, 3, []int{334, 333, 333}},
		{0, 3, []int{0, 0, 0}},
		{-5, 2, []int{0, 0}},
		{7, 1, []int{7}},
	} {
		t.Run(fmt.Sprint(tc.limit, "/", tc.n), func(t *testing.T) {
			sum := 0
			for i, want := range tc.want {
				got := Share(tc.limit, i, tc.n)
				if got != want {
					t.Errorf("Share(%d, %d, %d) = %d, want %d", tc.limit, i, tc.n, got, want)
				}
				sum += got
			}
			if tc.limit > 0 && sum != tc.limit {
				t.Errorf("shares of %d add up to %d", tc.limit, sum)
			}
		})
	}
}

func TestDirectory(t *testing.T) {
	now := time.Now()
	d := newDirectory("b", 3*time.Second)
	if !d.put(&summary{Node: "a", Idle: []pool{{Key: "fn", Rev: "r1", Idle: 1}}}, now) {
		t.Fatal("a new node was not reported joined")
	}
	if d.put(&summary{Node: "b"}, now) {
		t.Fatal("this node's own summary was recorded")
	}
	d.put(&summary{Node: "c", Idle: []pool{{Key: "fn", Rev: "r0", Idle: 5}}}, now)
	if m := d.members(); strings.Join(m.names, ",") != "a,b,c" || m.self != 1 {
		t.Fatalf("members %v self %d, want a,b,c and 1", m.names, m.self)
	}
	// c's instances are of another revision; a's one instance is taken
	// by the first pick until released.
	if got := d.warm("fn", "r1"); got != "a" {
		t.Fatalf("warm got %q, want a", got)
	}
	if got := d.warm("fn", "r1"); got != "" {
		t.Fatalf("warm while a's instance is taken got %q, want none", got)
	}
	d.release("a", "fn")
	if got := d.warm("fn", "r1"); got != "a" {
		t.Fatalf("warm after release got %q, want a", got)
	}
	// A reservation of 1 among a, b, c is a's; while a runs one, roomy
	// still names a (its summary may be late) but nobody else.
	m := d.members()
	one := 1
	if got := d.roomy(m, "fn", &one, 0, ""); got != "a" {
		t.Fatalf("roomy got %q, want a", got)
	}
	if got := d.roomy(m, "fn", &one, 0, "a"); got != "" {
		t.Fatalf("roomy without a got %q, want none", got)
	}
	zero := 0
	if got := d.roomy(m, "fn", &zero, 0, ""); got != "" {
		t.Fatalf("roomy with a reservation of 0 got %q, want none", got)
	}
	// Of 10 unreserved (4, 3, 3), a runs 4 and c 1: c has room.
	d.put(&summary{Node: "a", Unreserved: 4}, now)
	d.put(&summary{Node: "c", Unreserved: 1}, now)
	if got := d.roomy(m, "other", nil, 10, ""); got != "c" {
		t.Fatalf("roomy unreserved got %q, want c", got)
	}
	d.started("c", "other", false)
	d.started("c", "other", false)
	if got := d.roomy(m, "other", nil, 10, ""); got != "a" && got != "c" {
		t.Fatalf("roomy unreserved, all full, got %q", got)
	}
	d.ended("c", "other", false)
	d.ended("c", "other", false)

	if d.expire(now.Add(2 * time.Second)) {
		t.Fatal("nodes expired within the TTL")
	}
	d.put(&summary{Node: "c"}, now.Add(2*time.Second))
	if !d.expire(now.Add(4*time.Second)) || d.live("a") || !d.live("c") {
		t.Fatal("a silent node was not forgotten, or a live one was")
	}
	if !d.forget("c") || d.forget("c") {
		t.Fatal("forget")
	}
}

func TestAnswerRoundTrip(t *testing.T) {
	resp := &invoke.Response{Payload: []byte(`{"errorType":"x"}`), FunctionError: "Unhandled", LogTail: []byte("line\r\nREPORT RequestId: 1\n"),
		Version: "3", RequestID: "id-1", Failure: &invoke.Failure{Kind: invoke.FailTimeout, Message: "RequestId: id-1 Error: Task timed out\nafter 1.00 seconds"}}
	a, payload := roundTrip(t, answerOf(resp, nil)), resp.Payload
	got, err := a.outcome(payload)
	if err != nil || string(got.Payload) != string(resp.Payload) || got.FunctionError != "Unhandled" || string(got.LogTail) != string(resp.LogTail) ||
		got.Version != "3" || got.RequestID != "id-1" || got.Failure == nil || *got.Failure != *resp.Failure {
		t.Fatalf("got %+v (%v), want %+v", got, err, resp)
	}
	a = roundTrip(t, answerOf(nil, function.Throttled(function.ReasonReserved)))
	_, err = a.outcome(nil)
	var fe *function.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Throttled || fe.Type != "TooManyRequestsException" || fe.Reason != function.ReasonReserved {
		t.Fatalf("got %#v, want the throttle", err)
	}
	a = roundTrip(t, answerOf(nil, errors.New("broken")))
	if _, err = a.outcome(nil); fault.KindOf(err) != fault.Internal || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("got %v, want an internal error", err)
	}
}

// roundTrip sends a through a message header and back.
func roundTrip(t *testing.T, a *answer) *answer {
	t.Helper()
	h, err := header(a)
	if err != nil {
		t.Fatal(err)
	}
	var got answer
	if err := meta(&nats.Msg{Subject: "s", Header: h}, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

// fakeLocal is a node's invoker: it answers with its node's name, counts
// what it ran, and holds reservations.
type fakeLocal struct {
	node string
	idle map[string]int // by pool key, at revision "r1"

	mu      sync.Mutex
	ran     int
	running map[string]int
	hold    chan struct{} // when set, invocations wait for it
}

func (f *fakeLocal) Invoke(ctx context.Context, req *invoke.Invocation) (*invoke.Response, error) {
	name := req.Config.FunctionName
	f.mu.Lock()
	if r := req.Reserved; r != nil && f.running[name] >= *r {
		f.mu.Unlock()
		return nil, function.Throttled(function.ReasonReserved)
	}
	f.running[name]++
	f.ran++
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	f.mu.Lock()
	f.running[name]--
	f.mu.Unlock()
	fe := ""
	if string(req.Payload) == `"fail"` {
		fe = "Unhandled"
	}
	return &invoke.Response{Payload: []byte(`"` + f.node + `"`), FunctionError: fe, LogTail: []byte(req.ClientContext + "|" + req.InvokedARN),
		Version: req.Config.Version, RequestID: "rid"}, nil
}

func (f *fakeLocal) IdleFor(cfg *function.Config) int {
	if cfg.RevisionID != "r1" {
		return 0
	}
	return f.idle[invoke.PoolKey(cfg)]
}

func (f *fakeLocal) IdlePools(dst []invoke.PoolIdle) []invoke.PoolIdle {
	for k, n := range f.idle {
		dst = append(dst, invoke.PoolIdle{Key: k, RevisionID: "r1", Idle: n})
	}
	return dst
}

func (f *fakeLocal) Snapshot() ([]invoke.FunctionState, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var fns []invoke.FunctionState
	for name, n := range f.running {
		fns = append(fns, invoke.FunctionState{Function: name, Running: n})
	}
	return fns, 0
}

func (f *fakeLocal) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ran
}

// startNodes starts a NATS server and a Placer per node on it.
func startNodes(t *testing.T, reserved *int, locals ...*fakeLocal) []*Placer {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(srv.Shutdown)
	var ps []*Placer
	for _, l := range locals {
		l.running = map[string]int{}
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		p, err := New(Deps{Conn: nc, Node: l.node, Local: l, Interval: 20 * time.Millisecond,
			Resolve: func(name, version string) (*invoke.Invocation, error) {
				if name != "fn" {
					return nil, function.NotFound(name)
				}
				return &invoke.Invocation{Config: &function.Config{FunctionName: name, Version: version, RevisionID: "r1", Timeout: 3}, Reserved: reserved}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close(context.Background()) })
		ps = append(ps, p)
	}
	for _, p := range ps {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if names, _ := p.Members(); len(names) == len(ps) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the placers did not see each other")
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // a summary or two
	return ps
}

func request(rev string, reserved *int, payload string) *invoke.Invocation {
	return &invoke.Invocation{Config: &function.Config{FunctionName: "fn", Version: function.LatestVersion, RevisionID: rev, Timeout: 3},
		Reserved: reserved, Payload: []byte(payload), ClientContext: `{"custom":1}`, InvokedARN: "arn:fn", Tail: true}
}

func TestForwardToWarmNode(t *testing.T) {
	a, b := &fakeLocal{node: "a"}, &fakeLocal{node: "b", idle: map[string]int{"fn": 1}}
	ps := startNodes(t, nil, a, b)
	ctx := context.Background()

	resp, err := ps[0].Invoke(ctx, request("r1", nil, `"fail"`))
	if err != nil || string(resp.Payload) != `"b"` || resp.FunctionError != "Unhandled" || string(resp.LogTail) != `{"custom":1}|arn:fn` ||
		resp.Version != function.LatestVersion || resp.RequestID != "rid" {
		t.Fatalf("got %+v (%v), want b's answer with what the caller asked", resp, err)
	}
	if a.count() != 0 || b.count() != 1 {
		t.Fatalf("ran %d on a and %d on b, want 0 and 1", a.count(), b.count())
	}
	// Another revision than b's runs here.
	if resp, err := ps[0].Invoke(ctx, request("r2", nil, `{}`)); err != nil || string(resp.Payload) != `"a"` {
		t.Fatalf("another revision: got %+v (%v), want a's answer", resp, err)
	}
	// A streamed response runs here.
	req := request("r1", nil, `{}`)
	req.Stream = discard{}
	if resp, err := ps[0].Invoke(ctx, req); err != nil || string(resp.Payload) != `"a"` {
		t.Fatalf("streamed: got %+v (%v), want a's answer", resp, err)
	}

	// b stops listening: the forward is not started and a runs it, once.
	b.mu.Lock()
	b.running = map[string]int{}
	b.mu.Unlock()
	ps[1].unsubscribe()
	ps[1].d.Conn.Flush() // the server has taken b's interest away
	before := a.count()
	start := time.Now()
	if resp, err := ps[0].Invoke(ctx, request("r1", nil, `{}`)); err != nil || string(resp.Payload) != `"a"` {
		t.Fatalf("b gone: got %+v (%v), want a's answer", resp, err)
	}
	if a.count() != before+1 || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("b gone: a ran %d, after %v; want one more, at once", a.count()-before, time.Since(start))
	}
	if _, fallbacks, _ := ps[0].Stats(); fallbacks != 1 {
		t.Fatalf("fallbacks %d, want 1", fallbacks)
	}
}

func TestReservationHeldByCluster(t *testing.T) {
	one := 1
	a, b := &fakeLocal{node: "a", hold: make(chan struct{})}, &fakeLocal{node: "b"}
	ps := startNodes(t, &one, a, b)
	ctx := context.Background()
	// The reservation of 1 is a's share: through b it runs on a.
	done := make(chan error, 1)
	go func() {
		resp, err := ps[1].Invoke(ctx, request("r1", &one, `{}`))
		if err == nil && string(resp.Payload) != `"a"` {
			err = fmt.Errorf("ran on %s", resp.Payload)
		}
		done <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); a.count() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the invocation through b did not reach a")
		}
	}
	// While it runs, another through either node is throttled.
	for i, p := range ps {
		if _, err := p.Invoke(ctx, request("r1", &one, `{}`)); fault.KindOf(err) != fault.Throttled {
			t.Errorf("second invocation through node %d: got %v, want a throttle", i, err)
		}
	}
	close(a.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b.count() != 0 {
		t.Fatalf("b ran %d with a share of 0", b.count())
	}
}

// discard is a stream sink that keeps nothing.
type discard struct{}

func (discard) Start(string) error          { return nil }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
