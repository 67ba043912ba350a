package s3store_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/s3api"
	"github.com/aloft-dev/aloft/internal/s3store"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

const (
	backKey     = "AKIABACKSTORE0000001"
	backSecret  = "back-store-secret-00000000000000000000"
	frontKey    = "AKIAFRONTNODE0000001"
	frontSecret = "front-node-secret-00000000000000000000"
)

// docs is an in-memory Docs.
type docs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (d *docs) Get(_ context.Context, bucket, kind string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[bucket+"/"+kind], nil
}

func (d *docs) Put(_ context.Context, bucket, kind string, doc []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if doc == nil {
		delete(d.m, bucket+"/"+kind)
	} else {
		d.m[bucket+"/"+kind] = doc
	}
	return nil
}

// stack (over TLS, as SSE-C needs) is an S3 API over a Store whose external store is another S3 API
// over a disk: what a cluster node with an external store serves.
type stack struct {
	c     *s3.Client     // the front's client
	back  *objstore.Disk // the external store's disk
	store *s3store.Store // the front's store
	docs  *docs
}

func newStack(t *testing.T) *stack {
	t.Helper()
	disk, err := objstore.Open(filepath.Join(t.TempDir(), "objects"))
	if err != nil {
		t.Fatal(err)
	}
	back := httptest.NewTLSServer(s3api.New(s3api.Deps{Store: disk,
		Verifier: &sigv4.Verifier{Lookup: func(id string) (string, bool) { return backSecret, id == backKey }}}))
	t.Cleanup(back.Close)
	d := &docs{m: map[string][]byte{}}
	store, err := s3store.New(s3store.Options{Endpoint: back.URL, AccessKeyID: backKey, SecretAccessKey: backSecret, Docs: d, HTTPClient: back.Client()})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewTLSServer(s3api.New(s3api.Deps{Store: store,
		Verifier: &sigv4.Verifier{Lookup: func(id string) (string, bool) { return frontSecret, id == frontKey }}}))
	t.Cleanup(front.Close)
	c := s3.New(s3.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(frontKey, frontSecret, ""),
		BaseEndpoint: aws.String(front.URL), UsePathStyle: true, HTTPClient: front.Client(), Retryer: aws.NopRetryer{}})
	return &stack{c: c, back: disk, store: store, docs: d}
}

func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

func read(t *testing.T, out *s3.GetObjectOutput, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestObjectsThroughExternalStore(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.c
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	// The bucket is the external store's.
	if _, err := s.back.Bucket(ctx, "photos"); err != nil {
		t.Fatalf("bucket not in the external store: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope-bucket")}); err == nil {
		t.Fatal("HeadBucket of a missing bucket succeeded")
	}
	body := "hello, external store"
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt"), Body: strings.NewReader(body),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"owner": "ann"}, CacheControl: aws.String("max-age=60"),
		Tagging: aws.String("k=v")})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(body))
	if got, want := aws.ToString(put.ETag), `"`+hexs(sum[:])+`"`; got != want {
		t.Fatalf("ETag %s, want %s", got, want)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt")})
	if got := read(t, get, err); got != body {
		t.Fatalf("GET %q, want %q", got, body)
	}
	if aws.ToString(get.ContentType) != "text/plain" || get.Metadata["owner"] != "ann" || aws.ToString(get.CacheControl) != "max-age=60" || aws.ToInt32(get.TagCount) != 1 {
		t.Fatalf("GET headers: type %q meta %v cache %q tags %d", aws.ToString(get.ContentType), get.Metadata, aws.ToString(get.CacheControl), aws.ToInt32(get.TagCount))
	}
	// An Expires that is no date is kept as sent, as S3 keeps it; a copy
	// that replaces the headers sends its own.
	for _, exp := range []string{"whenever", "Thu, 01 Dec 2044 16:00:00 GMT"} {
		raw := func(o *s3.Options) { o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("Expires", exp)) }
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("expires"), Body: strings.NewReader("x")}, raw); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("photos"), Key: aws.String("expires-copy"), CopySource: aws.String("photos/expires"),
			MetadataDirective: types.MetadataDirectiveReplace}, raw); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"expires", "expires-copy"} {
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String(key)})
			if err != nil || aws.ToString(head.ExpiresString) != exp {
				t.Fatalf("Expires of %s: %q, %v; want %q", key, aws.ToString(head.ExpiresString), err, exp)
			}
		}
	}
	for _, key := range []string{"expires", "expires-copy"} {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	rng, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt"), Range: aws.String("bytes=7-14")})
	if got := read(t, rng, err); got != body[7:15] || aws.ToString(rng.ContentRange) != "bytes 7-14/21" {
		t.Fatalf("range %q %q", got, aws.ToString(rng.ContentRange))
	}
	// Conditional writes reach the external store.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/b c.txt"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	if code(err) != "PreconditionFailed" {
		t.Fatalf("If-None-Match on an existing key: %v", err)
	}
	// Copies, listings.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("photos"), Key: aws.String("a/copy"), CopySource: aws.String("photos/a/b%20c.txt")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b/1", "b/2", "c"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("photos"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.CommonPrefixes) != 2 || len(list.Contents) != 0 || !aws.ToBool(list.IsTruncated) {
		t.Fatalf("first page: %d prefixes, %d keys, truncated %v", len(list.CommonPrefixes), len(list.Contents), aws.ToBool(list.IsTruncated))
	}
	list, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("photos"), Delimiter: aws.String("/"), ContinuationToken: list.NextContinuationToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "c" || aws.ToBool(list.IsTruncated) {
		t.Fatalf("second page: %+v", list.Contents)
	}
	// Missing things are S3's errors.
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("missing")})
	if code(err) != "NoSuchKey" {
		t.Fatalf("GET of a missing key: %v", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
	if code(err) != "NoSuchBucket" {
		t.Fatalf("GET from a missing bucket: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.back.HeadObject(ctx, "photos", "c"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("deleted key still in the external store: %v", err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
	if code(err) != "BucketNotEmpty" {
		t.Fatalf("DeleteBucket of a full bucket: %v", err)
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestVersionsThroughExternalStore(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.c
	b := aws.String("versioned")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range []string{"one", "two"} {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader(v)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.VersionId))
	}
	if ids[0] == "" || ids[0] == ids[1] {
		t.Fatalf("version ids %q", ids)
	}
	old, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(ids[0])})
	if got := read(t, old, err); got != "one" {
		t.Fatalf("old version %q", got)
	}
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) {
		t.Fatalf("delete: marker %v, %v", del != nil && aws.ToBool(del.DeleteMarker), err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k")})
	if code(err) != "NoSuchKey" {
		t.Fatalf("GET behind a delete marker: %v", err)
	}
	vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 2 || len(vs.DeleteMarkers) != 1 || !aws.ToBool(vs.DeleteMarkers[0].IsLatest) {
		t.Fatalf("versions %d, markers %d", len(vs.Versions), len(vs.DeleteMarkers))
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(aws.ToString(del.VersionId))})
	if code(err) != "MethodNotAllowed" {
		t.Fatalf("GET of a delete marker by id: %v", err)
	}
}

func TestMultipartThroughExternalStore(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.c
	b, k := aws.String("uploads"), aws.String("big")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	part1 := bytes.Repeat([]byte("a"), objstore.MinPartSize)
	p1, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("src"), Body: strings.NewReader("0123456789")}); err != nil {
		t.Fatal(err)
	}
	p2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: k, UploadId: up.UploadId, PartNumber: aws.Int32(2),
		CopySource: aws.String("uploads/src"), CopySourceRange: aws.String("bytes=2-5")})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: k, UploadId: up.UploadId})
	if err != nil || len(parts.Parts) != 2 {
		t.Fatalf("parts: %v %v", parts, err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
	if err != nil || len(ups.Uploads) != 1 {
		t.Fatalf("uploads: %v", err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(aws.ToString(done.ETag), `-2"`) {
		t.Fatalf("multipart ETag %s", aws.ToString(done.ETag))
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k, PartNumber: aws.Int32(2)})
	if got := read(t, get, err); got != "2345" {
		t.Fatalf("part 2 of the object: %q", got)
	}
	whole, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k})
	if got := read(t, whole, err); got != string(part1)+"2345" {
		t.Fatalf("object of %d bytes", len(got))
	}
}

func TestEncryptionThroughExternalStore(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.c
	b := aws.String("secrets")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	k64 := base64.StdEncoding.EncodeToString(key)
	sum := md5.Sum(key)
	m64 := base64.StdEncoding.EncodeToString(sum[:])
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("c"), Body: strings.NewReader("customer secret"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k64), SSECustomerKeyMD5: aws.String(m64)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("c")})
	if code(err) != "InvalidRequest" {
		t.Fatalf("GET of an SSE-C object without its key: %v", err)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("c"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k64), SSECustomerKeyMD5: aws.String(m64)})
	if got := read(t, get, err); got != "customer secret" {
		t.Fatalf("SSE-C GET %q", got)
	}
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("s"), Body: strings.NewReader("store secret"), ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil || put.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("SSE-S3 PUT: %v %v", put, err)
	}
	info, err := s.back.HeadObject(ctx, "secrets", "s")
	if err != nil || info.Encryption.Mode != objstore.SSES3 {
		t.Fatalf("external store's object not encrypted: %+v %v", info.Encryption, err)
	}
}

func TestBucketConfigurationsThroughExternalStore(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.c
	b := aws.String("configured")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	cors := &types.CORSConfiguration{CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://example.com"}}}}
	if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: cors}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	if err != nil || len(got.CORSRules) != 1 || got.CORSRules[0].AllowedOrigins[0] != "https://example.com" {
		t.Fatalf("CORS back: %v %v", got, err)
	}
	if doc, _ := s.docs.Get(ctx, "configured", "cors"); doc == nil {
		t.Fatal("CORS configuration not in the shared documents")
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	if err != nil || len(tags.TagSet) != 1 {
		t.Fatalf("bucket tags: %v %v", tags, err)
	}
	// Lifecycle rules are kept in the shared documents and applied by
	// objstore.RunLifecycle over the external store; the store itself is
	// given none.
	for _, k := range []string{"tmp/a", "tmp/b", "keep"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b, LifecycleConfiguration: &types.BucketLifecycleConfiguration{
		Rules: []types.LifecycleRule{{ID: aws.String("r"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}}}}); err != nil {
		t.Fatalf("lifecycle rules: %v", err)
	}
	lc, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	if err != nil || len(lc.Rules) != 1 || aws.ToString(lc.Rules[0].ID) != "r" {
		t.Fatalf("lifecycle rules back: %v, %v", lc, err)
	}
	if cfg, err := s.back.Lifecycle(ctx, "configured"); err != nil || cfg != nil {
		t.Fatalf("the external store was given lifecycle rules: %v, %v", cfg, err)
	}
	// tmp/b is replaced after it was judged: its expiry is a conditional
	// delete of what was judged, so the new object stays.
	stale, err := s.store.HeadObject(ctx, "configured", "tmp/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("tmp/b"), Body: strings.NewReader("rewritten")}); err != nil {
		t.Fatal(err)
	}
	if del, err := s.store.ExpireObject(ctx, "configured", "tmp/b", stale); err != nil || del.Existed {
		t.Fatalf("expiring a replaced object: %+v, %v", del, err)
	}
	var expired []string
	res, err := objstore.RunLifecycle(ctx, s.store, time.Now().Add(72*time.Hour), func(_ context.Context, _ objstore.BucketInfo, info objstore.ObjectInfo, _ objstore.Deleted) {
		expired = append(expired, info.Key)
	})
	if err != nil || res.Expired != 2 || len(expired) != 2 || expired[0] != "tmp/a" || expired[1] != "tmp/b" {
		t.Fatalf("lifecycle over the external store: %+v %v, %v", res, expired, err)
	}
	for k, want := range map[string]bool{"tmp/a": false, "tmp/b": false, "keep": true} {
		if _, err := s.back.HeadObject(ctx, "configured", k); (err == nil) != want {
			t.Fatalf("%s in the external store after the lifecycle: %v, want present=%v", k, err, want)
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if doc, _ := s.docs.Get(ctx, "configured", "lifecycle"); doc != nil {
		t.Fatal("lifecycle rules still in the shared documents after their removal")
	}
	if _, err := c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.back.Bucket(ctx, "configured"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("deleted bucket still in the external store: %v", err)
	}
}

// failingReader gives n bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// sizedReader is a body that says its length, as the S3 handler's do.
type sizedReader struct {
	io.Reader
	n int64
}

func (r sizedReader) Size() int64 { return r.n }

// TestBodies: a body of unknown length (a browser's form upload) is
// spooled to learn it and stored whole; a body whose reading fails (a
// forged chunk, a wrong digest) fails the write with its own error and
// stores nothing, rather than an error of the store's client.
func TestBodies(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	if err := s.store.CreateBucket(ctx, "bodies", ""); err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("unknown length ", 1000)
	info, err := s.store.PutObject(ctx, "bodies", "form", io.MultiReader(strings.NewReader(data)), objstore.PutOptions{})
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("put of unknown length: %+v, %v", info, err)
	}
	got, err := s.back.HeadObject(ctx, "bodies", "form")
	if err != nil || got.Size != int64(len(data)) {
		t.Fatalf("stored: %+v, %v", got, err)
	}
	forged := errors.New("the chunk's signature does not match")
	for name, r := range map[string]io.Reader{
		"sized":   sizedReader{&failingReader{n: 100 << 10, err: forged}, 1 << 20},
		"unsized": &failingReader{n: 100 << 10, err: forged},
	} {
		_, err := s.store.PutObject(ctx, "bodies", name, r, objstore.PutOptions{})
		if !errors.Is(err, forged) {
			t.Errorf("%s body failing: %v, want its own error", name, err)
		}
		if _, err := s.back.HeadObject(ctx, "bodies", name); !errors.Is(err, objstore.ErrNoSuchKey) {
			t.Errorf("%s body failing: stored anyway (%v)", name, err)
		}
	}
}

// lastReader gives data in reads of 1 KiB, the last of them with err, as
// a body checked as it ends does.
type lastReader struct {
	data []byte
	err  error
}

func (r *lastReader) Read(p []byte) (int, error) {
	n := copy(p[:min(len(p), 1024)], r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

// trailerReader is an aws-chunked body whose CRC32 comes in its trailer:
// Checksums has it once the body has been read to its end.
type trailerReader struct {
	sizedReader
	crc string
	eof bool
}

func (r *trailerReader) Read(p []byte) (int, error) {
	n, err := r.sizedReader.Read(p)
	r.eof = r.eof || err == io.EOF
	return n, err
}

func (r *trailerReader) TrailerChecksum() bool { return true }

func (r *trailerReader) Checksums() map[string]string {
	if !r.eof {
		return nil
	}
	return map[string]string{"CRC32": r.crc}
}

// TestBodiesChecked: a body of known length whose check fails at its
// very end never reaches the store whole (its last byte waits for the
// body's clean end), and a checksum that comes in a body's trailer is
// stored with the object.
func TestBodiesChecked(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	if err := s.store.CreateBucket(ctx, "checked", ""); err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("checked at the end ", 500)
	bad := errors.New("the digest does not match")
	r := sizedReader{&lastReader{data: []byte(data), err: bad}, int64(len(data))}
	if _, err := s.store.PutObject(ctx, "checked", "late", r, objstore.PutOptions{}); !errors.Is(err, bad) {
		t.Fatalf("body failing at its end: %v, want its own error", err)
	}
	if _, err := s.back.HeadObject(ctx, "checked", "late"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("body failing at its end: stored anyway (%v)", err)
	}
	const crc = "xpHcTg==" // CRC32 of "trailer"
	body := "trailer"
	tr := &trailerReader{sizedReader: sizedReader{strings.NewReader(body), int64(len(body))}, crc: crc}
	if _, err := s.store.PutObject(ctx, "checked", "trailer", tr, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := s.back.HeadObject(ctx, "checked", "trailer")
	if err != nil || info.Checksums["CRC32"] != crc {
		t.Fatalf("trailer checksum in the store: %v, %v", info.Checksums, err)
	}
}
