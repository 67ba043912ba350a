package objstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestCRCCombine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for alg := range crcPolys {
		whole := newChecksum(alg)
		whole.Write(data)
		want := b64(whole.Sum(nil))
		for _, cuts := range [][]int{{1000, 2000}, {1, 2999}, {0, 1500}, {1500, 1501}, {2999, 3000}} {
			var parts []string
			var sizes []int64
			prev := 0
			for _, c := range append(cuts, len(data)) {
				h := newChecksum(alg)
				h.Write(data[prev:c])
				parts = append(parts, b64(h.Sum(nil)))
				sizes = append(sizes, int64(c-prev))
				prev = c
			}
			got, err := fullChecksum(alg, parts, sizes)
			if err != nil || got != want {
				t.Errorf("%s cut at %v: %s, %v; want %s", alg, cuts, got, err, want)
			}
		}
	}
}

func TestChecksumType(t *testing.T) {
	for _, c := range []struct{ alg, typ, want string }{
		{"CRC32", "", ChecksumComposite}, {"CRC64NVME", "", ChecksumFullObject}, {"SHA256", "COMPOSITE", ChecksumComposite},
		{"CRC32C", "FULL_OBJECT", ChecksumFullObject}, {"SHA1", "FULL_OBJECT", ""}, {"CRC64NVME", "COMPOSITE", ""},
		{"MD5", "", ""}, {"CRC32", "PARTIAL", ""},
	} {
		got, err := ChecksumType(c.alg, c.typ)
		if got != c.want || (c.want == "") != errors.Is(err, ErrChecksumRequest) {
			t.Errorf("ChecksumType(%s, %s) = %q, %v; want %q", c.alg, c.typ, got, err, c.want)
		}
	}
}

// upload runs a whole multipart upload of parts and returns the object.
func upload(t *testing.T, d *Disk, key string, opts PutOptions, parts ...[]byte) (string, []CompletedPart, ObjectInfo) {
	t.Helper()
	ctx := context.Background()
	id, err := d.CreateUpload(ctx, "bkt", key, opts)
	if err != nil {
		t.Fatal(err)
	}
	var done []CompletedPart
	for i, p := range parts {
		info, err := d.UploadPart(ctx, "bkt", key, id, i+1, bytes.NewReader(p), PartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, CompletedPart{Number: i + 1, ETag: info.ETag, Checksums: info.Checksums})
	}
	obj, err := d.CompleteUpload(ctx, "bkt", key, id, done)
	if err != nil {
		t.Fatal(err)
	}
	return id, done, obj
}

func TestMultipartChecksums(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	p1, p2 := bytes.Repeat([]byte("a"), MinPartSize), []byte("tail")
	sum := func(alg string, b ...[]byte) string {
		h := newChecksum(alg)
		for _, x := range b {
			h.Write(x)
		}
		return b64(h.Sum(nil))
	}
	_, _, full := upload(t, d, "full", PutOptions{ChecksumAlgorithm: "CRC32C", ChecksumType: ChecksumFullObject}, p1, p2)
	if full.Checksums["CRC32C"] != sum("CRC32C", p1, p2) || full.ChecksumType != ChecksumFullObject || len(full.PartChecksums) != 2 {
		t.Fatalf("full object checksum %+v", full)
	}
	_, _, comp := upload(t, d, "comp", PutOptions{ChecksumAlgorithm: "SHA256"}, p1, p2)
	raw := func(s string) []byte { b, _ := decodeB64(s); return b }
	want := sum("SHA256", raw(sum("SHA256", p1)), raw(sum("SHA256", p2))) + "-2"
	if comp.Checksums["SHA256"] != want || comp.ChecksumType != ChecksumComposite {
		t.Fatalf("composite checksum %v %s; want %s", comp.Checksums, comp.ChecksumType, want)
	}
	if info, err := d.HeadObject(context.Background(), "bkt", "comp"); err != nil || info.Checksums["SHA256"] != want || info.PartChecksums[1] != sum("SHA256", p2) {
		t.Fatalf("head %+v, %v", info, err)
	}

	// A part whose stated checksum is wrong, or of another algorithm.
	ctx := context.Background()
	id, _ := d.CreateUpload(ctx, "bkt", "bad", PutOptions{ChecksumAlgorithm: "CRC32"})
	if _, err := d.UploadPart(ctx, "bkt", "bad", id, 1, bytes.NewReader(p2), PartOptions{Checksums: map[string]string{"CRC32": sum("CRC32", p1)}}); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("wrong part checksum: %v", err)
	}
	if _, err := d.UploadPart(ctx, "bkt", "bad", id, 1, bytes.NewReader(p2), PartOptions{Checksums: map[string]string{"SHA1": sum("SHA1", p2)}}); !errors.Is(err, ErrChecksumRequest) {
		t.Fatalf("other algorithm: %v", err)
	}
	part, err := d.UploadPart(ctx, "bkt", "bad", id, 1, bytes.NewReader(p2), PartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// COMPOSITE wants every part's checksum in the completion, and a
	// whole-object checksum given must match.
	if _, err := d.CompleteUpload(ctx, "bkt", "bad", id, []CompletedPart{{Number: 1, ETag: part.ETag}}); !errors.Is(err, ErrChecksumRequest) {
		t.Fatalf("complete without part checksums: %v", err)
	}
	cp := []CompletedPart{{Number: 1, ETag: part.ETag, Checksums: part.Checksums}}
	if _, err := d.CompleteUploadWith(ctx, "bkt", "bad", id, cp, CompleteOptions{Checksum: "AAAAAA=="}); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("complete with a wrong checksum: %v", err)
	}
	if _, err := d.CompleteUploadWith(ctx, "bkt", "bad", id, cp, CompleteOptions{Checksum: "AAAAAA==", ChecksumAlgorithm: "SHA1"}); !errors.Is(err, ErrChecksumRequest) {
		t.Fatalf("complete with another algorithm: %v", err)
	}
	if _, err := d.CompleteUploadWith(ctx, "bkt", "bad", id, cp, CompleteOptions{ChecksumType: ChecksumFullObject}); !errors.Is(err, ErrChecksumRequest) {
		t.Fatalf("complete with another type: %v", err)
	}
	if _, err := d.CompleteUploadWith(ctx, "bkt", "bad", id, cp, CompleteOptions{ChecksumType: ChecksumComposite}); err != nil {
		t.Fatal(err)
	}
}

func TestCompleteAgain(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	id, parts, obj := upload(t, d, "k", PutOptions{}, bytes.Repeat([]byte("x"), MinPartSize), []byte("y"))
	again, err := d.CompleteUpload(ctx, "bkt", "k", id, parts)
	if err != nil || again.ETag != obj.ETag || again.Sequencer != "" {
		t.Fatalf("repeat: %+v, %v", again, err)
	}
	if _, err := d.CompleteUpload(ctx, "bkt", "k", id, parts[:1]); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("repeat with other parts: %v", err)
	}
	put(t, d, "bkt", "k", "changed")
	if _, err := d.CompleteUpload(ctx, "bkt", "k", id, parts); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("repeat after a change: %v", err)
	}
}

func TestUploadPartCopy(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	mustBucket(t, d, "src")
	ctx := context.Background()
	content := bytes.Repeat([]byte("0123456789"), MinPartSize/5) // 10 MiB
	if _, err := d.PutObject(ctx, "src", "obj", bytes.NewReader(content), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := d.CreateUpload(ctx, "bkt", "dst", PutOptions{ChecksumAlgorithm: "CRC32", ChecksumType: ChecksumFullObject})
	if err != nil {
		t.Fatal(err)
	}
	whole := func(ObjectInfo) (int64, int64, error) { return 0, -1, nil }
	p1, err := d.UploadPartCopy(ctx, "bkt", "dst", id, 1, "src", "obj", whole)
	if err != nil || p1.Size != int64(len(content)) || p1.ETag != md5hex(string(content)) {
		t.Fatalf("whole copy %+v, %v", p1, err)
	}
	p2, err := d.UploadPartCopy(ctx, "bkt", "dst", id, 2, "src", "obj", func(src ObjectInfo) (int64, int64, error) {
		if src.Size != int64(len(content)) {
			return 0, 0, fmt.Errorf("source size %d", src.Size)
		}
		return 3, 7, nil
	})
	if err != nil || p2.ETag != md5hex(string(content[3:10])) {
		t.Fatalf("range copy %+v, %v", p2, err)
	}
	refuse := errors.New("refused")
	if _, err := d.UploadPartCopy(ctx, "bkt", "dst", id, 3, "src", "obj", func(ObjectInfo) (int64, int64, error) { return 0, 0, refuse }); err != refuse {
		t.Fatalf("refused copy: %v", err)
	}
	if _, err := d.UploadPartCopy(ctx, "bkt", "dst", id, 3, "src", "none", whole); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("missing source: %v", err)
	}
	if _, err := d.UploadPartCopy(ctx, "bkt", "dst", "0123456789abcdef0123456789abcdef", 3, "src", "obj", whole); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("missing upload: %v", err)
	}
	obj, err := d.CompleteUpload(ctx, "bkt", "dst", id, []CompletedPart{{Number: 1, ETag: p1.ETag}, {Number: 2, ETag: p2.ETag}})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, content...), content[3:10]...)
	h := newChecksum("CRC32")
	h.Write(want)
	if obj.Size != int64(len(want)) || obj.Checksums["CRC32"] != b64(h.Sum(nil)) {
		t.Fatalf("joined %+v", obj)
	}
	o, err := d.Open(ctx, "bkt", "dst")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r, _ := o.Range(0, -1)
	got, _ := io.ReadAll(r)
	if !bytes.Equal(got, want) {
		t.Fatal("joined content differs")
	}
}

func TestListUploads(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	ids := map[string][]string{}
	for _, k := range []string{"a", "b/1", "b/2", "c", "c", "d/x/1", "e"} {
		id, err := d.CreateUpload(ctx, "bkt", k, PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids[k] = append(ids[k], id)
	}
	all, err := d.ListUploads(ctx, "bkt", UploadListOptions{})
	if err != nil || len(all.Uploads) != 7 || all.IsTruncated {
		t.Fatalf("all: %+v, %v", all, err)
	}
	// Pages of two with a delimiter: a, b/ | c, c | d/, e.
	var got []string
	opts := UploadListOptions{Delimiter: "/", MaxUploads: 2}
	for page := 0; ; page++ {
		l, err := d.ListUploads(ctx, "bkt", opts)
		if err != nil || page > 5 {
			t.Fatalf("page %d: %+v, %v", page, l, err)
		}
		for _, u := range l.Uploads {
			got = append(got, u.Key)
		}
		got = append(got, l.CommonPrefixes...)
		if !l.IsTruncated {
			break
		}
		opts.KeyMarker, opts.UploadIDMarker = l.NextKeyMarker, l.NextUploadIDMarker
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[a b/ c c d/ e]" {
		t.Fatalf("paged: %v", got)
	}
	l, err := d.ListUploads(ctx, "bkt", UploadListOptions{Prefix: "b/"})
	if err != nil || len(l.Uploads) != 2 || l.Uploads[0].Key != "b/1" {
		t.Fatalf("prefix: %+v, %v", l, err)
	}
	l, err = d.ListUploads(ctx, "bkt", UploadListOptions{Prefix: "d/", Delimiter: "/"})
	if err != nil || fmt.Sprint(l.CommonPrefixes) != "[d/x/]" {
		t.Fatalf("prefix and delimiter: %+v, %v", l, err)
	}
	if _, err := d.ListUploads(ctx, "nope", UploadListOptions{}); !errors.Is(err, ErrNoSuchBucket) {
		t.Fatalf("missing bucket: %v", err)
	}

	// Old uploads go; newer ones stay.
	n, err := d.AbortUploadsBefore(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 7 {
		t.Fatalf("abort old: %d, %v", n, err)
	}
	if l, _ := d.ListUploads(ctx, "bkt", UploadListOptions{}); len(l.Uploads) != 0 {
		t.Fatalf("left: %+v", l)
	}
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func TestSweeper(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	old, err := d.CreateUpload(ctx, "bkt", "old", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Hour)
	d.now = func() time.Time { return later }
	fresh, err := d.CreateUpload(ctx, "bkt", "fresh", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32 // the lease is held from the third round on
	s := d.StartSweeper(SweepOptions{MaxAge: time.Hour, Interval: 10 * time.Millisecond,
		Hold: func(context.Context) bool { return asked.Add(1) > 2 }})
	deadline := time.After(10 * time.Second)
	for {
		l, err := d.ListUploads(ctx, "bkt", UploadListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Uploads) == 1 {
			if l.Uploads[0].UploadID != fresh {
				t.Fatalf("left %+v, want the fresh upload", l.Uploads)
			}
			break
		}
		select {
		case <-deadline:
			t.Fatalf("upload %s not aborted", old)
		case <-time.After(10 * time.Millisecond):
		}
	}
	s.Stop()
	if n := asked.Load(); n < 3 {
		t.Fatalf("swept before the lease was held: %d rounds asked", n)
	}
	a, err := d.StoreID()
	if err != nil || len(a) != 32 {
		t.Fatalf("store id %q, %v", a, err)
	}
	if b, err := d.StoreID(); err != nil || b != a {
		t.Fatalf("store id changed: %q, %v", b, err)
	}
}

// BenchmarkUploadPartCopy64M copies a 64 MiB object into a part.
func BenchmarkUploadPartCopy64M(b *testing.B) {
	d := openTest(b)
	mustBucket(b, d, "bkt")
	ctx := context.Background()
	content := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	if _, err := d.PutObject(ctx, "bkt", "src", bytes.NewReader(content), PutOptions{}); err != nil {
		b.Fatal(err)
	}
	id, err := d.CreateUpload(ctx, "bkt", "dst", PutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.UploadPartCopy(ctx, "bkt", "dst", id, 1, "bkt", "src", func(ObjectInfo) (int64, int64, error) { return 0, -1, nil }); err != nil {
			b.Fatal(err)
		}
	}
}
