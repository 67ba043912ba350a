package layers

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, root, rel, body string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMerge(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, a, "python/conf.py", "first")
	write(t, a, "python/only_a.py", "a")
	write(t, a, "bin/tool", "a")
	write(t, b, "python/conf.py", "second")
	write(t, b, "bin/tool/inner", "now a directory") // a file replaced by a directory
	// A link an earlier layer made must not carry a later layer's files
	// out of the merged tree.
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(c, "escape")); err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	write(t, d, "escape/planted", "x")
	dst := filepath.Join(t.TempDir(), "merged")
	if err := Merge(dst, []string{a, b, c, d}); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{
		"python/conf.py":   "second",
		"python/only_a.py": "a",
		"bin/tool/inner":   "now a directory",
		"escape/planted":   "x",
	} {
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", rel, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("a file was written through an earlier layer's link")
	}
	if fi, err := os.Lstat(filepath.Join(dst, "escape")); err != nil || !fi.IsDir() {
		t.Errorf("escape should have become a directory: %v %v", fi, err)
	}
	// The sources are untouched.
	if got, _ := os.ReadFile(filepath.Join(a, "python/conf.py")); string(got) != "first" {
		t.Errorf("source changed: %q", got)
	}
	// A second merge into an existing destination keeps the first.
	if err := Merge(dst, []string{b}); err != nil {
		t.Fatal(err)
	}
}
