package meter

import (
	"context"
	"log/slog"
	"math"
	"testing"

	"github.com/aloft-dev/aloft/internal/store"
)

func TestPricingAndPersistence(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(ctx, st.JetStream(), "", 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		m.Record("a", 250, 1024) // 0.25 GB-s each
	}
	m.Record("b", 1, 128)
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st, err = store.Open(ctx, store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err = Open(ctx, st.JetStream(), "", 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	r := m.Report()
	if len(r.Functions) != 2 || r.Functions[0].FunctionName != "a" {
		t.Fatalf("got %+v", r.Functions)
	}
	a := r.Functions[0]
	if a.Requests != 4 || a.BilledMs != 1000 || a.GBSeconds != 1 {
		t.Fatalf("a got %+v, want 4 requests, 1000 ms, 1 GB-s", a)
	}
	if want := 4*0.2/1e6 + 0.0000166667; math.Abs(a.Cost-want) > 1e-15 {
		t.Fatalf("a cost got %g, want %g", a.Cost, want)
	}
	if r.Total.Requests != 5 || r.Total.BilledMs != 1001 {
		t.Fatalf("total got %+v", r.Total)
	}
}

// TestNodesAddUp: two nodes of a cluster on one backbone each save their
// own counts, neither overwrites the other's, each reports the sum, and
// each loads only its own at the next start.
func TestNodesAddUp(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	open := func(node string) *Meter {
		m, err := Open(ctx, st.JetStream(), node, 0, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := open("node1"), open("node2")
	a.Record("f", 100, 1024)
	a.Record("f", 100, 1024)
	b.Record("f", 300, 1024)
	b.Record("g", 1, 128)
	for _, m := range []*Meter{a, b} {
		if err := m.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for name, m := range map[string]*Meter{"node1": a, "node2": b} {
		r := m.Report()
		if len(r.Functions) != 2 || r.Functions[0].Requests != 3 || r.Functions[0].BilledMs != 500 || r.Functions[1].Requests != 1 || r.Total.Requests != 4 {
			t.Fatalf("%s reports %+v", name, r)
		}
	}
	a.Close(ctx)
	a = open("node1")
	defer a.Close(ctx)
	defer b.Close(ctx)
	a.mu.Lock()
	own := *a.m["f"]
	_, g := a.m["g"]
	a.mu.Unlock()
	if own.Requests != 2 || g {
		t.Fatalf("node1 loaded %+v (and g: %v), want only its own 2 requests of f", own, g)
	}
	if r := a.Report(); r.Total.Requests != 4 {
		t.Fatalf("node1 after its restart reports %+v", r.Total)
	}
}
