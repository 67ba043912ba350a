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
	m, err := Open(ctx, st.JetStream(), 0, slog.New(slog.DiscardHandler))
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
	m, err = Open(ctx, st.JetStream(), 0, slog.New(slog.DiscardHandler))
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
