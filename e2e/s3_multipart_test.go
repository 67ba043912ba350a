package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// randomBytes returns n bytes of a fixed pseudo-random stream.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b
}

// multipartETag is the ETag S3 gives an object joined from parts.
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(parts))
}

// TestS3MultipartUploadPartCopy builds an object over 8 MiB from parts
// copied out of another bucket's objects, whole and by range, and gets
// S3's refusals for bad ranges, a missing source and a failed
// precondition.
func TestS3MultipartUploadPartCopy(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "mp-src")
	e.bucket(t, "mp-dst")
	six := randomBytes(6<<20, 1)
	src := e.put(t, "mp-src", "dir/six data+.bin", six)
	copySource := "mp-src/dir/six%20data%2B.bin"
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mp-dst"), Key: aws.String("joined")})
	if err != nil {
		t.Fatal(err)
	}
	partCopy := func(n int32, source, rng string, mutate ...func(*s3.UploadPartCopyInput)) (*s3.UploadPartCopyOutput, error) {
		in := &s3.UploadPartCopyInput{Bucket: aws.String("mp-dst"), Key: aws.String("joined"), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), CopySource: aws.String(source)}
		if rng != "" {
			in.CopySourceRange = aws.String(rng)
		}
		for _, m := range mutate {
			m(in)
		}
		return e.c.UploadPartCopy(ctx, in)
	}
	p1, err := partCopy(1, copySource, "", func(in *s3.UploadPartCopyInput) { in.CopySourceIfMatch = src.ETag })
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"%x"`, md5.Sum(six)); aws.ToString(p1.CopyPartResult.ETag) != want || p1.CopyPartResult.LastModified == nil {
		t.Fatalf("whole part copy: ETag %s, want %s", aws.ToString(p1.CopyPartResult.ETag), want)
	}
	first, last := 1<<20, 4<<20-1 // 3 MiB from the middle
	p2, err := partCopy(2, copySource, fmt.Sprintf("bytes=%d-%d", first, last))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"bytes=5-2", "0-10", "bytes=-10", "bytes=10-", "bytes=0-1,4-5", "bytes=a-b"} {
		_, err := partCopy(3, copySource, bad)
		apiErr(t, err, "InvalidArgument", 400)
	}
	msg := apiErr(t, func() error { _, err := partCopy(3, copySource, fmt.Sprintf("bytes=0-%d", len(six))); return err }(), "InvalidArgument", 400)
	if !strings.Contains(msg, fmt.Sprint(len(six))) {
		t.Errorf("range beyond the object: %q", msg)
	}
	_, err = partCopy(3, "mp-src/nothing-here", "")
	apiErr(t, err, "NoSuchKey", 404)
	_, err = partCopy(3, "mp-nobucket/x", "")
	apiErr(t, err, "NoSuchBucket", 404)
	_, err = partCopy(3, copySource, "", func(in *s3.UploadPartCopyInput) { in.CopySourceIfMatch = aws.String(`"0123"`) })
	apiErr(t, err, "PreconditionFailed", 412)
	_, err = partCopy(3, copySource, "", func(in *s3.UploadPartCopyInput) { in.CopySourceIfNoneMatch = src.ETag })
	apiErr(t, err, "PreconditionFailed", 412)
	// There are no versions: a version ID is refused, never ignored.
	if _, err = partCopy(3, copySource+"?versionId=abc", ""); err == nil || (errorCode(err) != "InvalidArgument" && errorCode(err) != "NotImplemented") {
		t.Fatalf("copy source with a version: %v", err)
	}

	parts, err := e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mp-dst"), Key: aws.String("joined"), UploadId: up.UploadId})
	if err != nil || len(parts.Parts) != 2 || aws.ToInt64(parts.Parts[1].Size) != int64(last-first+1) {
		t.Fatalf("list parts: %+v, %v", parts, err)
	}
	done, err := e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp-dst"), Key: aws.String("joined"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, six...), six[first:last+1]...)
	if aws.ToString(done.ETag) != multipartETag(six, six[first:last+1]) {
		t.Errorf("joined ETag %s", aws.ToString(done.ETag))
	}
	got, _ := e.get(t, "mp-dst", "joined")
	if len(got) <= 8<<20 || !bytes.Equal(got, want) {
		t.Fatalf("joined object: %d bytes, want %d and the same content", len(got), len(want))
	}
}

// TestS3MultipartAWSCLICopy copies an object over 8 MiB from one bucket to
// another with the AWS CLI's aws s3 cp, which copies it part by part.
func TestS3MultipartAWSCLICopy(t *testing.T) {
	e := newS3Env(t)
	e.bucket(t, "cli-a")
	e.bucket(t, "cli-b")
	big := randomBytes(9<<20+4321, 2)
	e.put(t, "cli-a", "big", big)
	out, errOut, code := awsCLI(t, e.srv, alofttest.AccessKeyID, alofttest.SecretAccessKey, "", "s3", "cp", "s3://cli-a/big", "s3://cli-b/big")
	if code != 0 {
		t.Fatalf("aws s3 cp: exit %d: %s%s", code, out, errOut)
	}
	got, obj := e.get(t, "cli-b", "big")
	if !bytes.Equal(got, big) {
		t.Fatalf("copy: %d bytes, want %d and the same content", len(got), len(big))
	}
	if !strings.Contains(aws.ToString(obj.ETag), "-") {
		t.Errorf("copy ETag %s: not from parts", aws.ToString(obj.ETag))
	}
	ups, err := e.c.ListMultipartUploads(ctxT(t), &s3.ListMultipartUploadsInput{Bucket: aws.String("cli-b")})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("uploads left: %+v, %v", ups, err)
	}
}

// TestS3MultipartListUploads pages through uploads in progress with a
// prefix and a delimiter, and through an upload's parts.
func TestS3MultipartListUploads(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "mp-list")
	ids := map[string]string{}
	for _, k := range []string{"logs/a", "logs/b", "logs/b", "logs/sub/c", "logs/sub/d", "logs/z", "other"} {
		up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mp-list"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		ids[aws.ToString(up.UploadId)] = k
	}
	all, err := e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mp-list")})
	if err != nil || len(all.Uploads) != 7 || aws.ToBool(all.IsTruncated) {
		t.Fatalf("all uploads: %+v, %v", all, err)
	}
	for _, u := range all.Uploads {
		if ids[aws.ToString(u.UploadId)] != aws.ToString(u.Key) || u.Initiated == nil {
			t.Errorf("upload %s of %s", aws.ToString(u.UploadId), aws.ToString(u.Key))
		}
	}
	var seen []string
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String("mp-list"), Prefix: aws.String("logs/"), Delimiter: aws.String("/"), MaxUploads: aws.Int32(2)}
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatalf("listing does not end: %v", seen)
		}
		out, err := e.c.ListMultipartUploads(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(out.Uploads) + len(out.CommonPrefixes); n > 2 {
			t.Fatalf("page of %d", n)
		}
		for _, u := range out.Uploads {
			seen = append(seen, aws.ToString(u.Key))
		}
		for _, p := range out.CommonPrefixes {
			seen = append(seen, aws.ToString(p.Prefix))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	if fmt.Sprint(seen) != "[logs/a logs/b logs/b logs/sub/ logs/z]" {
		t.Errorf("paged with prefix and delimiter: %v", seen)
	}
	enc, err := e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mp-list"), MaxUploads: aws.Int32(0)})
	if err != nil || len(enc.Uploads) != 0 {
		t.Fatalf("max-uploads 0: %+v, %v", enc, err)
	}
	_, err = e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mp-nobucket")})
	apiErr(t, err, "NoSuchBucket", 404)

	// An upload's parts, a page at a time.
	var id *string
	for u, k := range ids {
		if k == "other" {
			id = aws.String(u)
		}
	}
	for n := int32(1); n <= 3; n++ {
		if _, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mp-list"), Key: aws.String("other"), UploadId: id,
			PartNumber: aws.Int32(n), Body: bytes.NewReader([]byte{byte(n)})}); err != nil {
			t.Fatal(err)
		}
	}
	lp, err := e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mp-list"), Key: aws.String("other"), UploadId: id, MaxParts: aws.Int32(2)})
	if err != nil || len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToString(lp.NextPartNumberMarker) != "2" {
		t.Fatalf("first page of parts: %+v, %v", lp, err)
	}
	lp, err = e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mp-list"), Key: aws.String("other"), UploadId: id, PartNumberMarker: lp.NextPartNumberMarker})
	if err != nil || len(lp.Parts) != 1 || aws.ToInt32(lp.Parts[0].PartNumber) != 3 || aws.ToBool(lp.IsTruncated) {
		t.Fatalf("second page of parts: %+v, %v", lp, err)
	}
}

// uploadParts uploads each of parts to a new upload of key and returns the
// upload's ID and the parts to complete it with.
func uploadParts(t *testing.T, e *s3Env, bucket, key string, create *s3.CreateMultipartUploadInput, alg types.ChecksumAlgorithm, parts ...[]byte) (*string, []types.CompletedPart) {
	t.Helper()
	ctx := ctxT(t)
	if create == nil {
		create = &s3.CreateMultipartUploadInput{}
	}
	create.Bucket, create.Key = aws.String(bucket), aws.String(key)
	up, err := e.c.CreateMultipartUpload(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag,
			ChecksumCRC32: out.ChecksumCRC32, ChecksumSHA256: out.ChecksumSHA256})
	}
	return up.UploadId, done
}

// TestS3MultipartCompleteAgain completes an upload twice: the second
// answer is the first's, until the object changes.
func TestS3MultipartCompleteAgain(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "mp-again")
	a, b := randomBytes(5<<20, 3), []byte("the end")
	id, parts := uploadParts(t, e, "mp-again", "k", nil, "", a, b)
	complete := func() (*s3.CompleteMultipartUploadOutput, error) {
		return e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp-again"), Key: aws.String("k"), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	first, err := complete()
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(first.ETag) != multipartETag(a, b) {
		t.Fatalf("ETag %s, want %s", aws.ToString(first.ETag), multipartETag(a, b))
	}
	again, err := complete()
	if err != nil || aws.ToString(again.ETag) != aws.ToString(first.ETag) || aws.ToString(again.Key) != "k" {
		t.Fatalf("completed again: %+v, %v", again, err)
	}
	e.put(t, "mp-again", "k", []byte("replaced"))
	_, err = complete()
	apiErr(t, err, "NoSuchUpload", 404)
}

// TestS3MultipartChecksums uploads with COMPOSITE SHA256 and FULL_OBJECT
// CRC32 object checksums, as the SDK computes and checks them, and reads
// them back with GetObject, HeadObject and GetObjectAttributes.
func TestS3MultipartChecksums(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "mp-sums")
	a, b := randomBytes(5<<20, 4), randomBytes(1<<20+17, 5)
	b64 := base64.StdEncoding.EncodeToString

	// COMPOSITE: the SHA256 of the parts' SHA256s, "-2".
	id, parts := uploadParts(t, e, "mp-sums", "comp", &s3.CreateMultipartUploadInput{ChecksumAlgorithm: types.ChecksumAlgorithmSha256}, types.ChecksumAlgorithmSha256, a, b)
	sa, sb := sha256.Sum256(a), sha256.Sum256(b)
	if aws.ToString(parts[0].ChecksumSHA256) != b64(sa[:]) {
		t.Fatalf("part checksum %s", aws.ToString(parts[0].ChecksumSHA256))
	}
	comp := sha256.Sum256(append(sa[:], sb[:]...))
	wantComp := b64(comp[:]) + "-2"
	missing := []types.CompletedPart{{PartNumber: parts[0].PartNumber, ETag: parts[0].ETag}, parts[1]}
	_, err := e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp-sums"), Key: aws.String("comp"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: missing}})
	apiErr(t, err, "InvalidRequest", 400)
	done, err := e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp-sums"), Key: aws.String("comp"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(done.ChecksumSHA256) != wantComp || done.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("composite: %s %s, want %s", aws.ToString(done.ChecksumSHA256), done.ChecksumType, wantComp)
	}
	head, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mp-sums"), Key: aws.String("comp"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.ChecksumSHA256) != wantComp || head.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("head: %+v, %v", head, err)
	}

	// FULL_OBJECT: the CRC32 of the whole content.
	whole := crc32.ChecksumIEEE(append(append([]byte{}, a...), b...))
	wantFull := b64(binary.BigEndian.AppendUint32(nil, whole))
	id, parts = uploadParts(t, e, "mp-sums", "full", &s3.CreateMultipartUploadInput{ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		ChecksumType: types.ChecksumTypeFullObject}, types.ChecksumAlgorithmCrc32, a, b)
	lp, err := e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mp-sums"), Key: aws.String("full"), UploadId: id})
	if err != nil || lp.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32 || lp.ChecksumType != types.ChecksumTypeFullObject ||
		len(lp.Parts) != 2 || aws.ToString(lp.Parts[1].ChecksumCRC32) != aws.ToString(parts[1].ChecksumCRC32) {
		t.Fatalf("list parts: %+v, %v", lp, err)
	}
	completeFull := func(sum string) (*s3.CompleteMultipartUploadOutput, error) {
		return e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mp-sums"), Key: aws.String("full"), UploadId: id,
			ChecksumCRC32: aws.String(sum), ChecksumType: types.ChecksumTypeFullObject, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	_, err = completeFull(b64([]byte{1, 2, 3, 4}))
	apiErr(t, err, "BadDigest", 400)
	full, err := completeFull(wantFull)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(full.ChecksumCRC32) != wantFull || full.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("full object: %s %s, want %s", aws.ToString(full.ChecksumCRC32), full.ChecksumType, wantFull)
	}
	// The SDK checks the whole body against the checksum as it reads.
	get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mp-sums"), Key: aws.String("full"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(get.Body); err != nil {
		t.Fatalf("read with checksum check: %v", err)
	}
	get.Body.Close()
	if aws.ToString(get.ChecksumCRC32) != wantFull || get.ChecksumType != types.ChecksumTypeFullObject || got.Len() != len(a)+len(b) {
		t.Fatalf("get: checksum %s (%s), %d bytes", aws.ToString(get.ChecksumCRC32), get.ChecksumType, got.Len())
	}
	// SHA256 cannot be FULL_OBJECT.
	_, err = e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mp-sums"), Key: aws.String("x"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumType: types.ChecksumTypeFullObject})
	apiErr(t, err, "InvalidRequest", 400)

	// GetObjectAttributes of the composite object, one part a page.
	attrs, err := e.c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("mp-sums"), Key: aws.String("comp"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts,
			types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}, MaxParts: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(attrs.ETag) != strings.Trim(multipartETag(a, b), `"`) || aws.ToInt64(attrs.ObjectSize) != int64(len(a)+len(b)) ||
		attrs.StorageClass != types.StorageClassStandard || attrs.LastModified == nil {
		t.Errorf("attributes: ETag %s, size %d, class %s", aws.ToString(attrs.ETag), aws.ToInt64(attrs.ObjectSize), attrs.StorageClass)
	}
	if attrs.Checksum == nil || aws.ToString(attrs.Checksum.ChecksumSHA256) != wantComp || attrs.Checksum.ChecksumType != types.ChecksumTypeComposite {
		t.Errorf("attributes checksum: %+v", attrs.Checksum)
	}
	op := attrs.ObjectParts
	if op == nil || aws.ToInt32(op.TotalPartsCount) != 2 || len(op.Parts) != 1 || !aws.ToBool(op.IsTruncated) ||
		aws.ToString(op.NextPartNumberMarker) != "1" || aws.ToInt64(op.Parts[0].Size) != int64(len(a)) ||
		aws.ToString(op.Parts[0].ChecksumSHA256) != b64(sa[:]) {
		t.Fatalf("object parts: %+v", op)
	}
	attrs, err = e.c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("mp-sums"), Key: aws.String("comp"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts}, PartNumberMarker: op.NextPartNumberMarker})
	if err != nil || attrs.ObjectParts == nil || len(attrs.ObjectParts.Parts) != 1 || aws.ToInt32(attrs.ObjectParts.Parts[0].PartNumber) != 2 ||
		aws.ToInt64(attrs.ObjectParts.Parts[0].Size) != int64(len(b)) || attrs.ETag != nil {
		t.Fatalf("second page of parts: %+v, %v", attrs, err)
	}
	_, err = e.c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("mp-sums"), Key: aws.String("nothing"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag}})
	apiErr(t, err, "NoSuchKey", 404)
	_, err = e.c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("mp-sums"), Key: aws.String("comp"),
		ObjectAttributes: []types.ObjectAttributes{"Colour"}})
	apiErr(t, err, "InvalidArgument", 400)
}

// TestS3MultipartAbandonedUploads runs a server that aborts uploads left
// in progress for two seconds: an old upload goes, its parts with it.
func TestS3MultipartAbandonedUploads(t *testing.T) {
	srv := alofttest.Start(t, "--abandoned-upload-age", "2s")
	e := &s3Env{srv: srv, c: srv.S3()}
	ctx := ctxT(t)
	e.bucket(t, "mp-old")
	id, _ := uploadParts(t, e, "mp-old", "left", nil, "", []byte("part"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mp-old")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Uploads) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload %s still in progress", aws.ToString(id))
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, err := e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mp-old"), Key: aws.String("left"), UploadId: id})
	apiErr(t, err, "NoSuchUpload", 404)
}
