package s3api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestPostPolicyParse(t *testing.T) {
	tests := []struct {
		doc, msg string // msg: "" when taken, else the start of the refusal
	}{
		{`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","u/"],["content-length-range",1,10]]}`, ""},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","$key","k"],["content-length-range","0","5"]]}`, ""},
		{`{"conditions":[]}`, "Invalid Policy: Policy missing expiration."},
		{`{"expiration":"2030-01-01T00:00:00Z"}`, "Invalid Policy: Policy missing conditions."},
		{`{"expiration":"tomorrow","conditions":[]}`, "Invalid Policy: Invalid 'expiration' value"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":{}}`, "Invalid Policy: Invalid 'conditions' value"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["in","$key","k"]]}`, "Invalid Policy: Invalid Condition"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","key","k"]]}`, "Invalid Policy: Invalid Condition"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","$key"]]}`, "Invalid Policy: Invalid Condition"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",10,1]]}`, "Invalid Policy: Invalid content-length-range"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",-1,1]]}`, "Invalid Policy: Invalid content-length-range"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[{"key":5}]}`, "Invalid Policy: Invalid Simple-Condition"},
		{`{"expiration":"2030-01-01T00:00:00Z","conditions":[],"extra":1}`, "Invalid Policy: Unexpected field"},
		{`{"expiration":`, "Invalid Policy: Invalid JSON."},
		{`[]`, "Invalid Policy: Invalid JSON."},
	}
	for _, tt := range tests {
		_, err := parsePostPolicy(b64(tt.doc))
		got := ""
		if err != nil {
			e := err.(*Error)
			if e.Code != "InvalidPolicyDocument" {
				t.Errorf("%s: code %s", tt.doc, e.Code)
			}
			got = e.Message
		}
		if tt.msg == "" && got != "" || !strings.HasPrefix(got, tt.msg) {
			t.Errorf("%s: got %q, want %q", tt.doc, got, tt.msg)
		}
	}
	if _, err := parsePostPolicy("not base64!"); err == nil || err.(*Error).Message != "Invalid Policy: Invalid 'base64' encoding." {
		t.Errorf("bad base64: %v", err)
	}
}

func TestPostPolicyCheck(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	policy := func(conds ...any) *postPolicy {
		b, _ := json.Marshal(map[string]any{"expiration": "2026-01-01T00:10:00Z", "conditions": conds})
		p, err := parsePostPolicy(b64(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	form := func(kv ...string) *postForm {
		f := &postForm{}
		for i := 0; i < len(kv); i += 2 {
			f.fields = append(f.fields, formField{strings.ToLower(kv[i]), kv[i+1]})
		}
		return f
	}
	tests := []struct {
		name string
		p    *postPolicy
		f    *postForm
		when time.Time
		msg  string // "" when it holds
		min  int64
		max  int64
	}{
		{"exact and prefix", policy(map[string]string{"bucket": "b"}, []any{"starts-with", "$key", "u/"}, []any{"eq", "$Content-Type", "text/plain"}),
			form("key", "u/${filename}", "Content-Type", "text/plain", "policy", "x", "x-amz-signature", "s", "x-ignore-me", "1"), now, "", 0, 0},
		{"expired", policy(), form(), now.Add(10 * time.Minute), "Invalid according to Policy: Policy expired.", 0, 0},
		{"wrong bucket", policy(map[string]string{"bucket": "other"}), form(), now,
			`Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "other"]`, 0, 0},
		{"key outside prefix", policy([]any{"starts-with", "$key", "u/"}), form("key", "v/x"), now,
			`Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "u/"]`, 0, 0},
		{"quoted as written", policy([]any{"starts-with", "$Key", "a<&\"b"}), form("key", "x"), now,
			`Invalid according to Policy: Policy Condition failed: ["starts-with", "$Key", "a<&\"b"]`, 0, 0},
		{"field absent", policy([]any{"eq", "$x-amz-meta-a", "1"}, []any{"starts-with", "$key", ""}), form("key", "k"), now,
			`Invalid according to Policy: Policy Condition failed: ["eq", "$x-amz-meta-a", "1"]`, 0, 0},
		{"field names in any case", policy([]any{"starts-with", "$KEY", ""}, map[string]string{"X-Amz-Meta-A": "1"}), form("Key", "k", "x-amz-meta-a", "1"), now, "", 0, 0},
		{"extra fields", policy([]any{"starts-with", "$key", ""}), form("key", "k", "acl", "private", "x-amz-meta-a", "1"), now,
			"Invalid according to Policy: Extra input fields: acl, x-amz-meta-a", 0, 0},
		{"content types", policy([]any{"starts-with", "$Content-Type", "image/"}, []any{"starts-with", "$key", ""}), form("key", "k", "content-type", "image/png, image/jpeg"), now, "", 0, 0},
		{"content types, one outside", policy([]any{"starts-with", "$Content-Type", "image/"}, []any{"starts-with", "$key", ""}), form("key", "k", "content-type", "image/png, text/plain"), now,
			`Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]`, 0, 0},
		{"ranges intersect", policy([]any{"content-length-range", 1, 100}, []any{"content-length-range", "5", "50"}), form(), now, "", 5, 50},
	}
	for _, tt := range tests {
		limits, err := tt.p.check(tt.when, tt.f, "b", strings.ReplaceAll(func() string { v, _ := tt.f.get("key"); return v }(), "${filename}", "a.txt"))
		got := ""
		if err != nil {
			got = err.(*Error).Message
			if c := err.(*Error).Code; c != "AccessDenied" {
				t.Errorf("%s: code %s", tt.name, c)
			}
		}
		if got != tt.msg {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.msg)
		}
		if err == nil && tt.max != 0 && (limits.min != tt.min || limits.max != tt.max) {
			t.Errorf("%s: limits %+v, want %d-%d", tt.name, limits, tt.min, tt.max)
		}
	}
}

// postBody builds a multipart form: the fields in order, then the file.
func postBody(t testing.TB, fields [][2]string, filename string, content []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if content != nil {
		fw, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// signedFields returns the fields of a form signed with the test key,
// with the policy's conditions and the signature fields.
func signedFields(t testing.TB, bucket string, expires time.Time, conds []any, fields ...[2]string) [][2]string {
	t.Helper()
	now := time.Now().UTC()
	day := now.Format("20060102")
	cred := testKey + "/" + day + "/us-east-1/s3/aws4_request"
	amzDate := now.Format("20060102T150405Z")
	conds = append(conds, map[string]string{"bucket": bucket}, map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": cred}, map[string]string{"x-amz-date": amzDate})
	doc, _ := json.Marshal(map[string]any{"expiration": expires.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
	policy := base64.StdEncoding.EncodeToString(doc)
	key := []byte("AWS4" + testSecret)
	for _, p := range []string{day, "us-east-1", "s3", "aws4_request"} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(p))
		key = m.Sum(nil)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(policy))
	return append(fields, [2]string{"x-amz-algorithm", "AWS4-HMAC-SHA256"}, [2]string{"x-amz-credential", cred},
		[2]string{"x-amz-date", amzDate}, [2]string{"policy", policy}, [2]string{"x-amz-signature", hex.EncodeToString(m.Sum(nil))})
}

func TestPostObjectHandler(t *testing.T) {
	e := newEnv(t)
	if err := e.store.CreateBucket(t.Context(), "forms", ""); err != nil {
		t.Fatal(err)
	}
	post := func(body io.Reader, ct string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Post(e.srv.URL+"/forms", ct, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	hour := time.Now().Add(time.Hour)
	conds := []any{[]any{"starts-with", "$key", "up/"}, []any{"content-length-range", 1, 8}, []any{"starts-with", "$Content-Type", ""}}

	body, ct := postBody(t, signedFields(t, "forms", hour, conds, [2]string{"key", "up/${filename}"}, [2]string{"Content-Type", "text/plain"}), "a.txt", []byte("hello"))
	resp, text := post(body, ct)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("ETag") == "" {
		t.Fatalf("post: %d %s", resp.StatusCode, text)
	}
	info, err := e.store.HeadObject(t.Context(), "forms", "up/a.txt")
	if err != nil || info.Size != 5 || info.ContentType != "text/plain" {
		t.Fatalf("stored: %+v %v", info, err)
	}
	if ch := e.taken(); len(ch) != 1 || ch[0].EventName != "ObjectCreated:Post" || ch[0].Key != "up/a.txt" || ch[0].PrincipalID != testKey {
		t.Fatalf("changes: %+v", ch)
	}

	refused := []struct {
		name   string
		fields [][2]string
		file   []byte
		status int
		code   string
	}{
		{"too large", signedFields(t, "forms", hour, conds, [2]string{"key", "up/big"}, [2]string{"Content-Type", ""}), []byte("123456789"), 400, "EntityTooLarge"},
		{"too small", signedFields(t, "forms", hour, conds, [2]string{"key", "up/small"}, [2]string{"Content-Type", ""}), []byte{}, 400, "EntityTooSmall"},
		{"expired", signedFields(t, "forms", time.Now().Add(-time.Minute), conds, [2]string{"key", "up/late"}, [2]string{"Content-Type", ""}), []byte("x"), 403, "AccessDenied"},
		{"anonymous", [][2]string{{"key", "up/anon"}}, []byte("x"), 403, "AccessDenied"},
		{"no key", signedFields(t, "forms", hour, conds), []byte("x"), 400, "InvalidArgument"},
		{"no file", signedFields(t, "forms", hour, conds, [2]string{"key", "up/nofile"}), nil, 400, "InvalidArgument"},
		{"fields too large", [][2]string{{"key", "up/huge"}, {"x-ignore-pad", strings.Repeat("p", maxFormFields)}}, []byte("x"), 400, "MaxPostPreDataLengthExceeded"},
	}
	for _, tt := range refused {
		body, ct := postBody(t, tt.fields, "f", tt.file)
		resp, text := post(body, ct)
		if resp.StatusCode != tt.status || !strings.Contains(text, "<Code>"+tt.code+"</Code>") {
			t.Errorf("%s: %d %s, want %d %s", tt.name, resp.StatusCode, text, tt.status, tt.code)
		}
	}
	// Checksums: one given and checked, one asked for by algorithm and
	// computed; both kept.
	sumConds := append(conds, []any{"starts-with", "$x-amz-checksum-sha256", ""}, []any{"starts-with", "$x-amz-checksum-algorithm", ""})
	sha := sha256.Sum256([]byte("sum"))
	body, ct = postBody(t, signedFields(t, "forms", hour, sumConds, [2]string{"key", "up/sum"}, [2]string{"Content-Type", ""},
		[2]string{"x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(sha[:])}), "f", []byte("sum"))
	if resp, text := post(body, ct); resp.StatusCode != 204 || resp.Header.Get("X-Amz-Checksum-Sha256") != base64.StdEncoding.EncodeToString(sha[:]) {
		t.Fatalf("checksum: %d %v %s", resp.StatusCode, resp.Header, text)
	}
	body, ct = postBody(t, signedFields(t, "forms", hour, sumConds, [2]string{"key", "up/computed"}, [2]string{"Content-Type", ""},
		[2]string{"x-amz-checksum-algorithm", "CRC32"}), "f", []byte("sum"))
	if resp, text := post(body, ct); resp.StatusCode != 204 || resp.Header.Get("X-Amz-Checksum-Crc32") == "" {
		t.Fatalf("computed checksum: %d %v %s", resp.StatusCode, resp.Header, text)
	}
	if info, err := e.store.HeadObject(t.Context(), "forms", "up/computed"); err != nil || info.Checksums["CRC32"] == "" {
		t.Fatalf("computed checksum kept: %+v %v", info.Checksums, err)
	}
	body, ct = postBody(t, signedFields(t, "forms", hour, sumConds, [2]string{"key", "up/badsum"}, [2]string{"Content-Type", ""},
		[2]string{"x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(sha[:])}), "f", []byte("not sum"))
	if resp, text := post(body, ct); resp.StatusCode != 400 || !strings.Contains(text, "<Code>BadDigest</Code>") {
		t.Fatalf("bad checksum: %d %s", resp.StatusCode, text)
	}
	e.taken()
	if _, err := e.store.DeleteObject(t.Context(), "forms", "up/sum"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.DeleteObject(t.Context(), "forms", "up/computed"); err != nil {
		t.Fatal(err)
	}

	// A tampered signature.
	fields := signedFields(t, "forms", hour, conds, [2]string{"key", "up/tampered"}, [2]string{"Content-Type", ""})
	fields[len(fields)-1][1] = strings.Repeat("0", 64)
	body, ct = postBody(t, fields, "f", []byte("x"))
	if resp, text := post(body, ct); resp.StatusCode != 403 || !strings.Contains(text, "SignatureDoesNotMatch") {
		t.Errorf("tampered: %d %s", resp.StatusCode, text)
	}
	// Not a form.
	if resp, text := post(strings.NewReader("key=k"), "application/x-www-form-urlencoded"); resp.StatusCode != 412 || !strings.Contains(text, "multipart/form-data") {
		t.Errorf("not multipart: %d %s", resp.StatusCode, text)
	}
	if ch := e.taken(); len(ch) != 0 {
		t.Fatalf("refused posts reported changes: %+v", ch)
	}
	list, err := e.store.ListObjects(t.Context(), "forms", objstore.ListOptions{})
	if err != nil || len(list.Objects) != 1 {
		t.Fatalf("after refusals the bucket holds %+v (%v)", list.Objects, err)
	}
}

func TestReadPostFormLimits(t *testing.T) {
	read := func(build func(mw *multipart.Writer)) (*postForm, error) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		build(mw)
		mw.Close()
		return readPostForm(&buf, mw.Boundary())
	}
	code := func(err error) string {
		if e, ok := err.(*Error); ok {
			return e.Code
		}
		return ""
	}
	// A part header far larger than the fields may be.
	_, err := read(func(mw *multipart.Writer) {
		w, _ := mw.CreatePart(map[string][]string{"Content-Disposition": {`form-data; name="key"`}, "X-Pad": {strings.Repeat("h", 200<<10)}})
		w.Write([]byte("k"))
	})
	if code(err) != "MaxPostPreDataLengthExceeded" {
		t.Errorf("large part header: %v", err)
	}
	// Fields at the limit are read; the file after them streams whole,
	// however large, and fields after it are not read.
	big := bytes.Repeat([]byte("f"), 1<<20)
	f, err := read(func(mw *multipart.Writer) {
		mw.WriteField("key", "k")
		mw.WriteField("x-ignore-pad", strings.Repeat("p", maxFormFields-len("key")-len("k")-len("x-ignore-pad")))
		w, _ := mw.CreateFormFile("file", "dir/name.txt")
		w.Write(big)
		mw.WriteField("after", "ignored")
	})
	if err != nil || len(f.fields) != 2 || f.filename != "name.txt" {
		t.Fatalf("fields at the limit: %+v %v", f, err)
	}
	if got, err := io.ReadAll(f.file); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("file: %d bytes, %v", len(got), err)
	}
	if _, ok := f.get("after"); ok {
		t.Fatal("a field after the file was read")
	}
	// One byte more is refused; so are a nameless part and a duplicate.
	_, err = read(func(mw *multipart.Writer) {
		mw.WriteField("key", "k")
		mw.WriteField("x-ignore-pad", strings.Repeat("p", maxFormFields-len("key")-len("k")-len("x-ignore-pad")+1))
	})
	if code(err) != "MaxPostPreDataLengthExceeded" {
		t.Errorf("one byte over: %v", err)
	}
	_, err = read(func(mw *multipart.Writer) {
		w, _ := mw.CreatePart(map[string][]string{"Content-Disposition": {`form-data`}})
		w.Write([]byte("v"))
	})
	if code(err) != "MalformedPOSTRequest" {
		t.Errorf("nameless part: %v", err)
	}
	_, err = read(func(mw *multipart.Writer) {
		mw.WriteField("Key", "a")
		mw.WriteField("key", "b")
	})
	if code(err) != "InvalidArgument" {
		t.Errorf("duplicate field: %v", err)
	}
	if _, err := readPostForm(strings.NewReader("not multipart"), "b"); code(err) != "MalformedPOSTRequest" {
		t.Errorf("not multipart: %v", err)
	}
}

// BenchmarkPostObject posts a signed form with an 8 MiB file through the
// handler; its B/op shows the file streams rather than being held.
func BenchmarkPostObject(b *testing.B) {
	store, err := objstore.Open(filepath.Join(b.TempDir(), "objects"))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.CreateBucket(context.Background(), "bench", ""); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: store,
		Verifier: &sigv4.Verifier{Lookup: func(id string) (string, bool) { return testSecret, id == testKey }}}))
	defer srv.Close()
	content := bytes.Repeat([]byte("x"), 8<<20)
	fields := signedFields(b, "bench", time.Now().Add(time.Hour), []any{[]any{"starts-with", "$key", ""}}, [2]string{"key", "k"})
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		body, ct := postBody(b, fields, "f", content)
		b.StartTimer()
		resp, err := http.Post(srv.URL+"/bench", ct, body)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
