package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const marker = "PLAINTEXT-MARKER-7f3a9c"

// plaintext returns n bytes that repeat a marker string, so that a file
// holding any stretch of them is easy to find.
func plaintext(n int) []byte {
	b := bytes.Repeat([]byte(marker), n/len(marker)+1)[:n]
	// Vary it so that every range is distinct.
	for i := len(marker); i < n; i += 997 {
		b[i] = byte(i)
	}
	return b
}

func customer() Encryption {
	k := make([]byte, 32)
	rand.Read(k)
	return Encryption{Mode: SSECustomer, CustomerKey: k, CustomerKeyMD5: CustomerKeyMD5(k)}
}

func readAllRange(t testing.TB, obj Object, off, length int64) ([]byte, error) {
	t.Helper()
	r, err := obj.Range(off, length)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func openWith(d *Disk, bucket, key string, ck []byte) (Object, error) {
	ctx := context.Background()
	if ck != nil {
		ctx = WithCustomerKey(ctx, ck)
	}
	return d.Open(ctx, bucket, key)
}

func TestSSERoundTrip(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	sizes := []int{0, 1, sseSegment - 1, sseSegment, sseSegment + 1, 3*sseSegment + 7, 5<<20 + 3}
	for _, mode := range []string{SSES3, SSECustomer} {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/%d", mode, n), func(t *testing.T) {
				enc := Encryption{Mode: SSES3}
				if mode == SSECustomer {
					enc = customer()
				}
				p := plaintext(n)
				key := fmt.Sprintf("%s-%d", mode, n)
				info, err := d.PutObject(ctx, "bkt", key, bytes.NewReader(p), PutOptions{Encryption: enc})
				if err != nil {
					t.Fatal(err)
				}
				sum := md5.Sum(p)
				if info.Size != int64(n) || info.Encryption.Mode != mode || info.Encryption.CustomerKey != nil {
					t.Fatalf("info = %+v", info)
				}
				if mode == SSES3 && info.ETag != hex.EncodeToString(sum[:]) {
					t.Fatalf("SSE-S3 ETag %s, want the plaintext's MD5", info.ETag)
				}
				if mode == SSECustomer && (info.ETag == hex.EncodeToString(sum[:]) || len(info.ETag) != 32) {
					t.Fatalf("SSE-C ETag %q: the plaintext's MD5 or malformed", info.ETag)
				}
				raw, err := os.ReadFile(d.objectPath("bkt", key))
				if err != nil {
					t.Fatal(err)
				}
				if n >= len(marker) && bytes.Contains(raw, []byte(marker)) {
					t.Fatal("the plaintext is on disk")
				}
				head, err := d.HeadObject(ctx, "bkt", key)
				if err != nil || head.Size != int64(n) || head.Encryption.Mode != mode {
					t.Fatalf("head = %+v, %v", head, err)
				}
				obj, err := openWith(d, "bkt", key, enc.CustomerKey)
				if err != nil {
					t.Fatal(err)
				}
				defer obj.Close()
				got, err := readAllRange(t, obj, 0, -1)
				if err != nil || !bytes.Equal(got, p) {
					t.Fatalf("whole read: %d bytes, %v", len(got), err)
				}
				checkRanges(t, obj, p)
			})
		}
	}
	st, err := os.Stat(filepath.Join(d.Root(), masterFile))
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 32 {
		t.Fatalf("master key file: %v, %v", st, err)
	}
}

// checkRanges reads ranges around every segment boundary, and random
// ones, and compares them with p.
func checkRanges(t *testing.T, obj Object, p []byte) {
	t.Helper()
	n := int64(len(p))
	type rg struct{ off, length int64 }
	var rs []rg
	if n <= 300 {
		for o := int64(0); o <= n; o++ {
			for l := int64(-1); l <= n-o; l++ {
				rs = append(rs, rg{o, l})
			}
		}
	} else {
		for b := int64(0); b <= n; b += sseSegment {
			for _, o := range []int64{b - 1, b, b + 1} {
				for _, l := range []int64{0, 1, 2, sseSegment - 1, sseSegment, sseSegment + 1, 2*sseSegment + 5} {
					rs = append(rs, rg{o, l})
				}
			}
		}
		for _, o := range []int64{0, 1, sseSegment + 1, n - 1, n} {
			rs = append(rs, rg{o, -1})
		}
		rng := mrand.New(mrand.NewPCG(1, uint64(n)))
		for range 40 {
			o := rng.Int64N(n)
			rs = append(rs, rg{o, rng.Int64N(n - o + 1)})
		}
	}
	for _, r := range rs {
		o, l := r.off, r.length
		if o < 0 || o > n {
			continue
		}
		want := p[o:]
		if l >= 0 && l < int64(len(want)) {
			want = want[:l]
		}
		got, err := readAllRange(t, obj, o, l)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("range %d+%d of %d: got %d bytes (%v), want %d", o, l, n, len(got), err, len(want))
		}
	}
}

// flipAt changes one content byte of an object file.
func flipAt(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b[:], at); err != nil {
		t.Fatal(err)
	}
}

func TestSSETamperIsDetected(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	p := plaintext(3*sseSegment + 100)
	for _, at := range []int64{0, sseSegment + 3, sseSealed + 5, 3*sseSealed + 50, 3*sseSealed + 100 + 15} {
		key := fmt.Sprintf("k%d", at)
		if _, err := d.PutObject(ctx, "bkt", key, bytes.NewReader(p), PutOptions{Encryption: Encryption{Mode: SSES3}}); err != nil {
			t.Fatal(err)
		}
		flipAt(t, d.objectPath("bkt", key), at)
		obj, err := d.Open(ctx, "bkt", key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAllRange(t, obj, 0, -1)
		obj.Close()
		if !errors.Is(err, ErrSSEAuth) {
			t.Fatalf("flip at %d: read %d bytes, err %v; want ErrSSEAuth", at, len(got), err)
		}
		if !bytes.Equal(got, p[:len(got)]) || int64(len(got)) > at/sseSealed*sseSegment {
			t.Fatalf("flip at %d: %d bytes read before the failure, some past the damaged segment or wrong", at, len(got))
		}
	}
}

// rewrite replaces an object file's content and metadata, as an
// attacker with the disk could.
func rewrite(t *testing.T, path string, edit func(content []byte, m *fileMeta) []byte) {
	t.Helper()
	f, m, err := openMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	content := make([]byte, m.storedSize())
	if _, err := f.ReadAt(content, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	content = edit(content, m)
	var buf bytes.Buffer
	buf.Write(content)
	if err := writeFooter(&buf, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSSETruncationIsDetected(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	p := plaintext(2 * sseSegment)
	for i, edit := range []func([]byte, *fileMeta) []byte{
		// The last segment dropped, the size made to match.
		func(c []byte, m *fileMeta) []byte { m.Size = sseSegment; return c[:sseSealed] },
		// The segments swapped.
		func(c []byte, m *fileMeta) []byte {
			return append(append([]byte{}, c[sseSealed:]...), c[:sseSealed]...)
		},
		// Everything dropped: an empty object.
		func(c []byte, m *fileMeta) []byte { m.Size = 0; return c[:sseTag] },
	} {
		key := fmt.Sprint("k", i)
		if _, err := d.PutObject(ctx, "bkt", key, bytes.NewReader(p), PutOptions{Encryption: Encryption{Mode: SSES3}}); err != nil {
			t.Fatal(err)
		}
		rewrite(t, d.objectPath("bkt", key), edit)
		obj, err := d.Open(ctx, "bkt", key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAllRange(t, obj, 0, -1)
		obj.Close()
		if !errors.Is(err, ErrSSEAuth) {
			t.Fatalf("edit %d: read %d bytes, err %v; want ErrSSEAuth", i, len(got), err)
		}
	}
}

func TestSSECustomerKeys(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	enc := customer()
	p := plaintext(1000)
	if _, err := d.PutObject(ctx, "bkt", "c", bytes.NewReader(p), PutOptions{Encryption: enc}); err != nil {
		t.Fatal(err)
	}
	put(t, d, "bkt", "plain", "x")
	if _, err := openWith(d, "bkt", "c", nil); !errors.Is(err, ErrSSEKeyRequired) {
		t.Fatalf("no key: %v", err)
	}
	other := customer()
	if _, err := openWith(d, "bkt", "c", other.CustomerKey); !errors.Is(err, ErrSSEKeyMismatch) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := openWith(d, "bkt", "plain", other.CustomerKey); !errors.Is(err, ErrSSENotApplicable) {
		t.Fatalf("key for a plain object: %v", err)
	}
	// A key whose MD5 is stored but which does not open the data key:
	// the MD5 alone is never taken for the key.
	path := d.objectPath("bkt", "c")
	rewrite(t, path, func(c []byte, m *fileMeta) []byte { m.SSE.KeyMD5 = other.CustomerKeyMD5; return c })
	if _, err := openWith(d, "bkt", "c", other.CustomerKey); !errors.Is(err, ErrSSEKeyMismatch) {
		t.Fatalf("key with the stored MD5 but not the object's: %v", err)
	}
	bad := enc
	bad.CustomerKeyMD5 = other.CustomerKeyMD5
	if _, err := d.PutObject(ctx, "bkt", "d", strings.NewReader("x"), PutOptions{Encryption: bad}); !errors.Is(err, ErrSSEInvalid) {
		t.Fatalf("MD5 mismatch: %v", err)
	}
	if _, err := d.PutObject(ctx, "bkt", "d", strings.NewReader("x"), PutOptions{Encryption: Encryption{Mode: "aws:kms"}}); !errors.Is(err, ErrSSEInvalid) {
		t.Fatalf("aws:kms: %v", err)
	}
}

func TestSSECopy(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	p := plaintext(200 << 10)
	c1, c2 := customer(), customer()
	if _, err := d.PutObject(ctx, "bkt", "s3", bytes.NewReader(p), PutOptions{Encryption: Encryption{Mode: SSES3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutObject(ctx, "bkt", "plain", bytes.NewReader(p), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutObject(ctx, "bkt", "c1", bytes.NewReader(p), PutOptions{Encryption: c1}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		src, dst string
		srcKey   []byte
		enc      Encryption
		wantErr  error
	}{
		{"s3", "s3-to-plain", nil, Encryption{}, nil},
		{"plain", "plain-to-c2", nil, c2, nil},
		{"c1", "c1-to-s3", c1.CustomerKey, Encryption{Mode: SSES3}, nil},
		{"c1", "c1-to-c2", c1.CustomerKey, c2, nil},
		{"c1", "no-key", nil, Encryption{}, ErrSSEKeyRequired},
		{"c1", "wrong-key", c2.CustomerKey, Encryption{}, ErrSSEKeyMismatch},
		{"plain", "key-for-plain", c2.CustomerKey, Encryption{}, ErrSSENotApplicable},
	}
	for _, c := range cases {
		cctx := ctx
		if c.srcKey != nil {
			cctx = WithCopySourceCustomerKey(ctx, c.srcKey)
		}
		info, err := d.CopyObject(cctx, "bkt", c.src, "bkt", c.dst, &PutOptions{Encryption: c.enc})
		if !errors.Is(err, c.wantErr) {
			t.Fatalf("%s: err %v, want %v", c.dst, err, c.wantErr)
		}
		if err != nil {
			continue
		}
		if info.Encryption.Mode != c.enc.Mode || info.Size != int64(len(p)) {
			t.Fatalf("%s: info %+v", c.dst, info)
		}
		obj, err := openWith(d, "bkt", c.dst, c.enc.CustomerKey)
		if err != nil {
			t.Fatalf("%s: %v", c.dst, err)
		}
		got, err := readAllRange(t, obj, 0, -1)
		obj.Close()
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%s: read %d bytes, %v", c.dst, len(got), err)
		}
	}
}

func TestSSEMultipart(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	p1, p2 := plaintext(MinPartSize+5), plaintext(MinPartSize+3)
	p2[0] = 'Z'
	src := plaintext(300 << 10)
	if _, err := d.PutObject(ctx, "bkt", "src", bytes.NewReader(src), PutOptions{Encryption: Encryption{Mode: SSES3}}); err != nil {
		t.Fatal(err)
	}
	for _, enc := range []Encryption{{Mode: SSES3}, customer()} {
		t.Run(enc.Mode, func(t *testing.T) {
			id, err := d.CreateUpload(ctx, "bkt", "mp", PutOptions{Encryption: enc})
			if err != nil {
				t.Fatal(err)
			}
			pctx := ctx
			if enc.CustomerKey != nil {
				pctx = WithCustomerKey(ctx, enc.CustomerKey)
				if _, err := d.UploadPart(ctx, "bkt", "mp", id, 1, bytes.NewReader(p1), PartOptions{}); !errors.Is(err, ErrSSEUploadMismatch) {
					t.Fatalf("part without the key: %v", err)
				}
				if _, err := d.UploadPart(WithCustomerKey(ctx, customer().CustomerKey), "bkt", "mp", id, 1, bytes.NewReader(p1), PartOptions{}); !errors.Is(err, ErrSSEUploadMismatch) {
					t.Fatalf("part with another key: %v", err)
				}
			}
			// Part 1 twice, so two streams were written under one data key.
			if _, err := d.UploadPart(pctx, "bkt", "mp", id, 1, bytes.NewReader(p2), PartOptions{}); err != nil {
				t.Fatal(err)
			}
			i1, err := d.UploadPart(pctx, "bkt", "mp", id, 1, bytes.NewReader(p1), PartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			i2, err := d.UploadPart(pctx, "bkt", "mp", id, 2, bytes.NewReader(p2), PartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if i1.Size != int64(len(p1)) || i1.Encryption.Mode != enc.Mode {
				t.Fatalf("part info %+v", i1)
			}
			i3, err := d.UploadPartCopy(pctx, "bkt", "mp", id, 3, "bkt", "src", func(ObjectInfo) (int64, int64, error) { return 1000, 100 << 10, nil })
			if err != nil {
				t.Fatal(err)
			}
			info, err := d.CompleteUpload(ctx, "bkt", "mp", id, []CompletedPart{{Number: 1, ETag: i1.ETag}, {Number: 2, ETag: i2.ETag}, {Number: 3, ETag: i3.ETag}})
			if err != nil {
				t.Fatal(err)
			}
			want := append(append(append([]byte{}, p1...), p2...), src[1000:1000+100<<10]...)
			if info.Size != int64(len(want)) || info.Encryption.Mode != enc.Mode {
				t.Fatalf("info %+v", info)
			}
			raw, _ := os.ReadFile(d.objectPath("bkt", "mp"))
			if bytes.Contains(raw, []byte(marker)) {
				t.Fatal("the plaintext is on disk")
			}
			obj, err := openWith(d, "bkt", "mp", enc.CustomerKey)
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			got, err := readAllRange(t, obj, 0, -1)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			// The same through WriteTo, as a response is sent.
			r, err := obj.Range(0, -1)
			if err != nil {
				t.Fatal(err)
			}
			var sent bytes.Buffer
			if _, err := io.Copy(&sent, r); err != nil || !bytes.Equal(sent.Bytes(), want) {
				t.Fatalf("WriteTo: %d bytes, %v", sent.Len(), err)
			}
			for _, r := range [][2]int64{{int64(len(p1)) - 10, 20}, {int64(len(p1)), int64(len(p2))}, {int64(len(p1) + len(p2) - 1), 2}, {5, int64(len(want)) - 10}} {
				got, err := readAllRange(t, obj, r[0], r[1])
				if err != nil || !bytes.Equal(got, want[r[0]:r[0]+r[1]]) {
					t.Fatalf("range %v: %d bytes, %v", r, len(got), err)
				}
			}
			// Retagging copies the content as stored.
			if err := d.PutObjectTags(ctx, "bkt", "mp", map[string]string{"a": "b"}); err != nil {
				t.Fatal(err)
			}
			obj2, err := openWith(d, "bkt", "mp", enc.CustomerKey)
			if err != nil {
				t.Fatal(err)
			}
			got, err = readAllRange(t, obj2, 0, -1)
			obj2.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("after retagging: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestSSEBucketDefault(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	if _, err := d.BucketEncryption(ctx, "bkt"); !errors.Is(err, ErrNoEncryptionConfig) {
		t.Fatalf("no config: %v", err)
	}
	if err := d.PutBucketEncryption(ctx, "bkt", EncryptionConfig{Algorithm: "aws:kms"}); !errors.Is(err, ErrSSEInvalid) {
		t.Fatalf("aws:kms default: %v", err)
	}
	if err := d.PutBucketEncryption(ctx, "bkt", EncryptionConfig{Algorithm: SSES3, BucketKeyEnabled: true}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := d.BucketEncryption(ctx, "bkt"); err != nil || cfg.Algorithm != SSES3 || !cfg.BucketKeyEnabled {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if info := put(t, d, "bkt", "k", marker); info.Encryption.Mode != SSES3 {
		t.Fatalf("put under a default: %+v", info.Encryption)
	}
	id, err := d.CreateUpload(ctx, "bkt", "mp", PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pi, err := d.UploadPart(ctx, "bkt", "mp", id, 1, strings.NewReader(marker), PartOptions{})
	if err != nil || pi.Encryption.Mode != SSES3 {
		t.Fatalf("part under a default: %+v, %v", pi, err)
	}
	if err := d.DeleteBucketEncryption(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	if info := put(t, d, "bkt", "k2", marker); info.Encryption.Mode != "" {
		t.Fatalf("put after the default was removed: %+v", info.Encryption)
	}
	if got, _ := read(t, d, "bkt", "k"); got != marker {
		t.Fatalf("read %q", got)
	}
}

// BenchmarkSSE measures PutObject and a full read with and without
// SSE-S3, at 4 KiB and 16 MiB.
func BenchmarkSSE(b *testing.B) {
	d := openTest(b)
	mustBucket(b, d, "bkt")
	ctx := context.Background()
	for _, size := range []int{4 << 10, 16 << 20} {
		p := plaintext(size)
		for _, mode := range []string{"", SSES3} {
			name := "off"
			if mode != "" {
				name = "sse-s3"
			}
			key := fmt.Sprintf("%s-%d", name, size)
			b.Run(fmt.Sprintf("put/%s/%dKiB", name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := d.PutObject(ctx, "bkt", key, bytes.NewReader(p), PutOptions{Encryption: Encryption{Mode: mode}}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("get/%s/%dKiB", name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					obj, err := d.Open(ctx, "bkt", key)
					if err != nil {
						b.Fatal(err)
					}
					r, err := obj.Range(0, -1)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						b.Fatal(err)
					}
					obj.Close()
				}
			})
		}
	}
}

func TestSSEMasterKeyPersists(t *testing.T) {
	root := filepath.Join(t.TempDir(), "objects")
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	// Writers racing to make the key agree on one.
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := d.PutObject(ctx, "bkt", fmt.Sprint("k", i), strings.NewReader(marker), PutOptions{Encryption: Encryption{Mode: SSES3}})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Another store over the same directory (a restart) reads them.
	d2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if got, _ := read(t, d2, "bkt", fmt.Sprint("k", i)); got != marker {
			t.Fatalf("k%d after reopening: %q", i, got)
		}
	}
	// A damaged key file is an error, never a new key.
	if err := os.WriteFile(filepath.Join(root, masterFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	d3, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d3.Open(ctx, "bkt", "k0"); err == nil || errors.Is(err, ErrSSEAuth) {
		t.Fatalf("read with a damaged master key: %v", err)
	}
}

// BenchmarkSSEContent measures the content path alone, without the file
// system's fsync and page cache: a body copied into a file (/dev/null)
// with its MD5, sealed or not, and a stored range read back, opened or
// not. It is the CPU cost of encryption.
func BenchmarkSSEContent(b *testing.B) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	d := openTest(b)
	size := 16 << 20
	p := plaintext(size)
	for _, mode := range []string{"", SSES3} {
		name := "off"
		if mode != "" {
			name = "sse-s3"
		}
		b.Run("put/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				t := &tempFile{f: null}
				if err := d.seal(t, Encryption{Mode: mode}); err != nil {
					b.Fatal(err)
				}
				if _, _, err := t.readContent(bytes.NewReader(p), MaxObjectSize); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The stored form of p, sealed, to read back.
	var stored bytes.Buffer
	g, err := newGCM(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	var nonce [sseNonce]byte
	for i := 0; i*sseSegment < size; i++ {
		end := min((i+1)*sseSegment, size)
		aad := aadMore
		if end == size {
			aad = aadLast
		}
		stored.Write(g.Seal(nil, sseNonceOf(nonce[:], 7, int64(i)), p[i*sseSegment:end], aad))
	}
	m := &fileMeta{Size: int64(size), SSE: &sseMeta{Mode: SSES3, Streams: []uint64{7}}}
	b.Run("get/off", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			if _, err := io.Copy(io.Discard, io.NewSectionReader(bytes.NewReader(p), 0, int64(size))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/sse-s3", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			o, err := newOpener(bytes.NewReader(stored.Bytes()), m, g)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, o.reader(0, int64(size))); err != nil || n != int64(size) {
				b.Fatal(n, err)
			}
		}
	})
}

// TestSSEWriteTo reads long ranges of encrypted objects as a GET does
// (io.Copy, which takes the reader's WriteTo: opened a batch ahead, from
// a mapping of the file), whole and from offsets inside segments, of a
// plain upload and of a multipart one; and a damaged segment far into
// the file stops the copy with ErrSSEAuth after exactly the segments
// before it.
func TestSSEWriteTo(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	p := plaintext(5<<20 + 3)
	if _, err := d.PutObject(ctx, "bkt", "big", bytes.NewReader(p), PutOptions{Encryption: Encryption{Mode: SSES3}}); err != nil {
		t.Fatal(err)
	}
	ranges := [][2]int64{{0, -1}, {1, -1}, {sseSegment + 17, 3 << 20}, {2<<20 + 5, -1}, {int64(len(p)) - (2<<20 + 9), -1}}
	copyRange := func(key string, off, length int64) ([]byte, error) {
		obj, err := d.Open(ctx, "bkt", key)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		r, err := obj.Range(off, length)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.(io.WriterTo); !ok {
			t.Fatalf("the reader of an encrypted range has no WriteTo: %T", r)
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, r)
		return buf.Bytes(), err
	}
	for _, rg := range ranges {
		got, err := copyRange("big", rg[0], rg[1])
		want := p[rg[0]:]
		if rg[1] >= 0 {
			want = want[:rg[1]]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("range %v: %d bytes (want %d), %v", rg, len(got), len(want), err)
		}
	}
	// A multipart object: several streams, one per part.
	up, err := d.CreateUpload(ctx, "bkt", "parts", PutOptions{Encryption: Encryption{Mode: SSES3}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []CompletedPart
	for i, cut := range [][2]int{{0, 5 << 20}, {5 << 20, len(p)}} {
		pi, err := d.UploadPart(ctx, "bkt", "parts", up, i+1, bytes.NewReader(p[cut[0]:cut[1]]), PartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, CompletedPart{Number: i + 1, ETag: pi.ETag})
	}
	if _, err := d.CompleteUpload(ctx, "bkt", "parts", up, parts); err != nil {
		t.Fatal(err)
	}
	for _, rg := range ranges {
		got, err := copyRange("parts", rg[0], rg[1])
		want := p[rg[0]:]
		if rg[1] >= 0 {
			want = want[:rg[1]]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("multipart range %v: %d bytes (want %d), %v", rg, len(got), len(want), err)
		}
	}
	// Damage segment 60 (past the first batches).
	flipAt(t, d.objectPath("bkt", "big"), 60*sseSealed+100)
	got, err := copyRange("big", 0, -1)
	if !errors.Is(err, ErrSSEAuth) {
		t.Fatalf("a damaged segment read without error: %d bytes, %v", len(got), err)
	}
	if len(got) > 60*sseSegment || !bytes.Equal(got, p[:len(got)]) {
		t.Fatalf("%d bytes copied before the damaged segment, some past it or wrong", len(got))
	}
}

// A body that arrives in uneven pieces, long enough to go round the
// sealer's ring of segments more than once, reads back whole.
func TestSSEUnevenBody(t *testing.T) {
	d := openTest(t)
	mustBucket(t, d, "bkt")
	ctx := context.Background()
	p := plaintext(3*sealRing*sseSegment + 12345)
	if _, err := d.PutObject(ctx, "bkt", "uneven", iotest.HalfReader(bytes.NewReader(p)), PutOptions{Encryption: Encryption{Mode: SSES3}}); err != nil {
		t.Fatal(err)
	}
	obj, err := d.Open(ctx, "bkt", "uneven")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	r, err := obj.Range(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("read %d bytes of %d back (%v)", len(got), len(p), err)
	}
}

// errAfter reads n bytes of r, then fails.
type errAfter struct {
	r io.Reader
	n int
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, errors.New("boom")
	}
	if len(p) > e.n {
		p = p[:e.n]
	}
	k, err := e.r.Read(p)
	e.n -= k
	return k, err
}

// sealedTemp returns a new temporary file set to be sealed.
func sealedTemp(t *testing.T) *tempFile {
	key := bytes.Repeat([]byte{3}, 32)
	g, err := newGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	return &tempFile{f: f, path: f.Name(), seal: newSealer(g, key, &sseMeta{})}
}

// sealBody seals body through readSealed into a new file, as a PUT does.
func sealBody(t *testing.T, body io.Reader, limit int64) (*tempFile, int64, [16]byte, error) {
	tf := sealedTemp(t)
	n, sum, err := tf.readSealed(body, limit)
	return tf, n, sum, err
}

// openSealedFile opens every segment of tf's file, checking the lengths and
// the last segment's mark, and returns the plaintext.
func openSealedFile(t *testing.T, tf *tempFile, plainLen int) []byte {
	s := tf.seal
	data, err := os.ReadFile(tf.path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != sealedLen(int64(plainLen)) {
		t.Fatalf("sealed %d bytes, want %d", len(data), sealedLen(int64(plainLen)))
	}
	var out []byte
	for seg := int64(0); ; seg++ {
		end := min(len(data), sseSealed)
		last := end == len(data)
		aad := aadMore
		if last {
			aad = aadLast
		}
		var nonce [sseNonce]byte
		p, err := s.aead.Open(nil, sseNonceOf(nonce[:], s.stream, seg), data[:end], aad)
		if err != nil {
			t.Fatalf("segment %d (last %v): %v", seg, last, err)
		}
		out = append(out, p...)
		data = data[end:]
		if last {
			return out
		}
	}
}

// Bodies of every size around the segment, the batch and the sealer's
// buffers, read whole, in halves, with their data and EOF together and a
// byte at a time, seal to files that open to the same bytes, with the
// right MD5, and leave no goroutine behind.
func TestSealedWriteSizes(t *testing.T) {
	base := runtime.NumGoroutine()
	S := sseSegment
	for _, n := range []int{0, 1, S - 1, S, S + 1, 2 * S, 2*S + 1, 16 * S, 17 * S, 18 * S, 18*S + 1, 19 * S, 36 * S, 37*S + 5, 55*S - 3} {
		for ri, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.HalfReader,
			iotest.DataErrReader,
			func(r io.Reader) io.Reader { return io.LimitReader(iotest.OneByteReader(r), 1<<62) },
		} {
			if ri == 3 && n > 3*S {
				continue
			}
			p := plaintext(n)
			tf, got, sum, err := sealBody(t, wrap(bytes.NewReader(p)), 1<<40)
			if err != nil || got != int64(n) || sum != md5.Sum(p) {
				t.Fatalf("n %d reader %d: %d %v", n, ri, got, err)
			}
			if back := openSealedFile(t, tf, n); !bytes.Equal(back, p) {
				t.Fatalf("n %d reader %d: content differs", n, ri)
			}
			tf.f.Close()
		}
	}
	time.Sleep(50 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > base {
		t.Fatalf("goroutines %d > %d", g, base)
	}
}

// A body that fails or runs past the limit at any point ends the write
// with that error, and so does a file that cannot be written; no
// goroutine is left behind.
func TestSealedWriteErrors(t *testing.T) {
	base := runtime.NumGoroutine()
	S := sseSegment
	for _, n := range []int{0, 1, S, S + 1, 2*S + 7, 17*S + 3, 18 * S, 30*S + 9} {
		p := plaintext(40 * S)
		_, _, _, err := sealBody(t, &errAfter{iotest.HalfReader(bytes.NewReader(p)), n}, 1<<40)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("boom")) {
			t.Fatalf("n %d: %v", n, err)
		}
		_, _, _, err = sealBody(t, bytes.NewReader(p), int64(n))
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("limit %d: %v", n, err)
		}
	}
	tf := sealedTemp(t)
	tf.f.Close()
	if _, _, err := tf.readSealed(bytes.NewReader(plaintext(3<<20)), 1<<40); err == nil {
		t.Fatal("a write to a closed file was not reported")
	}
	time.Sleep(50 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > base {
		t.Fatalf("goroutines %d > %d", g, base)
	}
}
