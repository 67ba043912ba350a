package cli

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aloft-dev/aloft/internal/client"
)

// s3Error answers like the S3 API does for an error.
func s3Error(status int, code, message string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>R1</RequestId></Error>`, code, message)
	}
}

// xmlReply answers 200 with an XML document.
func xmlReply(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+body)
	}
}

// status answers with a status and no body.
func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

const listBuckets = `<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>aloft</ID></Owner><Buckets>` +
	`<Bucket><Name>photos</Name><CreationDate>2025-01-02T03:04:05.000Z</CreationDate></Bucket>` +
	`<Bucket><Name>photos-resized</Name><CreationDate>2025-01-02T03:04:06.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>`

func TestBucketCommands(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"PUT /photos":    status(200),
		"PUT /taken":     s3Error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it."),
		"GET ":           xmlReply(listBuckets),
		"DELETE /photos": status(204),
		"DELETE /full":   s3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty"),
		"DELETE /nope":   s3Error(404, "NoSuchBucket", "The specified bucket does not exist"),
	})
	if r := f.run("bucket", "create", "photos").ok(t); r.stdout != "created bucket photos\n" {
		t.Errorf("create: %q", r.stdout)
	}
	golden(t, "bucket-list.golden", f.run("bucket", "list").ok(t).stdout)
	golden(t, "bucket-list.json.golden", f.run("bucket", "ls", "-o", "json").ok(t).stdout)
	if r := f.run("bucket", "delete", "s3://photos").ok(t); r.stdout != "deleted bucket photos\n" {
		t.Errorf("delete: %q", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bucket", "create", "taken"}, `aloft: bucket "taken" already exists`},
		{[]string{"bucket", "delete", "full"}, `aloft: bucket "full" is not empty (delete its objects first, or pass --force)`},
		{[]string{"bucket", "delete", "nope"}, `aloft: bucket "nope" not found`},
		{[]string{"bucket", "create"}, `aloft: missing the bucket name (see "aloft bucket create --help")`},
		{[]string{"bucket", "create", "a", "b"}, `aloft: unexpected argument "b" (see "aloft bucket create --help")`},
	} {
		r := f.run(tc.args...)
		if r.code != 1 || r.stderr != tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestBucketDeleteForce(t *testing.T) {
	var deleted []string
	var mu sync.Mutex
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /full": xmlReply(`<ListBucketResult><Name>full</Name><KeyCount>2</KeyCount><IsTruncated>false</IsTruncated>` +
			`<Contents><Key>a b.txt</Key><Size>1</Size></Contents><Contents><Key>c/d</Key><Size>2</Size></Contents></ListBucketResult>`),
		"POST /full": func(w http.ResponseWriter, r *http.Request) {
			var doc struct {
				Objects []struct{ Key string } `xml:"Object"`
			}
			body, _ := io.ReadAll(r.Body)
			if err := xml.Unmarshal(body, &doc); err != nil {
				t.Errorf("batch delete body %s: %v", body, err)
			}
			mu.Lock()
			for _, o := range doc.Objects {
				deleted = append(deleted, o.Key)
			}
			mu.Unlock()
			xmlReply(`<DeleteResult></DeleteResult>`)(w, r)
		},
		"DELETE /full": status(204),
	})
	f.run("bucket", "delete", "full", "--force").ok(t)
	if d := cmp.Diff([]string{"a b.txt", "c/d"}, deleted); d != "" {
		t.Errorf("objects deleted (-want +got):\n%s", d)
	}
	reqs := f.requests()
	if len(reqs) != 3 || reqs[0].Query["list-type"][0] != "2" || reqs[1].Query["delete"] == nil || reqs[2].Method != "DELETE" {
		t.Errorf("requests: %+v", reqs)
	}
}

// signedHash checks that a request signed the SHA-256 of its body.
func signedHash(t *testing.T, r request) {
	t.Helper()
	sum := sha256.Sum256(r.Body)
	if got := r.Header.Get("X-Amz-Content-Sha256"); got != hex.EncodeToString(sum[:]) {
		t.Errorf("%s %s: x-amz-content-sha256 %q is not the body's SHA-256", r.Method, r.Path, got)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "x-amz-content-sha256") {
		t.Errorf("%s %s: the payload hash is not signed: %s", r.Method, r.Path, r.Header.Get("Authorization"))
	}
}

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// putReply answers a PutObject or UploadPart with the body's MD5 as ETag.
func putReply(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("ETag", `"`+etagOf(b)+`"`)
}

func TestObjectPut(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"PUT /photos/cat.jpg":       putReply,
		"PUT /photos/2025/cat.jpg":  putReply,
		"PUT /photos/notes/a b.txt": putReply,
		"PUT /nope/cat.jpg":         s3Error(404, "NoSuchBucket", "The specified bucket does not exist"),
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "cat.jpg")
	data := []byte("\xff\xd8\xff\xe0 not really a jpeg")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.run("object", "put", "photos", file).ok(t)
	want := fmt.Sprintf("uploaded photos/cat.jpg (%d B in 1 request, ETag %s)\n", len(data), etagOf(data))
	if r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	req := f.only()
	if !bytes.Equal(req.Body, data) || req.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("body %q, Content-Type %q", req.Body, req.Header.Get("Content-Type"))
	}
	signedHash(t, req)

	f.run("object", "put", "s3://photos/2025/", file).ok(t)
	r = run(t, t.Context(), f.srv.URL, "from stdin", "object", "put", "photos/notes/a b.txt", "-", "--content-type", "text/plain").ok(t)
	reqs := f.requests()
	if last := reqs[len(reqs)-1]; string(last.Body) != "from stdin" || last.Header.Get("Content-Type") != "text/plain" || last.Path != "/photos/notes/a b.txt" {
		t.Errorf("stdin upload: %s %q %q", last.Path, last.Body, last.Header.Get("Content-Type"))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"object", "put", "nope", file}, `aloft: bucket "nope" not found`},
		{[]string{"object", "put", "photos"}, `aloft: want BUCKET[/KEY] and FILE (or - for standard input) (see "aloft object put --help")`},
		{[]string{"object", "put", "photos", "-"}, `aloft: name the object's key (BUCKET/KEY) when reading standard input (see "aloft object put --help")`},
		{[]string{"object", "put", "photos", filepath.Join(dir, "missing")}, "aloft: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
	} {
		r := f.run(tc.args...)
		if r.code != 1 || r.stderr != tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// multipartFake serves one multipart upload of key and records its parts.
type multipartFake struct {
	t        *testing.T
	mu       sync.Mutex
	parts    map[string][]byte // part number → body
	complete []string          // part numbers listed in Complete
	aborted  bool
	failPart string // part number to refuse
}

func (m *multipartFake) handler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case r.Method == "POST" && q.Has("uploads"):
		xmlReply(`<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>big.bin</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>`)(w, r)
	case r.Method == "PUT" && q.Get("uploadId") == "U1":
		n := q.Get("partNumber")
		if n == m.failPart {
			s3Error(500, "InternalError", "We encountered an internal error. Please try again.")(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		m.parts[n] = b
		w.Header().Set("ETag", `"`+etagOf(b)+`"`)
	case r.Method == "POST" && q.Get("uploadId") == "U1":
		var doc struct {
			Parts []struct{ PartNumber, ETag string } `xml:"Part"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := xml.Unmarshal(b, &doc); err != nil {
			m.t.Errorf("complete body %s: %v", b, err)
		}
		for _, p := range doc.Parts {
			if p.ETag != `"`+etagOf(m.parts[p.PartNumber])+`"` {
				m.t.Errorf("part %s listed with ETag %s", p.PartNumber, p.ETag)
			}
			m.complete = append(m.complete, p.PartNumber)
		}
		xmlReply(`<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>big.bin</Key><ETag>"0123456789abcdef0123456789abcdef-3"</ETag></CompleteMultipartUploadResult>`)(w, r)
	case r.Method == "DELETE" && q.Get("uploadId") == "U1":
		m.aborted = true
		w.WriteHeader(204)
	default:
		m.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(400)
	}
}

func TestObjectPutMultipart(t *testing.T) {
	m := &multipartFake{t: t, parts: map[string][]byte{}}
	f := newFakeAPI(t, map[string]http.HandlerFunc{"POST /b/big.bin": m.handler, "PUT /b/big.bin": m.handler, "DELETE /b/big.bin": m.handler})
	data := make([]byte, 2*client.PartSize+100)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	file := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.run("object", "put", "b", file, "--progress")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := "uploaded b/big.bin (16.0 MiB in 3 parts, ETag 0123456789abcdef0123456789abcdef-3)\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "100%") || !strings.Contains(r.stderr, "big.bin") {
		t.Errorf("no finished progress bar on stderr: %q", r.stderr)
	}
	if d := cmp.Diff([]string{"1", "2", "3"}, m.complete); d != "" {
		t.Errorf("parts completed (-want +got):\n%s", d)
	}
	got := append(append(append([]byte(nil), m.parts["1"]...), m.parts["2"]...), m.parts["3"]...)
	if len(m.parts["1"]) != client.PartSize || len(m.parts["2"]) != client.PartSize || !bytes.Equal(got, data) {
		t.Errorf("parts of %d, %d and %d bytes do not make up the file", len(m.parts["1"]), len(m.parts["2"]), len(m.parts["3"]))
	}
	for _, req := range f.requests() {
		if req.Method == "PUT" {
			signedHash(t, req)
		}
	}
	if m.aborted {
		t.Error("a successful upload was aborted")
	}

	// Without --progress and with a buffer for stderr, no bar is drawn; a
	// failed part aborts the upload.
	m.failPart = "2"
	r = f.run("object", "put", "b", file)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "aloft: ") || !strings.Contains(r.stderr, "InternalError") || strings.Contains(r.stderr, "%") {
		t.Errorf("failed upload: exit %d, stderr %q", r.code, r.stderr)
	}
	if !m.aborted {
		t.Error("the failed upload was not aborted")
	}
}

func TestObjectGet(t *testing.T) {
	content := "hello object"
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /photos/2025/cat.txt": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(content)))
			io.WriteString(w, content)
		},
		"GET /photos/none": s3Error(404, "NoSuchKey", "The specified key does not exist."),
	})
	dir := t.TempDir()
	t.Chdir(dir)
	r := f.run("object", "get", "photos/2025/cat.txt").ok(t)
	if b, err := os.ReadFile(filepath.Join(dir, "cat.txt")); err != nil || string(b) != content {
		t.Errorf("default file: %q, %v", b, err)
	}
	if r.stdout != "downloaded photos/2025/cat.txt to cat.txt (12 B)\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	f.run("object", "get", "s3://photos/2025/cat.txt", "other.txt").ok(t)
	if b, _ := os.ReadFile(filepath.Join(dir, "other.txt")); string(b) != content {
		t.Errorf("named file: %q", b)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	f.run("object", "get", "photos/2025/cat.txt", "sub").ok(t)
	if b, _ := os.ReadFile(filepath.Join(dir, "sub", "cat.txt")); string(b) != content {
		t.Errorf("into a directory: %q", b)
	}
	if r := f.run("object", "get", "photos/2025/cat.txt", "-").ok(t); r.stdout != content {
		t.Errorf("stdout %q", r.stdout)
	}
	r = f.run("object", "get", "photos/none", "none.txt")
	if r.code != 1 || r.stderr != "aloft: object \"none\" not found in bucket \"photos\"\n" {
		t.Errorf("missing: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.txt")); err == nil {
		t.Error("a failed download left a file")
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, ".*")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
	r = f.run("object", "get", "photos")
	if r.code != 1 || !strings.Contains(r.stderr, `"photos" is not BUCKET/KEY`) {
		t.Errorf("bucket only: %q", r.stderr)
	}
}

func TestObjectList(t *testing.T) {
	page1 := `<ListBucketResult><Name>photos</Name><Prefix>2025/</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>` +
		`<NextContinuationToken>T2</NextContinuationToken>` +
		`<Contents><Key>2025/cat.jpg</Key><LastModified>2025-01-02T03:04:05.000Z</LastModified><ETag>"b21b84d653bb07b05b1e6b33684dc11b"</ETag><Size>1305107</Size><StorageClass>STANDARD</StorageClass></Contents>` +
		`<Contents><Key>2025/dog walk.png</Key><LastModified>2025-01-02T04:00:00.000Z</LastModified><ETag>"0123456789abcdef0123456789abcdef-2"</ETag><Size>9437184</Size><StorageClass>STANDARD</StorageClass></Contents>` +
		`</ListBucketResult>`
	page2 := `<ListBucketResult><Name>photos</Name><Prefix>2025/</Prefix><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>` +
		`<Contents><Key>2025/empty</Key><LastModified>2025-01-03T00:00:00.000Z</LastModified><ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>` +
		`</ListBucketResult>`
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /photos": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("continuation-token") == "T2" {
				xmlReply(page2)(w, r)
				return
			}
			xmlReply(page1)(w, r)
		},
		"GET /empty": xmlReply(`<ListBucketResult><Name>empty</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`),
		"GET /nope":  s3Error(404, "NoSuchBucket", "The specified bucket does not exist"),
	})
	golden(t, "object-list.golden", f.run("object", "list", "photos", "--prefix", "2025/").ok(t).stdout)
	for _, req := range f.requests() {
		if req.Query["prefix"][0] != "2025/" || req.Query["list-type"][0] != "2" {
			t.Errorf("list query %v", req.Query)
		}
	}
	golden(t, "object-list.json.golden", f.run("object", "ls", "photos/2025/", "-o", "json").ok(t).stdout)
	if r := f.run("object", "list", "empty", "-o", "json").ok(t); r.stdout != "[]\n" {
		t.Errorf("empty list: %q", r.stdout)
	}
	if r := f.run("object", "list", "nope"); r.code != 1 || r.stderr != "aloft: bucket \"nope\" not found\n" {
		t.Errorf("missing bucket: %q", r.stderr)
	}
}

func TestObjectDelete(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"DELETE /photos/a b.jpg": status(204),
		"DELETE /photos/c/d":     status(204),
		"DELETE /nope/x":         s3Error(404, "NoSuchBucket", "The specified bucket does not exist"),
	})
	r := f.run("object", "delete", "photos/a b.jpg", "s3://photos/c/d").ok(t)
	if r.stdout != "deleted photos/a b.jpg\ndeleted photos/c/d\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = f.run("object", "rm", "nope/x")
	if r.code != 1 || r.stderr != "aloft: bucket \"nope\" not found\n" {
		t.Errorf("missing bucket: exit %d, %q", r.code, r.stderr)
	}
}
