package client

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type zipEntry struct {
	Mode fs.FileMode
	Body string
}

func readZip(t *testing.T, data []byte) (map[string]zipEntry, []string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	got := map[string]zipEntry{}
	var order []string
	for _, f := range zr.File {
		if f.CreatorVersion>>8 != 3 {
			t.Errorf("%s: creator %d, want unix (3)", f.Name, f.CreatorVersion>>8)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got[f.Name] = zipEntry{f.Mode(), string(body)}
		order = append(order, f.Name)
	}
	return got, order
}

func writeFile(t *testing.T, path, body string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to umask
		t.Fatal(err)
	}
}

func TestZipDirRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bootstrap"), "#!/bin/sh\necho hi\n", 0o755)
	writeFile(t, filepath.Join(dir, "lib", "data.txt"), "data", 0o644)
	writeFile(t, filepath.Join(dir, "lib", "secret.txt"), "s", 0o600)
	writeFile(t, filepath.Join(dir, ".git", "HEAD"), "ref: refs/heads/main\n", 0o644)
	writeFile(t, filepath.Join(dir, ".gitignore"), "*.o\n", 0o644)
	if err := os.Symlink("lib/data.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	data, err := ZipDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, order := readZip(t, data)
	want := map[string]zipEntry{
		".gitignore":     {0o644, "*.o\n"},
		"bootstrap":      {0o755, "#!/bin/sh\necho hi\n"},
		"lib/":           {fs.ModeDir | 0o755, ""},
		"lib/data.txt":   {0o644, "data"},
		"lib/secret.txt": {0o600, "s"},
		"link":           {fs.ModeSymlink | 0o777, "lib/data.txt"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("archive (-want +got):\n%s", d)
	}
	wantOrder := []string{".gitignore", "bootstrap", "lib/", "lib/data.txt", "lib/secret.txt", "link"}
	if d := cmp.Diff(wantOrder, order); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}

	// Same tree, same bytes, even when timestamps change.
	later := zipTime.AddDate(40, 0, 0)
	if err := os.Chtimes(filepath.Join(dir, "bootstrap"), later, later); err != nil {
		t.Fatal(err)
	}
	again, err := ZipDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Error("ZipDir is not deterministic")
	}
}

func TestZipDirNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	writeFile(t, f, "x", 0o644)
	if _, err := ZipDir(f); err == nil {
		t.Error("ZipDir of a file succeeded")
	}
}

func TestLoadCode(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "index.py"), "def handler(e, c): return e\n", 0o644)
	archive, err := ZipDir(src)
	if err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(dir, "code.zip")
	writeFile(t, zipPath, string(archive), 0o644)
	noExt := filepath.Join(dir, "code-archive")
	writeFile(t, noExt, string(archive), 0o644)
	bootstrap := filepath.Join(dir, "bin", "bootstrap")
	writeFile(t, bootstrap, "\x7fELF", 0o644)
	other := filepath.Join(dir, "handler.py")
	writeFile(t, other, "x", 0o755)
	badZip := filepath.Join(dir, "bad.zip")
	writeFile(t, badZip, "not a zip", 0o644)

	t.Run("dir", func(t *testing.T) {
		data, err := LoadCode(src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, archive) {
			t.Error("directory archive differs from ZipDir")
		}
	})
	t.Run("zip", func(t *testing.T) {
		for _, p := range []string{zipPath, noExt} {
			data, err := LoadCode(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, archive) {
				t.Errorf("%s not sent as is", p)
			}
		}
	})
	t.Run("bootstrap", func(t *testing.T) {
		data, err := LoadCode(bootstrap)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := readZip(t, data)
		want := map[string]zipEntry{"bootstrap": {0o755, "\x7fELF"}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("archive (-want +got):\n%s", d)
		}
	})
	for name, tc := range map[string]struct{ path, want string }{
		"missing":   {filepath.Join(dir, "nope"), "no such file or directory"},
		"other":     {other, "expected a directory, a .zip file or an executable named bootstrap"},
		"bad zip":   {badZip, "not a valid zip archive"},
		"empty arg": {"", "no such file or directory"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadCode(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadCode(%q) = %v, want an error containing %q", tc.path, err, tc.want)
			}
		})
	}
}

func TestPayload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "event.json")
	writeFile(t, file, `{"from":"file"}`, 0o644)
	for _, tc := range []struct {
		arg, stdin, want, err string
	}{
		{arg: `{"a":1}`, want: `{"a":1}`},
		{arg: "", want: ""},
		{arg: "@" + file, want: `{"from":"file"}`},
		{arg: "-", stdin: `{"from":"stdin"}`, want: `{"from":"stdin"}`},
		{arg: "@" + file + ".missing", err: "no such file"},
		{arg: "@", err: "must be followed by a file name"},
	} {
		got, err := ReadPayload(tc.arg, strings.NewReader(tc.stdin))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ReadPayload(%q) error = %v, want %q", tc.arg, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("ReadPayload(%q) = %q, %v; want %q", tc.arg, got, err, tc.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 5 << 40: "5120.0 GiB",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
