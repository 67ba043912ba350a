package layers

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aloft-dev/aloft/internal/bundle"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/store"
)

func zipOf(t *testing.T, files map[string]string) ([]byte, bundle.Info) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := bundle.Inspect(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), info
}

func openStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := Open(context.Background(), st.JetStream(), filepath.Join(dir, "layers"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	z, info := zipOf(t, map[string]string{"python/a.py": "A = 1\n"})
	// Concurrent publications get distinct numbers.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.Publish(ctx, Input{Name: "deps", Region: "us-east-1"}, z, info); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	vs := s.Versions("deps")
	if len(vs) != 8 || vs[0].Version != 8 || vs[7].Version != 1 {
		t.Fatalf("versions: %d, newest %d", len(vs), vs[0].Version)
	}
	if err := s.Delete(ctx, "deps", 8); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Live("deps", 8); ok {
		t.Error("deleted version is live")
	}
	if v, ok := s.Get("deps", 8); !ok || !v.Deleted {
		t.Error("deleted version should stay as a tombstone")
	}
	v, err := s.Publish(ctx, Input{Name: "deps", Region: "us-east-1"}, z, info)
	if err != nil || v.Version != 9 {
		t.Fatalf("after a deletion: %v %v", v, err)
	}
	// Identical content is stored once and unpacked once.
	if entries, _ := os.ReadDir(filepath.Join(s.dir, "content")); len(entries) != 1 {
		t.Errorf("content entries: %d", len(entries))
	}
	// Policies: revision preconditions and statement ids.
	v, err = s.AddStatement(ctx, "deps", 1, Statement{Sid: "a", Action: "lambda:GetLayerVersion", Principal: "*"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddStatement(ctx, "deps", 1, Statement{Sid: "b"}, "stale"); fault.KindOf(err) != fault.PreconditionFailed {
		t.Errorf("stale revision: %v", err)
	}
	if _, err := s.AddStatement(ctx, "deps", 1, Statement{Sid: "a"}, v.PolicyRevision); fault.KindOf(err) != fault.Conflict {
		t.Errorf("duplicate sid: %v", err)
	}
	if err := s.RemoveStatement(ctx, "deps", 1, "zz", ""); fault.KindOf(err) != fault.NotFound {
		t.Errorf("unknown sid: %v", err)
	}
	if _, err := s.AddStatement(ctx, "deps", 8, Statement{Sid: "a"}, ""); fault.KindOf(err) != fault.NotFound {
		t.Errorf("policy of a deleted version: %v", err)
	}
	// Merged content of two versions of different layers.
	z2, info2 := zipOf(t, map[string]string{"python/a.py": "A = 2\n", "bin/x": "x"})
	other, err := s.Publish(ctx, Input{Name: "other", Region: "us-east-1"}, z2, info2)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := s.Merged(ctx, []string{"arn:aws:lambda:us-east-1:000000000000:layer:deps:1", other.ARN()})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "python/a.py")); string(b) != "A = 2\n" {
		t.Errorf("merged a.py: %q", b)
	}
	if again, _ := s.Merged(ctx, []string{"arn:aws:lambda:us-east-1:000000000000:layer:deps:1", other.ARN()}); again != dir {
		t.Errorf("merge not cached: %s vs %s", again, dir)
	}
	// A node that has not seen the content fetches it from the backbone.
	os.RemoveAll(filepath.Join(s.dir, "content"))
	os.RemoveAll(filepath.Join(s.dir, "merged"))
	if _, err := s.Merged(ctx, []string{other.ARN(), "arn:aws:lambda:us-east-1:000000000000:layer:deps:8"}); err != nil {
		t.Fatalf("refill (with a deleted version): %v", err)
	}
	if err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
}
