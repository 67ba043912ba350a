package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func openTest(t testing.TB) *Disk {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "objects"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustBucket(t testing.TB, d *Disk, name string) {
	t.Helper()
	if err := d.CreateBucket(context.Background(), name, ""); err != nil {
		t.Fatal(err)
	}
}

func put(t testing.TB, d *Disk, bucket, key, body string) ObjectInfo {
	t.Helper()
	info, err := d.PutObject(context.Background(), bucket, key, strings.NewReader(body), PutOptions{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return info
}

func read(t testing.TB, d *Disk, bucket, key string) (string, ObjectInfo) {
	t.Helper()
	o, err := d.Open(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer o.Close()
	r, err := o.Range(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), o.Info()
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// tmpEntries lists what is left in the store's tmp/ directory.
func tmpEntries(t *testing.T, d *Disk) []string {
	t.Helper()
	ents, err := os.ReadDir(d.tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestBuckets(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	if err := d.CreateBucket(ctx, "Bad_Name", ""); !errors.Is(err, ErrInvalidBucket) {
		t.Fatalf("invalid name: got %v", err)
	}
	mustBucket(t, d, "beta")
	if err := d.CreateBucket(ctx, "alpha", "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateBucket(ctx, "alpha", ""); !errors.Is(err, ErrBucketExists) {
		t.Fatalf("second create: got %v", err)
	}
	list, err := d.ListBuckets(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "beta" {
		t.Fatalf("list: got %+v, %v", list, err)
	}
	if b, err := d.Bucket(ctx, "alpha"); err != nil || b.Region != "eu-west-1" {
		t.Fatalf("alpha: got %+v, %v", b, err)
	}
	if b, _ := d.Bucket(ctx, "beta"); b.Region != DefaultRegion {
		t.Fatalf("beta region %q", b.Region)
	}
	put(t, d, "alpha", "x/y", "z")
	if err := d.DeleteBucket(ctx, "alpha"); !errors.Is(err, ErrBucketNotEmpty) {
		t.Fatalf("delete non-empty: got %v", err)
	}
	if _, err := d.DeleteObject(ctx, "alpha", "x/y"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUpload(ctx, "alpha", "k", PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteBucket(ctx, "alpha"); err != nil {
		t.Fatalf("delete emptied bucket: %v", err)
	}
	if _, err := d.Bucket(ctx, "alpha"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("deleted bucket: got %v", err)
	}
	if err := d.DeleteBucket(ctx, "alpha"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("delete twice: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.uploadsRoot, "alpha")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("uploads of the deleted bucket remain: %v", err)
	}
	if left := tmpEntries(t, d); len(left) != 0 {
		t.Fatalf("tmp holds %v", left)
	}
}

func TestPutGetMetadata(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	opts := PutOptions{
		ContentType: "text/plain",
		Metadata:    map[string]string{"color": "blue"},
		Headers:     map[string]string{"Cache-Control": "no-cache"},
		Checksums:   map[string]string{"CRC32": "AAAAAA=="},
	}
	info, err := d.PutObject(ctx, "bkt", "greeting", strings.NewReader("hello"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != md5hex("hello") || info.Size != 5 || info.Sequencer == "" {
		t.Fatalf("put info %+v", info)
	}
	body, got := read(t, d, "bkt", "greeting")
	if body != "hello" || got.ContentType != "text/plain" || got.Metadata["color"] != "blue" ||
		got.Headers["Cache-Control"] != "no-cache" || got.Checksums["CRC32"] != "AAAAAA==" || got.ETag != info.ETag {
		t.Fatalf("got %q %+v", body, got)
	}
	if !got.LastModified.Equal(info.LastModified) {
		t.Fatalf("last modified %v, put said %v", got.LastModified, info.LastModified)
	}
	put(t, d, "bkt", "plain", "")
	if _, got := read(t, d, "bkt", "plain"); got.ContentType != defaultContent || got.Size != 0 || got.ETag != md5hex("") {
		t.Fatalf("empty object %+v", got)
	}
	// A range.
	o, err := d.Open(ctx, "bkt", "greeting")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := o.Range(1, 3)
	b, _ := io.ReadAll(r)
	o.Close()
	if string(b) != "ell" {
		t.Fatalf("range got %q", b)
	}
	if _, err := d.Open(ctx, "bkt", "missing"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := d.Open(ctx, "nobucket", "k"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("missing bucket: %v", err)
	}
	if _, err := d.PutObject(ctx, "nobucket", "k", strings.NewReader("x"), PutOptions{}); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("put to missing bucket: %v", err)
	}
}

func TestOddKeysStayInside(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	keys := []string{"..", "../x", "a/../../../etc/passwd", "a//b", "/lead", "//", ".", "./a", "trail/",
		"Mixed.Case", "mixed.case", strings.Repeat("é", MaxKeyLen/2), strings.Repeat("/", MaxKeyLen), "%2F", "a\x00b", "a\nb"}
	for i, k := range keys {
		put(t, d, "bkt", k, fmt.Sprint(i))
	}
	for i, k := range keys {
		if body, _ := read(t, d, "bkt", k); body != fmt.Sprint(i) {
			t.Errorf("key %q: got %q, want %d", k, body, i)
		}
	}
	// Everything written lives under the bucket's keys directory.
	root := filepath.Dir(d.root)
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && !strings.HasPrefix(p, d.keysDir("bkt")+string(filepath.Separator)) && filepath.Base(p) != "bucket.json" {
			t.Errorf("file outside the key tree: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.ListObjects(context.Background(), "bkt", ListOptions{})
	if err != nil || len(res.Objects) != len(keys) {
		t.Fatalf("list got %d objects, %v", len(res.Objects), err)
	}
	for _, k := range []string{"", strings.Repeat("x", MaxKeyLen+1), "\xff"} {
		if _, err := d.PutObject(context.Background(), "bkt", k, strings.NewReader("x"), PutOptions{}); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
}

// failingReader returns its content and then an error instead of EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestFailedPutLeavesNothing(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	put(t, d, "bkt", "k", "old")
	boom := errors.New("boom")
	_, err := d.PutObject(ctx, "bkt", "k", &failingReader{r: strings.NewReader(strings.Repeat("new", 100000)), err: boom}, PutOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the body's error", err)
	}
	_, err = d.PutObject(ctx, "bkt", "k", strings.NewReader("new"), PutOptions{ContentMD5: make([]byte, 16)})
	if !errors.Is(err, ErrBadDigest) {
		t.Fatalf("bad MD5: got %v", err)
	}
	_, err = d.PutObject(ctx, "bkt", "fresh", strings.NewReader("new"), PutOptions{ContentMD5: make([]byte, 16)})
	if !errors.Is(err, ErrBadDigest) {
		t.Fatalf("bad MD5: got %v", err)
	}
	if body, _ := read(t, d, "bkt", "k"); body != "old" {
		t.Fatalf("object changed to %q", body)
	}
	if _, err := d.HeadObject(ctx, "bkt", "fresh"); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("failed put became visible: %v", err)
	}
	if left := tmpEntries(t, d); len(left) != 0 {
		t.Fatalf("tmp holds %v", left)
	}
	good := md5.Sum([]byte("new"))
	if _, err := d.PutObject(ctx, "bkt", "k", strings.NewReader("new"), PutOptions{ContentMD5: good[:]}); err != nil {
		t.Fatalf("good MD5: %v", err)
	}
}

func TestDeleteAndSequencer(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	long := strings.Repeat("d", 300) + "/leaf"
	a := put(t, d, "bkt", long, "1")
	b := put(t, d, "bkt", long, "2")
	if !(a.Sequencer < b.Sequencer) || len(a.Sequencer) != 16 {
		t.Fatalf("sequencers %q then %q", a.Sequencer, b.Sequencer)
	}
	del, err := d.DeleteObject(ctx, "bkt", long)
	if err != nil || !del.Existed || !(b.Sequencer < del.Sequencer) {
		t.Fatalf("delete got %+v, %v", del, err)
	}
	del, err = d.DeleteObject(ctx, "bkt", long)
	if err != nil || del.Existed {
		t.Fatalf("second delete got %+v, %v", del, err)
	}
	// The directory of the long key went with it.
	if ents, _ := os.ReadDir(d.keysDir("bkt")); len(ents) != 0 {
		t.Fatalf("key tree holds %v", ents)
	}
	if _, err := d.DeleteObject(ctx, "nobucket", "k"); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("delete in missing bucket: %v", err)
	}
}

func TestConcurrentWritersOneKey(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				body := strings.Repeat(fmt.Sprintf("%d-%d;", i, j), 1000)
				if _, err := d.PutObject(context.Background(), "bkt", "dir/"+strings.Repeat("k", 250)+"/x", strings.NewReader(body), PutOptions{}); err != nil {
					t.Error(err)
				}
				if j%3 == 0 {
					d.DeleteObject(context.Background(), "bkt", "dir/"+strings.Repeat("k", 250)+"/x")
				}
			}
		})
	}
	wg.Wait()
	if o, err := d.Open(context.Background(), "bkt", "dir/"+strings.Repeat("k", 250)+"/x"); err == nil {
		info := o.Info()
		r, _ := o.Range(0, -1)
		b, _ := io.ReadAll(r)
		o.Close()
		if md5hex(string(b)) != info.ETag {
			t.Fatalf("content and metadata disagree")
		}
	}
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "src")
	mustBucket(t, d, "dst")
	d.PutObject(ctx, "src", "a", strings.NewReader("payload"), PutOptions{ContentType: "text/x", Metadata: map[string]string{"m": "1"}})
	info, err := d.CopyObject(ctx, "src", "a", "dst", "bkt", nil)
	if err != nil || info.ETag != md5hex("payload") {
		t.Fatalf("copy got %+v, %v", info, err)
	}
	body, got := read(t, d, "dst", "bkt")
	if body != "payload" || got.ContentType != "text/x" || got.Metadata["m"] != "1" {
		t.Fatalf("copy is %q %+v", body, got)
	}
	if _, err := d.CopyObject(ctx, "src", "a", "src", "a", &PutOptions{ContentType: "text/y"}); err != nil {
		t.Fatal(err)
	}
	body, got = read(t, d, "src", "a")
	if body != "payload" || got.ContentType != "text/y" || got.Metadata != nil {
		t.Fatalf("replaced copy is %q %+v", body, got)
	}
	if _, err := d.CopyObject(ctx, "src", "nope", "dst", "c", nil); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("copy of missing key: %v", err)
	}
	if _, err := d.CopyObject(ctx, "src", "a", "nobucket", "c", nil); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("copy to missing bucket: %v", err)
	}
}

func TestNotificationConfig(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	if cfg, err := d.Notification(ctx, "bkt"); err != nil || len(cfg.Functions) != 0 {
		t.Fatalf("default config %+v, %v", cfg, err)
	}
	want := NotificationConfig{Functions: []Notification{{ID: "one", FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f",
		Events: []string{"s3:ObjectCreated:*"}, Prefix: "in/", Suffix: ".jpg"}}}
	if err := d.PutNotification(ctx, "bkt", want); err != nil {
		t.Fatal(err)
	}
	got, err := d.Notification(ctx, "bkt")
	if err != nil || len(got.Functions) != 1 || got.Functions[0].Suffix != ".jpg" || got.Functions[0].Events[0] != "s3:ObjectCreated:*" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := d.PutNotification(ctx, "nobucket", want); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("missing bucket: %v", err)
	}
}

func TestOpenSweepsTemporaryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "objects")
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustBucket(t, d, "bkt")
	put(t, d, "bkt", "k", "v")
	os.WriteFile(filepath.Join(d.tmp, "put-123"), []byte("half an object"), 0o600)
	os.MkdirAll(filepath.Join(d.tmp, "bucket-9", "keys"), 0o700)
	d, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if left := tmpEntries(t, d); len(left) != 0 {
		t.Fatalf("tmp holds %v after Open", left)
	}
	if body, _ := read(t, d, "bkt", "k"); body != "v" {
		t.Fatalf("object lost: %q", body)
	}
}

func TestCorruptFileIsRejected(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	put(t, d, "bkt", "k", "content")
	path := d.objectPath("bkt", "k")
	b, _ := os.ReadFile(path)
	for _, bad := range [][]byte{b[:len(b)-1], append([]byte("x"), b...), bytes.Replace(b, []byte(`"size":7`), []byte(`"size":8`), 1), nil} {
		os.WriteFile(path, bad, 0o600)
		if _, err := d.Open(context.Background(), "bkt", "k"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%d-byte file: got %v, want ErrCorrupt", len(bad), err)
		}
	}
}

func BenchmarkPut4K(b *testing.B) {
	d := openTest(b)
	mustBucket(b, d, "bkt")
	body := bytes.Repeat([]byte("x"), 4096)
	b.SetBytes(int64(len(body)))
	for i := 0; b.Loop(); i++ {
		if _, err := d.PutObject(context.Background(), "bkt", fmt.Sprint(i), bytes.NewReader(body), PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// trailerBody is a body that learns its checksum at the end, as one with
// a checksum trailer does.
type trailerBody struct {
	io.Reader
	done bool
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	b.done = err == io.EOF
	return n, err
}

func (b *trailerBody) Checksums() map[string]string {
	if !b.done {
		return nil
	}
	return map[string]string{"CRC32C": "late"}
}

func TestChecksumsLearnedAtEOF(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	opts := PutOptions{Checksums: map[string]string{"SHA1": "early"}}
	info, err := d.PutObject(ctx, "bkt", "k", &trailerBody{Reader: strings.NewReader("x")}, opts)
	if err != nil || info.Checksums["CRC32C"] != "late" || info.Checksums["SHA1"] != "early" {
		t.Fatalf("put: %+v, %v", info.Checksums, err)
	}
	if len(opts.Checksums) != 1 {
		t.Fatalf("the caller's map changed: %v", opts.Checksums)
	}
	if _, got := read(t, d, "bkt", "k"); got.Checksums["CRC32C"] != "late" {
		t.Fatalf("stored %v", got.Checksums)
	}
	id, _ := d.CreateUpload(ctx, "bkt", "mp", PutOptions{})
	part, err := d.UploadPart(ctx, "bkt", "mp", id, 1, &trailerBody{Reader: strings.NewReader("x")}, PartOptions{})
	if err != nil || part.Checksums["CRC32C"] != "late" {
		t.Fatalf("part: %+v, %v", part, err)
	}
}
