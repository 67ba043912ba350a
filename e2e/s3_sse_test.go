package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// sseText is content whose words are easy to find on disk.
func sseText(marker string, n int) []byte {
	return bytes.Repeat([]byte(marker+" "), n/(len(marker)+1)+1)[:n]
}

// onDisk reports whether any file under dir holds s.
func onDisk(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && !found {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(s)) {
				found = true
			}
		}
		return nil
	})
	return found
}

func readBody(t *testing.T, out *s3.GetObjectOutput) []byte {
	t.Helper()
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestS3ServerSideEncryption stores objects with SSE-S3 through the SDK
// and reads them back whole, by range, by part and after copies, with
// their checksums and conditions, while the store's files never hold the
// plaintext.
func TestS3ServerSideEncryption(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "sse")
	b := aws.String("sse")
	body := sseText("ssesecretword", 200_000)

	put, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("one"), Body: bytes.NewReader(body),
		ServerSideEncryption: types.ServerSideEncryptionAes256, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(body)
	if put.ServerSideEncryption != types.ServerSideEncryptionAes256 || aws.ToString(put.ETag) != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("put answered %s, ETag %s", put.ServerSideEncryption, aws.ToString(put.ETag))
	}
	if onDisk(t, e.srv.ObjectsDir(), "ssesecretword") {
		t.Fatal("the plaintext of an SSE-S3 object is on disk")
	}
	var keyFiles int
	filepath.Walk(e.srv.ObjectsDir(), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == "sse-s3.key" {
			keyFiles++
			if fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
				t.Errorf("master key %s: mode %v, %d bytes", p, fi.Mode(), fi.Size())
			}
		}
		return nil
	})
	if keyFiles != 1 {
		t.Fatalf("%d master key files under the data dir", keyFiles)
	}

	got, out := e.get(t, "sse", "one")
	if !bytes.Equal(got, body) || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("get: %d bytes, %s", len(got), out.ServerSideEncryption)
	}
	head, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("one")})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) || head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("head %+v, %v", head, err)
	}
	rg, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("one"), Range: aws.String("bytes=65530-131080")})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, rg); !bytes.Equal(got, body[65530:131081]) || aws.ToString(rg.ContentRange) != "bytes 65530-131080/200000" {
		t.Fatalf("range: %d bytes, %s", len(got), aws.ToString(rg.ContentRange))
	}
	ck, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("one"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, ck)
	if aws.ToString(ck.ChecksumCRC32) == "" || aws.ToString(ck.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) {
		t.Fatalf("checksum %q, put %q", aws.ToString(ck.ChecksumCRC32), aws.ToString(put.ChecksumCRC32))
	}
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("one"), IfNoneMatch: put.ETag})
	apiErr(t, err, "NotModified", 304)

	// Copies: encrypted to plain, plain to encrypted, onto itself.
	e.put(t, "sse", "plain", body)
	c1, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("decrypted"), CopySource: aws.String("sse/one")})
	if err != nil || c1.ServerSideEncryption != "" {
		t.Fatalf("copy to plain: %+v, %v", c1, err)
	}
	c2, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("encrypted"), CopySource: aws.String("sse/plain"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil || c2.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("copy to encrypted: %+v, %v", c2, err)
	}
	if _, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("plain"), CopySource: aws.String("sse/plain"),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); err != nil {
		t.Fatalf("encrypting an object in place: %v", err)
	}
	for _, k := range []string{"decrypted", "encrypted", "plain"} {
		if got, _ := e.get(t, "sse", k); !bytes.Equal(got, body) {
			t.Fatalf("%s: %d bytes", k, len(got))
		}
	}
	// The unencrypted copies are: the search that finds no plaintext
	// above would find it.
	if !onDisk(t, e.srv.ObjectsDir(), "ssesecretword") {
		t.Fatal("the search of the data dir does not find an unencrypted object")
	}

	// Multipart, with a part copied from an encrypted object.
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil || up.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("create upload %+v, %v", up, err)
	}
	part1 := sseText("multipartsecret", 5<<20+17)
	p1, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part1)})
	if err != nil || p1.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("part 1 %+v, %v", p1, err)
	}
	p2, err := e.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(2),
		CopySource: aws.String("sse/one"), CopySourceRange: aws.String("bytes=100-70099")})
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}})
	if err != nil || done.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("complete %+v, %v", done, err)
	}
	want := append(append([]byte{}, part1...), body[100:70100]...)
	if got, _ := e.get(t, "sse", "mp"); !bytes.Equal(got, want) {
		t.Fatalf("multipart object: %d bytes, want %d", len(got), len(want))
	}
	pg, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("mp"), PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, pg); !bytes.Equal(got, body[100:70100]) {
		t.Fatalf("part 2: %d bytes", len(got))
	}
	rg, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("mp"), Range: aws.String("bytes=5242870-5242900")})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, rg); !bytes.Equal(got, want[5242870:5242901]) {
		t.Fatalf("range across parts: %q", got)
	}
	if onDisk(t, e.srv.ObjectsDir(), "multipartsecret") {
		t.Fatal("the plaintext of an encrypted upload is on disk")
	}

	// A restarted server reads them with the master key it kept.
	e.srv.Restart()
	e.c = e.srv.S3()
	if got, _ := e.get(t, "sse", "one"); !bytes.Equal(got, body) {
		t.Fatalf("after a restart: %d bytes", len(got))
	}
	if got, _ := e.get(t, "sse", "mp"); !bytes.Equal(got, want) {
		t.Fatalf("multipart after a restart: %d bytes", len(got))
	}
}

// TestS3BucketDefaultEncryption sets, reads and removes a bucket's
// default encryption, and checks that it applies to writes that name
// none.
func TestS3BucketDefaultEncryption(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "dflt")
	b := aws.String("dflt")
	_, err := e.c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	apiErr(t, err, "ServerSideEncryptionConfigurationNotFoundError", 404)

	rule := func(alg types.ServerSideEncryption, kmsKey *string) *types.ServerSideEncryptionConfiguration {
		return &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: alg, KMSMasterKeyID: kmsKey},
			BucketKeyEnabled:                   aws.Bool(true)}}}
	}
	_, err = e.c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAwsKms, aws.String("alias/x"))})
	apiErr(t, err, "NotImplemented", 501)
	_, err = e.c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAwsKmsDsse, nil)})
	apiErr(t, err, "NotImplemented", 501)
	_, err = e.c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule("AES128", nil)})
	apiErr(t, err, "MalformedXML", 400)
	_, err = e.c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAes256, aws.String("alias/x"))})
	apiErr(t, err, "InvalidArgument", 400)
	if _, err := e.c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: rule(types.ServerSideEncryptionAes256, nil)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	if err != nil || len(got.ServerSideEncryptionConfiguration.Rules) != 1 {
		t.Fatalf("get %+v, %v", got, err)
	}
	r := got.ServerSideEncryptionConfiguration.Rules[0]
	if r.ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 || !aws.ToBool(r.BucketKeyEnabled) {
		t.Fatalf("rule %+v", r)
	}

	body := sseText("defaultsecret", 10_000)
	put := e.put(t, "dflt", "k", body)
	if put.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("put under a default answered %q", put.ServerSideEncryption)
	}
	if onDisk(t, e.srv.ObjectsDir(), "defaultsecret") {
		t.Fatal("an object under a default encryption is on disk in the clear")
	}
	if got, out := e.get(t, "dflt", "k"); !bytes.Equal(got, body) || out.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("get: %d bytes, %q", len(got), out.ServerSideEncryption)
	}
	if _, err := e.c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	apiErr(t, err, "ServerSideEncryptionConfigurationNotFoundError", 404)
	if put := e.put(t, "dflt", "k2", []byte("after")); put.ServerSideEncryption != "" {
		t.Fatalf("put after the default was removed answered %q", put.ServerSideEncryption)
	}
	// The object written under the default stays readable.
	if got, _ := e.get(t, "dflt", "k"); !bytes.Equal(got, body) {
		t.Fatal("an object written under the default is not readable after it was removed")
	}
}

// TestS3EncryptionRefusals sends encryption requests Aloft refuses, and
// checks that nothing was stored.
func TestS3EncryptionRefusals(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "refusesse")
	b := aws.String("refusesse")
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms})
	apiErr(t, err, "NotImplemented", 501)
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x"),
		ServerSideEncryption: "AES512"})
	apiErr(t, err, "InvalidArgument", 400)
	_, err = e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("k"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKmsDsse})
	apiErr(t, err, "NotImplemented", 501)
	// SSE-C needs TLS: over plain HTTP it is refused before the body is
	// read, whatever the key and its MD5.
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
		SSECustomerKeyMD5: aws.String("ZGVmYXVsdA==")})
	apiErr(t, err, "InvalidRequest", 400)
	e.absent(t, "refusesse", "k")
}
