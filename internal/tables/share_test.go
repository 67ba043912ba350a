package tables

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/lease"
)

// TestSharedSweep shares the sweeper of two nodes by a lease: one of them
// sweeps, and once it closes the other takes over.
func TestSharedSweep(t *testing.T) {
	SweepEvery = 20 * time.Millisecond
	defer func() { SweepEvery = time.Second }()
	st := openStore(t)
	ctx := context.Background()
	leases := func(node string) *lease.Leases {
		l, err := lease.Open(ctx, st.JetStream(), lease.Options{Node: node, TTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		return l
	}
	la, lb := leases("a"), leases("b")
	a, b := service(t, st), service(t, st)
	a.Share(la)
	b.Share(lb)
	if _, err := a.CreateTable(ctx, Def{Name: "sessions", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"id", "HASH"}},
		AttributeDefinitions: []AttributeDefinition{{"id", "S"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetTTL(ctx, "sessions", true, "exp"); err != nil {
		t.Fatal(err)
	}
	put := func(s *Service, id string) {
		t.Helper()
		if _, err := s.PutItem(ctx, "sessions", it(t, fmt.Sprintf(`{"id":{"S":%q},"exp":{"N":"%d"}}`, id, time.Now().Unix()-10)), Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(s *Service, id string) func() bool {
		return func() bool {
			got, err := s.GetItem(ctx, "sessions", it(t, `{"id":{"S":"`+id+`"}}`), true)
			return err == nil && got == nil
		}
	}
	put(a, "one")
	waitFor(t, gone(b, "one"))
	if la.Held(SweepLease) == lb.Held(SweepLease) {
		t.Fatalf("a holds the sweeper's lease: %v, b: %v; want exactly one", la.Held(SweepLease), lb.Held(SweepLease))
	}
	holder, other, lo := a, b, lb
	if lb.Held(SweepLease) {
		holder, other, lo = b, a, la
	}
	start := time.Now()
	holder.Close()
	t.Logf("closed in %v", time.Since(start))
	waitFor(t, func() bool { return lo.Held(SweepLease) })
	t.Logf("taken over in %v", time.Since(start))
	put(other, "two")
	waitFor(t, gone(other, "two"))
	t.Logf("swept in %v", time.Since(start))
}
