package registry

import (
	"archive/zip"
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/store"
)

func zipOf(t *testing.T, name, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(name)
	w.Write([]byte(body))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(t *testing.T, dir string) (*store.Store, *Registry) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), st.JetStream(), filepath.Join(dir, "code"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return st, r
}

func TestLifecycleAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, r := open(t, dir)
	var mu sync.Mutex
	var changed []string // hooks run on the caller's goroutine or the watch's
	r.OnChange(func(n string) { mu.Lock(); changed = append(changed, n); mu.Unlock() })

	cfg := function.Config{FunctionName: "f1", Runtime: "python3.11", Handler: "app.handler"}
	cfg.ApplyDefaults()
	rec, err := r.Create(ctx, cfg, "us-east-1", nil, zipOf(t, "app.py", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Config.CodeSha256 == "" || rec.Config.RevisionID == "" || rec.Config.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:f1" {
		t.Fatalf("create filled %+v", rec.Config)
	}
	if _, err := r.Create(ctx, cfg, "us-east-1", nil, zipOf(t, "app.py", "v1")); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("second create got %v, want conflict", err)
	}
	if _, err := r.Update(ctx, "f1", "wrong-revision", nil, nil); err == nil {
		t.Fatal("update with a stale revision id succeeded")
	}
	up, err := r.Update(ctx, "f1", rec.Config.RevisionID, zipOf(t, "app.py", "v2"), func(c *function.Config) error {
		c.MemorySize = 256
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Config.MemorySize != 256 || up.CodeHex == rec.CodeHex || up.Config.RevisionID == rec.Config.RevisionID {
		t.Fatalf("update got %+v", up.Config)
	}
	if got, _ := r.Get("f1"); got.Config.MemorySize != 256 {
		t.Fatalf("get after update got memory %d, want 256", got.Config.MemorySize)
	}
	time.Sleep(100 * time.Millisecond) // let the watch deliver the update too
	mu.Lock()
	if len(changed) != 1 || changed[0] != "f1" {
		t.Fatalf("change hooks got %v, want [f1]", changed)
	}
	mu.Unlock()
	r.Close()
	st.Close()

	// Restart with an empty code cache: the code comes back from the store.
	os.RemoveAll(filepath.Join(dir, "code"))
	st, r = open(t, dir)
	defer st.Close()
	defer r.Close()
	got, ok := r.Get("f1")
	if !ok || got.Config.MemorySize != 256 {
		t.Fatalf("after restart got %+v, %v", got, ok)
	}
	codeDir, err := r.Unpacked(ctx, got.CodeHex)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(codeDir, "app.py")); string(b) != "v2" {
		t.Fatalf("code after restart got %q, want v2", b)
	}
	if err := r.Delete(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Get("f1"); ok {
		t.Fatal("function still there after delete")
	}
	if err := r.Delete(ctx, "f1"); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("second delete got %v, want not found", err)
	}
}

func TestDeleteThenCreateAgain(t *testing.T) {
	ctx := context.Background()
	st, r := open(t, t.TempDir())
	defer st.Close()
	defer r.Close()
	cfg := function.Config{FunctionName: "again", Runtime: "python3.11", Handler: "app.handler"}
	cfg.ApplyDefaults()
	for i := range 20 { // quickly, so the watch lags behind the writes
		body := string(rune('a' + i))
		if _, err := r.Create(ctx, cfg, "us-east-1", nil, zipOf(t, "app.py", body)); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if err := r.Delete(ctx, "again"); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
		if _, ok := r.Get("again"); ok {
			t.Fatalf("round %d: deleted function still visible", i)
		}
	}
}

// A function's tags give its versions their network too: a version
// published before the function was cut off from the network is cut off
// with it.
func TestVersionsShareTheNetwork(t *testing.T) {
	rec := &Record{Config: function.Config{FunctionName: "f", Version: function.LatestVersion},
		Versions: []Version{{Config: function.Config{FunctionName: "f", Version: "1"}}}}
	rec.Tags = map[string]string{function.NetworkTag: function.NetworkNone}
	rec.derive()
	tg, err := rec.Resolve("1")
	if err != nil || tg.Config.Network != function.NetworkNone {
		t.Fatalf("version 1's network %q (%v), want %q", tg.Config.Network, err, function.NetworkNone)
	}
}

// BenchmarkResolve is what resolving a qualifier costs an invocation:
// $LATEST, a version, a plain alias and a weighted one, on a function
// with 50 versions.
func BenchmarkResolve(b *testing.B) {
	rec := &Record{Config: function.Config{FunctionName: "f", Version: function.LatestVersion, FunctionArn: function.ARN("us-east-1", "f", "")}, Region: "us-east-1"}
	for i := 1; i <= 50; i++ {
		rec.Versions = append(rec.Versions, Version{Config: function.Config{FunctionName: "f", Version: strconv.Itoa(i)}})
	}
	rec.Aliases = map[string]*Alias{"live": {Name: "live", FunctionVersion: "7"},
		"canary": {Name: "canary", FunctionVersion: "7", RoutingConfig: &RoutingConfig{AdditionalVersionWeights: map[string]float64{"8": 0.1}}}}
	rec.derive()
	for _, q := range []string{"", "7", "live", "canary"} {
		b.Run("q="+q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rec.Resolve(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
