package bundle

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
)

type entry struct {
	name string
	body string
	mode os.FileMode
}

func makeZip(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInspectRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string // substring of the message
		code fault.Kind
	}{
		{"garbage", []byte("not a zip at all"), "Could not unzip", fault.Invalid},
		{"slip", makeZip(t, entry{name: "../evil.sh", body: "x"}), "escapes", fault.Invalid},
		{"deep slip", makeZip(t, entry{name: "a/../../evil", body: "x"}), "escapes", fault.Invalid},
		{"absolute", makeZip(t, entry{name: "/etc/passwd", body: "x"}), "absolute", fault.Invalid},
		{"too big", make([]byte, function.MaxZippedSize+1), "Zipped size", fault.TooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(tc.data)
			if err == nil {
				t.Fatal("got nil error")
			}
			e := function.AsError(err)
			if e.Kind != tc.code || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("got %v (%s), want code %s and message containing %q", e, e.Kind, tc.code, tc.want)
			}
		})
	}
}

func TestExtractKeepsModesAndLinks(t *testing.T) {
	data := makeZip(t,
		entry{name: "bootstrap", body: "#!/bin/sh\n", mode: 0o755},
		entry{name: "lib/data.txt", body: "hello", mode: 0o600},
		entry{name: "link", body: "lib/data.txt", mode: os.ModeSymlink | 0o777},
	)
	if _, err := Inspect(data); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "code")
	if err := Extract(data, dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "bootstrap"))
	if err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Fatalf("bootstrap not executable: %v %v", st, err)
	}
	st, _ = os.Stat(filepath.Join(dir, "lib/data.txt"))
	if got := st.Mode().Perm(); got != 0o644 {
		t.Fatalf("data mode got %v, want 0644 (readable by the function user)", got)
	}
	b, err := os.ReadFile(filepath.Join(dir, "link"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("link read got %q, %v", b, err)
	}
}

func TestExtractRejectsEscapingLink(t *testing.T) {
	data := makeZip(t, entry{name: "link", body: "../../etc/shadow", mode: os.ModeSymlink | 0o777})
	dir := filepath.Join(t.TempDir(), "code")
	err := Extract(data, dir)
	if err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("got %v, want link rejection", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Fatalf("destination exists after a failed extraction")
	}
}

func TestExtractRefusesLinkChains(t *testing.T) {
	// "a" points at the root; a deeper link that looks harmless as text
	// would, followed on disk, point outside; writing through it must fail.
	data := makeZip(t,
		entry{name: "a", body: ".", mode: os.ModeSymlink | 0o777},
		entry{name: "a/a/a/x", body: "../../../etc", mode: os.ModeSymlink | 0o777},
		entry{name: "a/a/a/x/passwd", body: "owned"},
	)
	dir := filepath.Join(t.TempDir(), "code")
	err := Extract(data, dir)
	if err == nil || !strings.Contains(err.Error(), "inside the link") {
		t.Fatalf("got %v, want a refusal of entries inside links", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Fatalf("destination exists after a failed extraction")
	}
}

func TestExtractRefusesDuplicateEntries(t *testing.T) {
	data := makeZip(t, entry{name: "app.py", body: "one"}, entry{name: "app.py", body: "two"})
	if err := Extract(data, filepath.Join(t.TempDir(), "code")); err == nil {
		t.Fatal("a zip that writes one path twice was accepted")
	}
}

func TestExtractCountsRealBytes(t *testing.T) {
	// A zip bomb: many bytes that compress to almost nothing. The declared
	// size is honest here; Inspect refuses it before anything is written.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("big")
	chunk := make([]byte, 1<<20)
	for i := 0; i < 251; i++ {
		w.Write(chunk)
	}
	zw.Close()
	_, err := Inspect(buf.Bytes())
	if err == nil || !strings.Contains(err.Error(), "Unzipped size") {
		t.Fatalf("got %v, want unzipped size error", err)
	}
}

func FuzzInspect(f *testing.F) {
	f.Add(makeZipF(f))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Inspect(data); err != nil {
			return
		}
		_ = Extract(data, filepath.Join(t.TempDir(), "x"))
	})
}

func makeZipF(f *testing.F) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("a/b.txt")
	w.Write([]byte("hi"))
	zw.Close()
	return buf.Bytes()
}
