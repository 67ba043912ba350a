package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// tlsEnv is the handler over a disk store behind an httptest TLS server
// (SSE-C is only taken over TLS), with an SDK client trusting it.
type tlsEnv struct {
	store *objstore.Disk
	c     *s3.Client
}

func newTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	store, err := objstore.Open(filepath.Join(t.TempDir(), "objects"))
	if err != nil {
		t.Fatal(err)
	}
	h := New(Deps{Store: store, Verifier: &sigv4.Verifier{Lookup: func(id string) (string, bool) { return testSecret, id == testKey }}})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		HTTPClient:   srv.Client(),
		Retryer:      aws.NopRetryer{},
	})
	return &tlsEnv{store: store, c: c}
}

// sseKey is an SSE-C key as the SDK sends it: base64 key and MD5.
type sseKey struct{ key, md5 string }

func newSSEKey() sseKey {
	k := make([]byte, 32)
	rand.Read(k)
	s := md5.Sum(k)
	return sseKey{base64.StdEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(s[:])}
}

func wantStatus(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) || ae.ErrorCode() != code || re.HTTPStatusCode() != status {
		t.Fatalf("got %v, want %s (%d)", err, code, status)
	}
}

// noPlaintext fails if any file of the store holds marker.
func noPlaintext(t *testing.T, root, marker string) {
	t.Helper()
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s holds the plaintext", p)
			}
		}
		return nil
	})
}

func TestSSECustomerKeyOverTLS(t *testing.T) {
	ctx := context.Background()
	e := newTLSEnv(t)
	b := aws.String("ssec")
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	k, other := newSSEKey(), newSSEKey()
	body := strings.Repeat("customer-keyed secret text ", 5000)
	put, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("obj"), Body: strings.NewReader(body),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(body))
	if aws.ToString(put.SSECustomerAlgorithm) != "AES256" || aws.ToString(put.SSECustomerKeyMD5) != k.md5 ||
		strings.Trim(aws.ToString(put.ETag), `"`) == hex.EncodeToString(sum[:]) {
		t.Fatalf("put answered %+v", put)
	}
	noPlaintext(t, e.store.Root(), "customer-keyed secret")

	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("obj")})
	wantStatus(t, err, "InvalidRequest", 400)
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("obj"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(other.key), SSECustomerKeyMD5: aws.String(other.md5)})
	wantStatus(t, err, "AccessDenied", 403)
	_, err = e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("obj")})
	if err == nil {
		t.Fatal("HEAD without the key answered")
	}
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("obj"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(other.md5)})
	wantStatus(t, err, "InvalidArgument", 400)
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("obj"),
		SSECustomerAlgorithm: aws.String("AES128"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	wantStatus(t, err, "InvalidEncryptionAlgorithmError", 400)

	get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("obj"), Range: aws.String("bytes=70000-70099"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if string(got) != body[70000:70100] || aws.ToString(get.SSECustomerKeyMD5) != k.md5 {
		t.Fatalf("range read %q, key MD5 %q", got, aws.ToString(get.SSECustomerKeyMD5))
	}
	head, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("obj"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToString(head.SSECustomerAlgorithm) != "AES256" {
		t.Fatalf("head %+v, %v", head, err)
	}
	attrs := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesObjectSize}
	_, err = e.c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("obj"), ObjectAttributes: attrs})
	wantStatus(t, err, "InvalidRequest", 400)
	_, err = e.c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("obj"), ObjectAttributes: attrs,
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(other.key), SSECustomerKeyMD5: aws.String(other.md5)})
	wantStatus(t, err, "AccessDenied", 403)
	at, err := e.c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("obj"), ObjectAttributes: attrs,
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil || aws.ToInt64(at.ObjectSize) != int64(len(body)) {
		t.Fatalf("attributes %+v, %v", at, err)
	}
	// A key for an object stored without one.
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("plain"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("plain"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	wantStatus(t, err, "InvalidRequest", 400)
	// SSE-S3 and SSE-C at once.
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("both"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	wantStatus(t, err, "InvalidArgument", 400)

	// Copies: the source's key is needed, the destination's used.
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("ssec/obj")})
	wantStatus(t, err, "InvalidRequest", 400)
	cp, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("ssec/obj"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(k.key), CopySourceSSECustomerKeyMD5: aws.String(k.md5),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(other.key), SSECustomerKeyMD5: aws.String(other.md5)})
	if err != nil || aws.ToString(cp.SSECustomerKeyMD5) != other.md5 {
		t.Fatalf("copy %+v, %v", cp, err)
	}
	get, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("copy"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(other.key), SSECustomerKeyMD5: aws.String(other.md5)})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(get.Body)
	get.Body.Close()
	if string(got) != body {
		t.Fatalf("copy read %d bytes", len(got))
	}

	// Multipart: every part with the upload's key.
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil || aws.ToString(up.SSECustomerKeyMD5) != k.md5 {
		t.Fatalf("create upload %+v, %v", up, err)
	}
	part1 := bytes.Repeat([]byte("part one multipart text "), (5<<20)/24+1)
	_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: strings.NewReader("small: refused before it is read"), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(other.key), SSECustomerKeyMD5: aws.String(other.md5)})
	wantStatus(t, err, "InvalidRequest", 400)
	p1, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(part1), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil || aws.ToString(p1.SSECustomerKeyMD5) != k.md5 {
		t.Fatalf("part 1 %+v, %v", p1, err)
	}
	p2, err := e.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(2),
		CopySource: aws.String("ssec/obj"), CopySourceRange: aws.String("bytes=0-999"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(k.key), CopySourceSSECustomerKeyMD5: aws.String(k.md5),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}})
	if err != nil {
		t.Fatal(err)
	}
	get, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("mp"), PartNumber: aws.Int32(2),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(get.Body)
	get.Body.Close()
	if string(got) != body[:1000] {
		t.Fatalf("part 2 read %q", got)
	}
	noPlaintext(t, e.store.Root(), "part one multipart")
}

func TestSSECustomerKeyRefusedOverHTTP(t *testing.T) {
	e := newEnv(t)
	k := newSSEKey()
	_, err := e.c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("any"), Key: aws.String("k"), Body: strings.NewReader("x"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	wantStatus(t, err, "InvalidRequest", http.StatusBadRequest)
}
