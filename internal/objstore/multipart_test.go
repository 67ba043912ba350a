package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"
)

func TestMultipart(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	id, err := d.CreateUpload(ctx, "bkt", "big", PutOptions{ContentType: "video/x", Metadata: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	p1 := bytes.Repeat([]byte("1"), MinPartSize)
	p2 := bytes.Repeat([]byte("2"), MinPartSize+3)
	p3 := []byte("tail")
	var etags []string
	for i, p := range [][]byte{p1, p2, p3} {
		info, err := d.UploadPart(ctx, "bkt", "big", id, i+1, bytes.NewReader(p), PartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		etags = append(etags, info.ETag)
	}
	// Re-uploading a part replaces it.
	if _, err := d.UploadPart(ctx, "bkt", "big", id, 3, bytes.NewReader([]byte("x")), PartOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := d.UploadPart(ctx, "bkt", "big", id, 3, bytes.NewReader(p3), PartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := d.ListParts(ctx, "bkt", "big", id, 0, 2)
	if err != nil || len(list.Parts) != 2 || !list.IsTruncated || list.NextMarker != 2 || list.Parts[1].Size != int64(len(p2)) {
		t.Fatalf("list parts %+v, %v", list, err)
	}
	list, err = d.ListParts(ctx, "bkt", "big", id, 2, 0)
	if err != nil || len(list.Parts) != 1 || list.IsTruncated || list.Parts[0].ETag != info.ETag {
		t.Fatalf("list parts after 2: %+v, %v", list, err)
	}

	parts := []CompletedPart{{1, `"` + etags[0] + `"`, nil}, {2, etags[1], nil}, {3, etags[2], nil}}
	bad := []struct {
		parts []CompletedPart
		want  error
	}{
		{nil, ErrNoParts},
		{[]CompletedPart{parts[1], parts[0]}, ErrInvalidPartOrder},
		{[]CompletedPart{parts[0], parts[0]}, ErrInvalidPartOrder},
		{[]CompletedPart{parts[0], {2, etags[0], nil}}, ErrInvalidPart},
		{[]CompletedPart{parts[0], {4, etags[0], nil}}, ErrInvalidPart},
		{[]CompletedPart{parts[2], {4, etags[0], nil}}, ErrInvalidPart},
		{[]CompletedPart{parts[0], parts[2], {4, etags[0], nil}}, ErrInvalidPart},
	}
	for _, tc := range bad {
		if _, err := d.CompleteUpload(ctx, "bkt", "big", id, tc.parts); !errors.Is(err, tc.want) {
			t.Errorf("complete %v: got %v, want %v", tc.parts, err, tc.want)
		}
	}
	if _, err := d.CompleteUpload(ctx, "bkt", "other", id, parts); !errors.Is(err, ErrNoSuchUpload) {
		t.Errorf("complete under another key: %v", err)
	}
	obj, err := d.CompleteUpload(ctx, "bkt", "big", id, parts)
	if err != nil {
		t.Fatal(err)
	}
	sums := md5.New()
	for _, e := range etags {
		b, _ := hex.DecodeString(e)
		sums.Write(b)
	}
	wantETag := hex.EncodeToString(sums.Sum(nil)) + "-3"
	if obj.ETag != wantETag || obj.Size != int64(len(p1)+len(p2)+len(p3)) || obj.Parts != 3 || obj.Sequencer == "" {
		t.Fatalf("completed %+v, want ETag %s", obj, wantETag)
	}
	o, err := d.Open(ctx, "bkt", "big")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := o.Range(0, -1)
	got, _ := io.ReadAll(r)
	o.Close()
	if !bytes.Equal(got, bytes.Join([][]byte{p1, p2, p3}, nil)) || o.Info().ContentType != "video/x" || o.Info().Metadata["a"] != "b" {
		t.Fatalf("joined object wrong (%d bytes, %+v)", len(got), o.Info())
	}
	if _, err := d.ListParts(ctx, "bkt", "big", id, 0, 0); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("upload survives completion: %v", err)
	}
	if ents, _ := os.ReadDir(d.tmp); len(ents) != 0 {
		t.Fatalf("tmp holds %v", ents)
	}
}

func TestMultipartTooSmallAndAbort(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	id, _ := d.CreateUpload(ctx, "bkt", "k", PutOptions{})
	a, _ := d.UploadPart(ctx, "bkt", "k", id, 1, bytes.NewReader([]byte("small")), PartOptions{})
	b, _ := d.UploadPart(ctx, "bkt", "k", id, 2, bytes.NewReader([]byte("last")), PartOptions{})
	if _, err := d.CompleteUpload(ctx, "bkt", "k", id, []CompletedPart{{1, a.ETag, nil}, {2, b.ETag, nil}}); !errors.Is(err, ErrTooSmall) {
		t.Fatalf("small part: got %v", err)
	}
	// One small part alone is fine: it is the last.
	if _, err := d.UploadPart(ctx, "bkt", "k", id, 0, bytes.NewReader(nil), PartOptions{}); !errors.Is(err, ErrInvalidPartNumber) {
		t.Fatalf("part 0: got %v", err)
	}
	if _, err := d.UploadPart(ctx, "bkt", "k", id, 2, bytes.NewReader([]byte("x")), PartOptions{ContentMD5: make([]byte, 16)}); !errors.Is(err, ErrBadDigest) {
		t.Fatalf("bad part MD5: got %v", err)
	}
	if err := d.AbortUpload(ctx, "bkt", "k", id); err != nil {
		t.Fatal(err)
	}
	if err := d.AbortUpload(ctx, "bkt", "k", id); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("abort twice: %v", err)
	}
	if _, err := d.UploadPart(ctx, "bkt", "k", id, 1, bytes.NewReader(nil), PartOptions{}); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("part after abort: %v", err)
	}
	for _, bad := range []string{"../../buckets", "", "ZZ", id + "0"} {
		if _, err := d.ListParts(ctx, "bkt", "k", bad, 0, 0); !errors.Is(err, ErrNoSuchUpload) {
			t.Errorf("upload id %q: got %v", bad, err)
		}
	}
	if _, err := d.ListParts(ctx, "nobucket", "k", id, 0, 0); !errors.Is(err, ErrNoSuchBucket) {
		t.Errorf("missing bucket: got %v", err)
	}
	id2, _ := d.CreateUpload(ctx, "bkt", "k", PutOptions{})
	c, _ := d.UploadPart(ctx, "bkt", "k", id2, 1, bytes.NewReader([]byte("only")), PartOptions{})
	if obj, err := d.CompleteUpload(ctx, "bkt", "k", id2, []CompletedPart{{1, c.ETag, nil}}); err != nil || obj.Size != 4 {
		t.Fatalf("one small part: %+v, %v", obj, err)
	}
}
