package lease

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/store"
)

func backbone(t *testing.T) jetstream.JetStream {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.JetStream()
}

// node opens the leases of one node, closed when the test ends.
func node(t *testing.T, js jetstream.JetStream, name string, ttl time.Duration) *Leases {
	t.Helper()
	l, err := Open(context.Background(), js, Options{Node: name, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// duties counts, for one lease, the duties running at once and the most
// there ever were, and records which node runs.
type duties struct {
	mu      sync.Mutex
	running map[string]bool
	most    int
	starts  int
}

func (d *duties) duty(name string) func(context.Context) {
	return func(ctx context.Context) {
		d.mu.Lock()
		d.running[name] = true
		d.starts++
		d.most = max(d.most, len(d.running))
		d.mu.Unlock()
		<-ctx.Done()
		d.mu.Lock()
		delete(d.running, name)
		d.mu.Unlock()
	}
}

func (d *duties) holders() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for n := range d.running {
		out = append(out, n)
	}
	return out
}

// waitHolder waits until exactly one node runs the duty and returns it.
func (d *duties) waitHolder(t *testing.T, within time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		if h := d.holders(); len(h) == 1 {
			return h[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("after %v the duty runs on %v, want one node", within, h)
		}
	}
}

// TestOneHolderAmongSeveral has four nodes ask for one lease at once,
// for longer than several renewals: one of them runs the duty, never two.
func TestOneHolderAmongSeveral(t *testing.T) {
	js := backbone(t)
	d := &duties{running: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ls := map[string]*Leases{}
	for i := range 4 {
		name := fmt.Sprintf("n%d", i)
		l := node(t, js, name, time.Second)
		ls[name] = l
		wg.Go(func() { l.Run(ctx, "job", d.duty(name)) })
	}
	holder := d.waitHolder(t, 2*time.Second)
	time.Sleep(3 * time.Second) // nine renewals
	if h := d.holders(); len(h) != 1 || h[0] != holder {
		t.Fatalf("after renewals the duty runs on %v, want only %s", h, holder)
	}
	for name, l := range ls {
		if l.Held("job") != (name == holder) {
			t.Errorf("%s: Held %v", name, l.Held("job"))
		}
	}
	if got, err := ls["n0"].Holder(ctx, "job"); err != nil || got != holder {
		t.Errorf("Holder got %q, %v; want %s", got, err, holder)
	}
	cancel()
	wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.most != 1 || d.starts != 1 {
		t.Fatalf("at most %d duties ran at once and %d started, want 1 and 1", d.most, d.starts)
	}
}

// TestTakeoverWhenTheHolderStopsRenewing has a holder that never renews
// (a node killed just after taking the lease): another node takes over
// once the lease has lapsed, within the TTL and one renewal interval.
func TestTakeoverWhenTheHolderStopsRenewing(t *testing.T) {
	js := backbone(t)
	ttl := 3 * time.Second
	a, b := node(t, js, "a", ttl), node(t, js, "b", ttl)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	if _, err := a.kv.Create(ctx, "job", []byte("a")); err != nil {
		t.Fatal(err)
	}
	took := time.Now()
	var tookOver atomic.Int64
	wg.Go(func() {
		b.Run(ctx, "job", func(ctx context.Context) {
			tookOver.CompareAndSwap(0, int64(time.Since(took)))
			<-ctx.Done()
		})
	})
	limit := ttl + ttl/3 + 500*time.Millisecond
	for deadline := time.Now().Add(limit); tookOver.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no takeover within %v of the holder's last renewal", limit)
		}
	}
	if after := time.Duration(tookOver.Load()); after < ttl-100*time.Millisecond {
		t.Fatalf("b took the lease %v after its holder's last renewal, before it could lapse (TTL %v)", after, ttl)
	} else {
		t.Logf("takeover %v after the last renewal (TTL %v)", after, ttl)
	}
}

// TestHolderStopsBeforeItsLeaseLapses cuts the holder off the backbone:
// its duty's context ends before the TTL has passed since its last
// renewal, and no later than that.
func TestHolderStopsBeforeItsLeaseLapses(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ttl := 3 * time.Second
	l, err := Open(context.Background(), st.JetStream(), Options{Node: "cut", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	started := make(chan time.Time, 1)
	stopped := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		l.Run(ctx, "job", func(ctx context.Context) {
			started <- time.Now()
			<-ctx.Done()
			stopped <- time.Now()
			cancel() // do not compete again
		})
	})
	<-started
	time.Sleep(ttl / 2) // at least one renewal
	cut := time.Now()
	st.Conn().Close() // every later renewal fails
	select {
	case at := <-stopped:
		// The last renewal was at most one interval before the cut.
		if after := at.Sub(cut); after > ttl-ttl/6 {
			t.Fatalf("the duty stopped %v after the cut, later than TTL−TTL/6 (%v)", after, ttl-ttl/6)
		}
	case <-time.After(ttl):
		t.Fatal("the duty still runs a TTL after its node was cut off")
	}
}

// TestCleanReleaseHandsOverAtOnce stops the holder's Run: it gives the
// lease up, and a waiting node takes it well before the TTL.
func TestCleanReleaseHandsOverAtOnce(t *testing.T) {
	js := backbone(t)
	ttl := 6 * time.Second
	a, b := node(t, js, "a", ttl), node(t, js, "b", ttl)
	d := &duties{running: map[string]bool{}}
	actx, stopA := context.WithCancel(context.Background())
	bctx, stopB := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopB()
	defer stopA()
	wg.Go(func() { a.Run(actx, "job", d.duty("a")) })
	if h := d.waitHolder(t, 2*time.Second); h != "a" {
		t.Fatalf("holder %s, want a", h)
	}
	wg.Go(func() { b.Run(bctx, "job", d.duty("b")) })
	time.Sleep(300 * time.Millisecond)
	stopA()
	released := time.Now()
	for deadline := time.Now().Add(ttl / 3); !b.Held("job"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("b has not taken the released lease after %v", ttl/3)
		}
	}
	if h := d.waitHolder(t, time.Second); h != "b" {
		t.Fatalf("holder %s, want b", h)
	}
	if took := time.Since(released); took > time.Second {
		t.Fatalf("b took the released lease after %v", took)
	}
	// Close ends b's Run too, giving the lease up.
	b.Close()
	if a.Held("job") || b.Held("job") {
		t.Fatal("a lease is still held after Close")
	}
	if h, err := a.Holder(context.Background(), "job"); err != nil || h != "" {
		t.Fatalf("after Close the holder is %q, %v", h, err)
	}
}

// TestDutyThatReturnsGivesTheLeaseUp has a duty end by itself: its lease
// is given up, and another node takes it at once.
func TestDutyThatReturnsGivesTheLeaseUp(t *testing.T) {
	js := backbone(t)
	a, b := node(t, js, "a", 3*time.Second), node(t, js, "b", 3*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		a.Run(ctx, "once", func(context.Context) { ran.Add(1) })
	})
	for deadline := time.Now().Add(2 * time.Second); ran.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the duty never ran")
		}
	}
	got := make(chan struct{})
	wg.Go(func() {
		b.Run(ctx, "once", func(ctx context.Context) {
			close(got)
			<-ctx.Done()
		})
	})
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("a duty that returned kept its lease")
	}
	cancel()
}

func TestOpenRefusesAShortTTL(t *testing.T) {
	if _, err := Open(context.Background(), backbone(t), Options{TTL: time.Millisecond}); err == nil {
		t.Fatal("a TTL of 1ms was accepted")
	}
}

// TestARenewalThatLandedTwiceKeepsTheLease writes the holder's own value
// once more, as a renewal whose answer was lost and which was sent again
// would: the holder's next renewal finds its revision moved on by its
// own write, and keeps the lease rather than dropping it.
func TestARenewalThatLandedTwiceKeepsTheLease(t *testing.T) {
	js := backbone(t)
	a := node(t, js, "a", time.Second)
	d := &duties{running: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.Run(ctx, "job", d.duty("a")) })
	d.waitHolder(t, 2*time.Second)
	e, err := a.kv.Get(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.kv.Update(ctx, "job", e.Value(), e.Revision()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // three renewals
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.starts != 1 || len(d.running) != 1 {
		t.Fatalf("the duty started %d times and runs on %v, want once, still running", d.starts, d.running)
	}
}
