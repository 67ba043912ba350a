package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/sigv2"
)

// s3Env is one server shared by the S3 tests of a test function.
type s3Env struct {
	srv *alofttest.Server
	c   *s3.Client // path-style
}

func newS3Env(t *testing.T) *s3Env {
	srv := alofttest.Start(t)
	return &s3Env{srv: srv, c: srv.S3()}
}

func (e *s3Env) bucket(t *testing.T, name string) {
	t.Helper()
	if _, err := e.c.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

func (e *s3Env) put(t *testing.T, bucket, key string, body []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := e.c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return out
}

func (e *s3Env) get(t *testing.T, bucket, key string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := e.c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return b, out
}

// absent asserts that an object does not exist.
func (e *s3Env) absent(t *testing.T, bucket, key string) {
	t.Helper()
	_, err := e.c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	apiErr(t, err, "NotFound", 404)
}

// raw sends a request signed for s3 with the body's SHA-256, the way a
// plain HTTP client would, and returns the status, headers and body.
func (e *s3Env) raw(t *testing.T, method, path string, body []byte, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if h, ok := hdr["X-Amz-Content-Sha256"]; ok {
		hash = h
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	signS3(t, req, hash)
	return do(t, req)
}

func signS3(t *testing.T, req *http.Request, hash string) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: alofttest.SecretAccessKey}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "s3", alofttest.Region, time.Now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// s3Error is the XML error document.
type s3Error struct {
	Code, Message, Key, BucketName, RequestId, HostId string
}

// wantXMLError asserts an S3 error document with the code and status.
func wantXMLError(t *testing.T, status int, hdr http.Header, body string, wantStatus int, code string) s3Error {
	t.Helper()
	var e s3Error
	if status != wantStatus || xml.Unmarshal([]byte(body), &e) != nil || e.Code != code {
		t.Fatalf("got %d %s, want %d %s", status, body, wantStatus, code)
	}
	if e.RequestId == "" || e.RequestId != hdr.Get("X-Amz-Request-Id") || hdr.Get("X-Amz-Id-2") == "" ||
		!strings.HasPrefix(hdr.Get("Content-Type"), "application/xml") {
		t.Fatalf("error %s lacks request ids or content type: %v %s", code, hdr, body)
	}
	return e
}

// objectFiles lists the files under the data dir's object store.
func objectFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// tmpEmpty waits for the store's temporary directory to be empty: a
// failed upload leaves nothing behind.
func tmpEmpty(t *testing.T, dir string) {
	t.Helper()
	tmp := filepath.Join(dir, "objects", "tmp")
	var ents []os.DirEntry
	for range 50 {
		ents, _ = os.ReadDir(tmp)
		if len(ents) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the store's tmp/ still holds %v", ents)
}

func TestS3Buckets(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "alpha")
	_, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("beta"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("beta"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	apiErr(t, err, "BucketAlreadyOwnedByYou", 409)

	loc, err := e.c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("beta")})
	if err != nil || loc.LocationConstraint != types.BucketLocationConstraintEuWest1 {
		t.Fatalf("location of beta: %+v, %v", loc, err)
	}
	loc, err = e.c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("location of alpha: %+v, %v", loc, err)
	}
	head, err := e.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("beta")})
	if err != nil || aws.ToString(head.BucketRegion) != "eu-west-1" {
		t.Fatalf("head beta: %+v, %v", head, err)
	}
	_, err = e.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")})
	apiErr(t, err, "NotFound", 404)

	list, err := e.c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(list.Buckets) != 2 || aws.ToString(list.Buckets[0].Name) != "alpha" || list.Buckets[0].CreationDate == nil {
		t.Fatalf("list buckets: %+v, %v", list, err)
	}

	e.put(t, "alpha", "k", []byte("v"))
	_, err = e.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	apiErr(t, err, "BucketNotEmpty", 409)
	e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")})
	if _, err := e.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	apiErr(t, err, "NoSuchBucket", 404)
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k"), Body: strings.NewReader("x")})
	apiErr(t, err, "NoSuchBucket", 404)

	// Invalid names, sent by hand: clients check some of these themselves.
	for _, name := range []string{"ab", "Upper", "under_score", "192.168.1.1", "a..b", "-lead", strings.Repeat("x", 64)} {
		status, hdr, body := e.raw(t, "PUT", "/"+name, nil, nil)
		wantXMLError(t, status, hdr, body, 400, "InvalidBucketName")
	}
	status, hdr, body := e.raw(t, "PUT", "/us-bucket", []byte(`<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`), nil)
	wantXMLError(t, status, hdr, body, 400, "InvalidLocationConstraint")
	status, hdr, body = e.raw(t, "PUT", "/xml-bucket", []byte(`<CreateBucketConfiguration><Location`), nil)
	wantXMLError(t, status, hdr, body, 400, "MalformedXML")
	list, _ = e.c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if len(list.Buckets) != 1 {
		t.Fatalf("refused buckets were created: %+v", list.Buckets)
	}
}

func TestS3VirtualHostStyle(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	vc := e.srv.S3VirtualHost()
	if _, err := vc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatalf("create over virtual host: %v", err)
	}
	_, err := vc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/a//b.txt"),
		Body: strings.NewReader("virtual"), ContentType: aws.String("text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	// The same object through path-style addressing.
	b, out := e.get(t, "vhost", "dir/a//b.txt")
	if string(b) != "virtual" || aws.ToString(out.ContentType) != "text/plain" {
		t.Fatalf("got %q %q", b, aws.ToString(out.ContentType))
	}
	got, err := vc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/a//b.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(got.Body)
	got.Body.Close()
	if string(b) != "virtual" {
		t.Fatalf("virtual-host get %q", b)
	}
	list, err := vc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost"), Delimiter: aws.String("/")})
	if err != nil || len(list.CommonPrefixes) != 1 || aws.ToString(list.CommonPrefixes[0].Prefix) != "dir/" {
		t.Fatalf("virtual-host list %+v, %v", list, err)
	}
	if _, err := vc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/a//b.txt")}); err != nil {
		t.Fatal(err)
	}
	e.absent(t, "vhost", "dir/a//b.txt")
	_, err = vc.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nobucket")})
	apiErr(t, err, "NotFound", 404)
}

func TestS3Objects(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "objects")
	content := []byte("0123456789abcdefghij")
	put, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objects"), Key: aws.String("docs/file.txt"),
		Body: bytes.NewReader(content), ContentType: aws.String("text/plain; charset=utf-8"),
		Metadata:     map[string]string{"Color": "blue", "owner-name": "ada"},
		CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String(`attachment; filename="f.txt"`)})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(content)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	if aws.ToString(put.ETag) != etag {
		t.Fatalf("put ETag %s, want %s", aws.ToString(put.ETag), etag)
	}
	b, got := e.get(t, "objects", "docs/file.txt")
	if !bytes.Equal(b, content) || aws.ToString(got.ETag) != etag || aws.ToString(got.ContentType) != "text/plain; charset=utf-8" ||
		got.Metadata["color"] != "blue" || got.Metadata["owner-name"] != "ada" || aws.ToString(got.CacheControl) != "max-age=60" ||
		aws.ToString(got.ContentDisposition) != `attachment; filename="f.txt"` || aws.ToInt64(got.ContentLength) != int64(len(content)) {
		t.Fatalf("get: %q %+v", b, got)
	}
	head, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String("docs/file.txt")})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(content)) || head.LastModified == nil || aws.ToString(head.AcceptRanges) != "bytes" {
		t.Fatalf("head: %+v, %v", head, err)
	}
	modified := *head.LastModified

	t.Run("ranges", func(t *testing.T) {
		for _, tc := range []struct {
			rng, want, contentRange string
		}{
			{"bytes=0-4", "01234", "bytes 0-4/20"},
			{"bytes=15-", "fghij", "bytes 15-19/20"},
			{"bytes=-3", "hij", "bytes 17-19/20"},
			{"bytes=18-100", "ij", "bytes 18-19/20"},
			{"bytes=-100", string(content), "bytes 0-19/20"},
		} {
			out, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("objects"), Key: aws.String("docs/file.txt"), Range: aws.String(tc.rng)})
			if err != nil {
				t.Fatalf("%s: %v", tc.rng, err)
			}
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if string(b) != tc.want || aws.ToString(out.ContentRange) != tc.contentRange {
				t.Fatalf("%s: got %q %q, want %q %q", tc.rng, b, aws.ToString(out.ContentRange), tc.want, tc.contentRange)
			}
		}
		status, hdr, body := e.raw(t, "GET", "/objects/docs/file.txt", nil, map[string]string{"Range": "bytes=20-"})
		wantXMLError(t, status, hdr, body, 416, "InvalidRange")
		if hdr.Get("Content-Range") != "bytes */20" {
			t.Fatalf("416 Content-Range %q", hdr.Get("Content-Range"))
		}
		status, hdr, _ = e.raw(t, "GET", "/objects/docs/file.txt", nil, map[string]string{"Range": "bytes=0-1,4-5"})
		if status != 200 || hdr.Get("Content-Length") != "20" {
			t.Fatalf("several ranges: %d %v", status, hdr)
		}
	})

	t.Run("conditionals", func(t *testing.T) {
		get := func(in *s3.GetObjectInput) error {
			in.Bucket, in.Key = aws.String("objects"), aws.String("docs/file.txt")
			out, err := e.c.GetObject(ctx, in)
			if err == nil {
				out.Body.Close()
			}
			return err
		}
		if err := get(&s3.GetObjectInput{IfMatch: aws.String(etag)}); err != nil {
			t.Fatalf("If-Match current: %v", err)
		}
		apiErr(t, get(&s3.GetObjectInput{IfMatch: aws.String(`"other"`)}), "PreconditionFailed", 412)
		apiErr(t, get(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(modified.Add(-time.Hour))}), "PreconditionFailed", 412)
		if err := get(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(modified)}); err != nil {
			t.Fatalf("If-Unmodified-Since Last-Modified: %v", err)
		}
		var re interface{ HTTPStatusCode() int }
		if err := get(&s3.GetObjectInput{IfNoneMatch: aws.String(etag)}); !errors.As(err, &re) || re.HTTPStatusCode() != 304 {
			t.Fatalf("If-None-Match current: %v", err)
		}
		if err := get(&s3.GetObjectInput{IfModifiedSince: aws.Time(modified)}); !errors.As(err, &re) || re.HTTPStatusCode() != 304 {
			t.Fatalf("If-Modified-Since Last-Modified: %v", err)
		}
		if err := get(&s3.GetObjectInput{IfModifiedSince: aws.Time(modified.Add(-time.Hour))}); err != nil {
			t.Fatalf("If-Modified-Since an hour before: %v", err)
		}
		// If-Match wins over a failing If-Unmodified-Since.
		if err := get(&s3.GetObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(modified.Add(-time.Hour))}); err != nil {
			t.Fatalf("If-Match with old If-Unmodified-Since: %v", err)
		}
		_, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String("docs/file.txt"), IfMatch: aws.String(`"x"`)})
		apiErr(t, err, "PreconditionFailed", 412)
		status, hdr, body := e.raw(t, "HEAD", "/objects/docs/file.txt", nil, map[string]string{"If-Match": `"x"`})
		if status != 412 || body != "" || hdr.Get("X-Amz-Request-Id") == "" {
			t.Fatalf("HEAD 412 got %d %q", status, body)
		}
	})

	t.Run("missing", func(t *testing.T) {
		_, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("objects"), Key: aws.String("nope")})
		apiErr(t, err, "NoSuchKey", 404)
		status, hdr, body := e.raw(t, "GET", "/objects/nope", nil, nil)
		if xe := wantXMLError(t, status, hdr, body, 404, "NoSuchKey"); xe.Key != "nope" {
			t.Fatalf("NoSuchKey names key %q", xe.Key)
		}
		status, _, body = e.raw(t, "HEAD", "/objects/nope", nil, nil)
		if status != 404 || body != "" {
			t.Fatalf("HEAD missing got %d %q", status, body)
		}
		status, hdr, body = e.raw(t, "GET", "/nobucket/nope", nil, nil)
		if xe := wantXMLError(t, status, hdr, body, 404, "NoSuchBucket"); xe.BucketName != "nobucket" {
			t.Fatalf("NoSuchBucket names bucket %q", xe.BucketName)
		}
	})

	t.Run("delete", func(t *testing.T) {
		e.put(t, "objects", "gone", []byte("x"))
		for range 2 { // absent the second time: still 204
			if _, err := e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("objects"), Key: aws.String("gone")}); err != nil {
				t.Fatal(err)
			}
		}
		status, _, _ := e.raw(t, "DELETE", "/objects/gone", nil, nil)
		if status != 204 {
			t.Fatalf("delete absent: %d", status)
		}
		e.absent(t, "objects", "gone")
	})

	t.Run("copy", func(t *testing.T) {
		out, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("objects"), Key: aws.String("copies/one"),
			CopySource: aws.String("objects/docs/file.txt")})
		if err != nil || aws.ToString(out.CopyObjectResult.ETag) != etag {
			t.Fatalf("copy: %+v, %v", out, err)
		}
		b, got := e.get(t, "objects", "copies/one")
		if !bytes.Equal(b, content) || got.Metadata["color"] != "blue" || aws.ToString(got.ContentType) != "text/plain; charset=utf-8" {
			t.Fatalf("copy kept %q %+v", b, got.Metadata)
		}
		e.put(t, "objects", "odd key+&=?.txt", []byte("odd"))
		_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("objects"), Key: aws.String("copies/two"),
			CopySource: aws.String("objects/" + urlPathEscape("odd key+&=?.txt")), MetadataDirective: types.MetadataDirectiveReplace,
			ContentType: aws.String("text/x-new"), Metadata: map[string]string{"fresh": "yes"}})
		if err != nil {
			t.Fatal(err)
		}
		b, got = e.get(t, "objects", "copies/two")
		if string(b) != "odd" || got.Metadata["fresh"] != "yes" || got.Metadata["color"] != "" || aws.ToString(got.ContentType) != "text/x-new" {
			t.Fatalf("replace copy %q %+v %s", b, got.Metadata, aws.ToString(got.ContentType))
		}
		_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("objects"), Key: aws.String("docs/file.txt"), CopySource: aws.String("objects/docs/file.txt")})
		apiErr(t, err, "InvalidRequest", 400)
		_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("objects"), Key: aws.String("x"), CopySource: aws.String("objects/nope")})
		apiErr(t, err, "NoSuchKey", 404)
		_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("objects"), Key: aws.String("x"), CopySource: aws.String("objects/docs/file.txt"),
			CopySourceIfNoneMatch: aws.String(etag)})
		apiErr(t, err, "PreconditionFailed", 412)
		e.absent(t, "objects", "x")
	})

	t.Run("batch delete", func(t *testing.T) {
		for _, k := range []string{"b/1", "b/2", "b/3"} {
			e.put(t, "objects", k, []byte(k))
		}
		out, err := e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("objects"), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("b/1")}, {Key: aws.String("b/2")}, {Key: aws.String("b/never")}}}})
		if err != nil || len(out.Deleted) != 3 || len(out.Errors) != 0 {
			t.Fatalf("delete objects: %+v, %v", out, err)
		}
		e.absent(t, "objects", "b/1")
		e.absent(t, "objects", "b/2")
		out, err = e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("objects"), Delete: &types.Delete{Quiet: aws.Bool(true),
			Objects: []types.ObjectIdentifier{{Key: aws.String("b/3")}}}})
		if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
			t.Fatalf("quiet delete objects: %+v, %v", out, err)
		}
		e.absent(t, "objects", "b/3")
		doc := []byte(`<Delete><Object><Key>docs/file.txt</Key></Object></Delete>`)
		status, hdr, body := e.raw(t, "POST", "/objects?delete", doc, nil)
		wantXMLError(t, status, hdr, body, 400, "InvalidRequest")
		sum := md5.Sum(doc)
		status, hdr, body = e.raw(t, "POST", "/objects?delete", doc, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(make([]byte, 16))})
		wantXMLError(t, status, hdr, body, 400, "BadDigest")
		if _, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String("docs/file.txt")}); err != nil {
			t.Fatalf("a refused batch delete deleted: %v", err)
		}
		status, _, body = e.raw(t, "POST", "/objects?delete", doc, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])})
		if status != 200 || !strings.Contains(body, "<Key>docs/file.txt</Key>") {
			t.Fatalf("batch delete with Content-MD5: %d %s", status, body)
		}
	})
}

func urlPathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestS3Listing(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "list")
	keys := []string{"a.txt", "b/1", "b/2", "b/c/3", "c d/x", "d+e", "é/1", "z"}
	for _, k := range keys {
		e.put(t, "list", k, []byte(k))
	}
	out, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var gotKeys, gotPrefixes []string
	for _, o := range out.Contents {
		gotKeys = append(gotKeys, aws.ToString(o.Key))
	}
	for _, p := range out.CommonPrefixes {
		gotPrefixes = append(gotPrefixes, aws.ToString(p.Prefix))
	}
	if !slices.Equal(gotKeys, []string{"a.txt", "d+e", "z"}) || !slices.Equal(gotPrefixes, []string{"b/", "c d/", "é/"}) || aws.ToInt32(out.KeyCount) != 6 {
		t.Fatalf("delimited: keys %q prefixes %q count %d", gotKeys, gotPrefixes, aws.ToInt32(out.KeyCount))
	}
	out, err = e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("b/"), Delimiter: aws.String("/")})
	if err != nil || len(out.Contents) != 2 || len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "b/c/" {
		t.Fatalf("prefix b/: %+v, %v", out, err)
	}
	out, err = e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), StartAfter: aws.String("b/c/3")})
	if err != nil || len(out.Contents) != 4 || aws.ToString(out.Contents[0].Key) != "c d/x" || aws.ToInt64(out.Contents[0].Size) != 5 {
		t.Fatalf("start-after: %+v, %v", out, err)
	}
	// Paging with a delimiter: a common prefix is not repeated.
	var pages [][]string
	var token *string
	for {
		out, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), ContinuationToken: token})
		if err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, o := range out.Contents {
			page = append(page, aws.ToString(o.Key))
		}
		for _, p := range out.CommonPrefixes {
			page = append(page, aws.ToString(p.Prefix))
		}
		slices.Sort(page)
		pages = append(pages, page)
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		token = out.NextContinuationToken
	}
	if fmt.Sprint(pages) != "[[a.txt b/] [c d/ d+e] [z é/]]" {
		t.Fatalf("pages %q", pages)
	}
	// V1 with a marker.
	v1, err := e.c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
	if err != nil || !aws.ToBool(v1.IsTruncated) || aws.ToString(v1.NextMarker) != "b/" {
		t.Fatalf("v1 page 1: %+v, %v", v1, err)
	}
	v1, err = e.c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), Marker: v1.NextMarker})
	if err != nil || len(v1.CommonPrefixes) != 1 || aws.ToString(v1.CommonPrefixes[0].Prefix) != "c d/" || aws.ToString(v1.Contents[0].Key) != "d+e" {
		t.Fatalf("v1 page 2: %+v, %v", v1, err)
	}
	// encoding-type=url encodes keys and prefixes, and says so.
	status, _, body := e.raw(t, "GET", "/list?list-type=2&encoding-type=url&prefix=c%20d%2F", nil, nil)
	if status != 200 || !strings.Contains(body, "<EncodingType>url</EncodingType>") || !strings.Contains(body, "<Key>c%20d/x</Key>") ||
		!strings.Contains(body, "<Prefix>c%20d/</Prefix>") {
		t.Fatalf("encoding-type=url: %d %s", status, body)
	}
	status, _, body = e.raw(t, "GET", "/list?list-type=2&encoding-type=url&prefix=d", nil, nil)
	if status != 200 || !strings.Contains(body, "<Key>d%2Be</Key>") {
		t.Fatalf("encoding-type=url with +: %d %s", status, body)
	}
	status, hdr, body := e.raw(t, "GET", "/list?list-type=2&max-keys=x", nil, nil)
	wantXMLError(t, status, hdr, body, 400, "InvalidArgument")
	status, hdr, body = e.raw(t, "GET", "/list?list-type=2&continuation-token=%25%25", nil, nil)
	wantXMLError(t, status, hdr, body, 400, "InvalidArgument")
}

func TestS3ListingMoreThanAThousand(t *testing.T) {
	e := newS3Env(t)
	e.bucket(t, "many")
	const n = 2100
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("k/%05d", i))
	}
	var wg sync.WaitGroup
	next := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range next {
				e.put(t, "many", k, nil)
			}
		})
	}
	for _, k := range want {
		next <- k
	}
	close(next)
	wg.Wait()
	var got []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(e.c, &s3.ListObjectsV2Input{Bucket: aws.String("many")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.Contents) > 1000 {
			t.Fatalf("page of %d keys", len(out.Contents))
		}
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, %d keys", pages, len(got))
	}
	// Small pages through V1 markers end in the same place.
	v1, err := e.c.ListObjects(ctxT(t), &s3.ListObjectsInput{Bucket: aws.String("many"), Marker: aws.String("k/02097")})
	if err != nil || len(v1.Contents) != 2 || aws.ToBool(v1.IsTruncated) {
		t.Fatalf("v1 from marker: %+v, %v", v1, err)
	}
}

func TestS3Multipart(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "mpu")
	create, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"),
		ContentType: aws.String("application/x-big"), Metadata: map[string]string{"kind": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	id := create.UploadId
	parts := [][]byte{bytes.Repeat([]byte{'A'}, 5<<20), bytes.Repeat([]byte{'B'}, 5<<20), bytes.Repeat([]byte{'C'}, 1<<20+7)}
	var completed []types.CompletedPart
	etags := md5.New()
	for i, p := range parts {
		out, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"), UploadId: id,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		sum := md5.Sum(p)
		if aws.ToString(out.ETag) != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Fatalf("part %d ETag %s", i+1, aws.ToString(out.ETag))
		}
		etags.Write(sum[:])
		completed = append(completed, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	lp, err := e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"), UploadId: id})
	if err != nil || len(lp.Parts) != 3 || aws.ToInt64(lp.Parts[2].Size) != 1<<20+7 {
		t.Fatalf("list parts: %+v, %v", lp, err)
	}
	lp, err = e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"), UploadId: id, MaxParts: aws.Int32(2)})
	if err != nil || len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToString(lp.NextPartNumberMarker) != "2" {
		t.Fatalf("list parts page: %+v, %v", lp, err)
	}
	complete := func(ps []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"),
			UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: ps}})
	}
	_, err = complete([]types.CompletedPart{completed[1], completed[0], completed[2]})
	apiErr(t, err, "InvalidPartOrder", 400)
	_, err = complete([]types.CompletedPart{completed[0], {PartNumber: aws.Int32(2), ETag: completed[0].ETag}, completed[2]})
	apiErr(t, err, "InvalidPart", 400)
	_, err = complete([]types.CompletedPart{completed[0], completed[2], {PartNumber: aws.Int32(4), ETag: completed[0].ETag}})
	apiErr(t, err, "InvalidPart", 400)
	_, err = complete([]types.CompletedPart{completed[2], {PartNumber: aws.Int32(5), ETag: completed[2].ETag}})
	apiErr(t, err, "InvalidPart", 400)
	e.absent(t, "mpu", "big.bin")

	out, err := complete(completed)
	if err != nil {
		t.Fatal(err)
	}
	wantETag := `"` + hex.EncodeToString(etags.Sum(nil)) + `-3"`
	if aws.ToString(out.ETag) != wantETag {
		t.Fatalf("complete ETag %s, want %s", aws.ToString(out.ETag), wantETag)
	}
	b, got := e.get(t, "mpu", "big.bin")
	if !bytes.Equal(b, bytes.Join(parts, nil)) || aws.ToString(got.ETag) != wantETag || aws.ToString(got.ContentType) != "application/x-big" || got.Metadata["kind"] != "test" {
		t.Fatalf("joined object: %d bytes, %+v", len(b), got)
	}
	rng, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"), Range: aws.String("bytes=5242878-5242881")})
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(rng.Body)
	rng.Body.Close()
	if string(rb) != "AABB" {
		t.Fatalf("range across parts: %q", rb)
	}
	_, err = e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"), UploadId: id})
	apiErr(t, err, "NoSuchUpload", 404)
	// Parts stay addressable by number, as downloaders that fetch by part use them.
	p2, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"), PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(p2.Body)
	p2.Body.Close()
	if !bytes.Equal(pb, parts[1]) || aws.ToInt32(p2.PartsCount) != 3 || aws.ToString(p2.ContentRange) != fmt.Sprintf("bytes %d-%d/%d", 5<<20, 10<<20-1, len(b)) {
		t.Fatalf("part 2: %d bytes, parts %d, range %s", len(pb), aws.ToInt32(p2.PartsCount), aws.ToString(p2.ContentRange))
	}
	hp, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"), PartNumber: aws.Int32(3)})
	if err != nil || aws.ToInt64(hp.ContentLength) != int64(len(parts[2])) {
		t.Fatalf("head part 3: %+v, %v", hp, err)
	}
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big.bin"), PartNumber: aws.Int32(4)})
	apiErr(t, err, "InvalidPartNumber", 416)

	// A small part that is not the last, then an abort.
	c2, _ := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small")})
	var small []types.CompletedPart
	for i := range 2 {
		out, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: c2.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader("tiny")})
		if err != nil {
			t.Fatal(err)
		}
		small = append(small, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	_, err = e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small"),
		UploadId: c2.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: small}})
	apiErr(t, err, "EntityTooSmall", 400)
	_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: c2.UploadId,
		PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	apiErr(t, err, "InvalidArgument", 400)
	if _, err := e.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: c2.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: c2.UploadId,
		PartNumber: aws.Int32(3), Body: strings.NewReader("x")})
	apiErr(t, err, "NoSuchUpload", 404)
	_, err = e.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("small"), UploadId: aws.String("../../etc")})
	apiErr(t, err, "NoSuchUpload", 404)
	e.absent(t, "mpu", "small")
	tmpEmpty(t, e.srv.ObjectsDir())
	if ents, _ := os.ReadDir(filepath.Join(e.srv.ObjectsDir(), "objects", "uploads", "mpu")); len(ents) != 0 {
		t.Fatalf("uploads left: %v", ents)
	}
}

func TestS3Presigned(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "presign")
	pc := s3.NewPresignClient(e.c)
	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("presign"), Key: aws.String("up load.txt")},
		s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("sent with a presigned URL"))
	for k, vs := range put.SignedHeader {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if status, _, body := do(t, req); status != 200 {
		t.Fatalf("presigned PUT: %d %s", status, body)
	}
	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("up load.txt")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "sent with a presigned URL" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
	// A tampered URL fails; an expired one fails with "Request has expired".
	req, _ = http.NewRequest("GET", strings.Replace(get.URL, "up%20load.txt", "other.txt", 1), nil)
	status, hdr, body := do(t, req)
	wantXMLError(t, status, hdr, body, 403, "SignatureDoesNotMatch")
	expired, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("up load.txt")}, s3.WithPresignExpires(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	req, _ = http.NewRequest("GET", expired.URL, nil)
	status, hdr, body = do(t, req)
	if xe := wantXMLError(t, status, hdr, body, 403, "AccessDenied"); xe.Message != "Request has expired" {
		t.Fatalf("expired URL message %q", xe.Message)
	}
}

func TestS3BadInput(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "bad")

	t.Run("odd keys stay inside the store", func(t *testing.T) {
		keys := []string{"..", "../../../../escape-dotdot", "a/../../x", "a//b", "//lead", "/", "trail/", "a/./b", ".", "%2e%2e", "sp ace", "üñï/çødé"}
		for i, k := range keys {
			e.put(t, "bad", k, []byte(strconv.Itoa(i)))
		}
		for i, k := range keys {
			if b, _ := e.get(t, "bad", k); string(b) != strconv.Itoa(i) {
				t.Errorf("key %q: got %q", k, b)
			}
		}
		list, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bad")})
		if err != nil || len(list.Contents) != len(keys) {
			t.Fatalf("listed %d of %d keys, %v", len(list.Contents), len(keys), err)
		}
		// Every file written is inside the bucket's key tree, and nothing
		// appeared beside the data dir.
		keysDir := filepath.Join(e.srv.ObjectsDir(), "objects", "buckets", "bad", "keys") + string(filepath.Separator)
		storeID := filepath.Join(e.srv.ObjectsDir(), "objects", "store-id") // the store's own name, for background jobs
		for _, f := range objectFiles(t, e.srv.ObjectsDir()) {
			if !strings.HasPrefix(f, keysDir) && filepath.Base(f) != "bucket.json" && f != storeID {
				t.Errorf("file outside the key tree: %s", f)
			}
		}
		filepath.WalkDir(filepath.Dir(e.srv.ObjectsDir()), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), "escape") && !strings.HasPrefix(p, keysDir) {
				t.Errorf("a key escaped the store: %s", p)
			}
			return nil
		})
		_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
		apiErr(t, err, "KeyTooLongError", 400)
	})

	t.Run("signatures", func(t *testing.T) {
		cfg := e.srv.Config()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(alofttest.AccessKeyID, "wrong-secret", "")
		wrong := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(e.srv.URL); o.UsePathStyle = true })
		_, err := wrong.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String("forged"), Body: strings.NewReader("x")})
		apiErr(t, err, "SignatureDoesNotMatch", 403)
		e.absent(t, "bad", "forged")
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", "x", "")
		unknown := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(e.srv.URL); o.UsePathStyle = true })
		_, err = unknown.ListBuckets(ctx, &s3.ListBucketsInput{})
		apiErr(t, err, "InvalidAccessKeyId", 403)
		for _, path := range []string{"/", "/bad", "/bad/.."} {
			resp, err := http.Get(e.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantXMLError(t, resp.StatusCode, resp.Header, string(b), 403, "AccessDenied")
		}
		req, _ := http.NewRequest("PUT", e.srv.URL+"/bad/anonymous", strings.NewReader("x"))
		status, hdr, body := do(t, req)
		wantXMLError(t, status, hdr, body, 403, "AccessDenied")
		e.absent(t, "bad", "anonymous")
		// Lambda's paths still get Lambda's errors.
		resp, err := http.Get(e.srv.URL + "/2015-03-31/functions/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
			t.Fatalf("unsigned Lambda request answered %d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("digests", func(t *testing.T) {
		_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String("md5"), Body: strings.NewReader("content"),
			ContentMD5: aws.String(base64.StdEncoding.EncodeToString(make([]byte, 16)))})
		apiErr(t, err, "BadDigest", 400)
		e.absent(t, "bad", "md5")
		_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String("md5"), Body: strings.NewReader("content"),
			ContentMD5: aws.String("not-base64")})
		apiErr(t, err, "InvalidDigest", 400)
		e.absent(t, "bad", "md5")
		_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String("crc"), Body: strings.NewReader("content"),
			ChecksumCRC32: aws.String("AAAAAA==")})
		apiErr(t, err, "BadDigest", 400)
		e.absent(t, "bad", "crc")
		status, hdr, body := e.raw(t, "PUT", "/bad/sha", []byte("content"), map[string]string{"X-Amz-Content-Sha256": strings.Repeat("ab", 32)})
		wantXMLError(t, status, hdr, body, 400, "XAmzContentSHA256Mismatch")
		e.absent(t, "bad", "sha")
		// A checksum the SDK computes is stored and returned.
		_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String("sha256"), Body: strings.NewReader("content"),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			t.Fatal(err)
		}
		h, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bad"), Key: aws.String("sha256"), ChecksumMode: types.ChecksumModeEnabled})
		sum := sha256.Sum256([]byte("content"))
		if err != nil || aws.ToString(h.ChecksumSHA256) != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Fatalf("stored checksum: %+v, %v", h, err)
		}
		tmpEmpty(t, e.srv.ObjectsDir())
	})

	t.Run("unsupported", func(t *testing.T) {
		status, hdr, body := e.raw(t, "GET", "/bad?inventory", nil, nil)
		wantXMLError(t, status, hdr, body, 501, "NotImplemented")
		status, hdr, body = e.raw(t, "POST", "/bad/key", nil, nil)
		wantXMLError(t, status, hdr, body, 405, "MethodNotAllowed")
		status, hdr, body = e.raw(t, "GET", "/bad/%ff", nil, nil)
		wantXMLError(t, status, hdr, body, 400, "InvalidURI")
	})
}

// chunkedPut sends a PUT with an aws-chunked body signed chunk by chunk
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), built with the SDK's signer for
// the seed signature and its stream signer for the chunks. corrupt, if
// non-nil, may change the body before it is sent.
func chunkedPut(t *testing.T, e *s3Env, key string, data []byte, chunk int, corrupt func([]byte) []byte) (int, http.Header, string) {
	t.Helper()
	const mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	req, _ := http.NewRequest("PUT", e.srv.URL+"/chunks/"+key, nil)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	req.Header.Set("X-Amz-Content-Sha256", mode)
	now := time.Now()
	creds := aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: alofttest.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, mode, "s3", alofttest.Region, now,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
		t.Fatal(err)
	}
	authz := req.Header.Get("Authorization")
	seed, _ := hex.DecodeString(authz[strings.LastIndex(authz, "=")+1:])
	ss := v4.NewStreamSigner(creds, "s3", alofttest.Region, seed)
	var body bytes.Buffer
	for rest := data; ; {
		n := min(chunk, len(rest))
		sig, err := ss.GetSignature(context.Background(), nil, rest[:n], now)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&body, "%x;chunk-signature=%x\r\n%s\r\n", n, sig, rest[:n])
		if n == 0 {
			break
		}
		rest = rest[n:]
	}
	b := body.Bytes()
	if corrupt != nil {
		b = corrupt(b)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	return do(t, req)
}

func TestS3ChunkedUploads(t *testing.T) {
	e := newS3Env(t)
	e.bucket(t, "chunks")
	data := bytes.Repeat([]byte("signed chunks "), 100000) // 1.4 MB
	status, _, body := chunkedPut(t, e, "signed", data, 64<<10, nil)
	if status != 200 {
		t.Fatalf("signed chunks: %d %s", status, body)
	}
	if b, _ := e.get(t, "chunks", "signed"); !bytes.Equal(b, data) {
		t.Fatalf("stored %d bytes, sent %d", len(b), len(data))
	}
	status, hdr, body := chunkedPut(t, e, "forged", data, 64<<10, func(b []byte) []byte {
		i := bytes.Index(b, []byte("signed chunks signed")) + 200000
		b[i] ^= 1 // flip a bit in the data of the fourth chunk
		return b
	})
	wantXMLError(t, status, hdr, body, 403, "SignatureDoesNotMatch")
	e.absent(t, "chunks", "forged")
	status, hdr, body = chunkedPut(t, e, "cut", data, 64<<10, func(b []byte) []byte {
		return b[:len(b)/2] // the HTTP body is complete; the chunk stream is not
	})
	wantXMLError(t, status, hdr, body, 400, "IncompleteBody")
	e.absent(t, "chunks", "cut")

	// STREAMING-UNSIGNED-PAYLOAD-TRAILER, as SDKs send over TLS, with the
	// trailer's CRC32 checked.
	unsigned := func(key string, payload []byte, trailer string, cut int) (int, http.Header, string) {
		var b bytes.Buffer
		for rest := payload; len(rest) > 0; {
			n := min(8192, len(rest))
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		fmt.Fprintf(&b, "0\r\n%s\r\n\r\n", trailer)
		wire := b.Bytes()
		if cut > 0 {
			wire = wire[:cut]
		}
		return e.raw(t, "PUT", "/chunks/"+key, wire, map[string]string{
			"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
			"X-Amz-Trailer": "x-amz-checksum-crc32", "X-Amz-Decoded-Content-Length": strconv.Itoa(len(payload))})
	}
	crc := crc32b64(data)
	if status, _, body := unsigned("trailer", data, "x-amz-checksum-crc32:"+crc, 0); status != 200 {
		t.Fatalf("unsigned trailer: %d %s", status, body)
	}
	h, err := e.c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("chunks"), Key: aws.String("trailer"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(h.ChecksumCRC32) != crc || aws.ToInt64(h.ContentLength) != int64(len(data)) {
		t.Fatalf("trailer object: %+v, %v", h, err)
	}
	status, hdr, body = unsigned("badcrc", data, "x-amz-checksum-crc32:AAAAAA==", 0)
	wantXMLError(t, status, hdr, body, 400, "BadDigest")
	e.absent(t, "chunks", "badcrc")
	status, hdr, body = unsigned("truncated", data, "x-amz-checksum-crc32:"+crc, 700000)
	wantXMLError(t, status, hdr, body, 400, "IncompleteBody")
	e.absent(t, "chunks", "truncated")
	tmpEmpty(t, e.srv.ObjectsDir())
}

// crc32b64 is the x-amz-checksum-crc32 value of b.
func crc32b64(b []byte) string {
	var crc uint32 = 0xffffffff
	for _, c := range b {
		crc ^= uint32(c)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ 0xedb88320
			} else {
				crc >>= 1
			}
		}
	}
	crc = ^crc
	return base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
}

// An upload whose connection dies halfway leaves no object and no
// temporary file, and the server keeps serving.
func TestS3ConnectionKilledMidUpload(t *testing.T) {
	e := newS3Env(t)
	e.bucket(t, "killed")
	e.put(t, "killed", "existing", []byte("old content"))
	const size = 8 << 20
	for _, key := range []string{"new", "existing"} {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/killed/"+key, nil)
		req.ContentLength = size
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		signS3(t, req, "UNSIGNED-PAYLOAD")
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(conn)
		fmt.Fprintf(w, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), req.URL.Host, size)
		for k, vs := range req.Header {
			fmt.Fprintf(w, "%s: %s\r\n", k, vs[0])
		}
		w.WriteString("\r\n")
		w.Write(bytes.Repeat([]byte("half"), size/8))
		w.Flush()
		time.Sleep(300 * time.Millisecond) // let the server write it into a temporary file
		conn.Close()
	}
	tmpEmpty(t, e.srv.ObjectsDir())
	e.absent(t, "killed", "new")
	if b, _ := e.get(t, "killed", "existing"); string(b) != "old content" {
		t.Fatalf("existing object became %d bytes", len(b))
	}
}

func TestS3NotificationConfiguration(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "notify")
	arn := "arn:aws:lambda:us-east-1:000000000000:function:on-upload"
	cfg := &types.NotificationConfiguration{LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{{
		Id: aws.String("uploads"), LambdaFunctionArn: aws.String(arn),
		Events: []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"},
		Filter: &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: []types.FilterRule{
			{Name: types.FilterRuleNamePrefix, Value: aws.String("in/")}, {Name: types.FilterRuleNameSuffix, Value: aws.String(".jpg")}}}},
	}}}
	put := func(c *types.NotificationConfiguration) error {
		_, err := e.c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("notify"), NotificationConfiguration: c})
		return err
	}
	apiErr(t, put(cfg), "InvalidArgument", 400)

	lc := e.srv.Lambda()
	zip := alofttest.ZipFiles(t, map[string]string{"bootstrap": "#!/bin/sh\nexit 0\n"})
	_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("on-upload"), Runtime: ltypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/aloft"), Code: &ltypes.FunctionCode{ZipFile: zip}})
	if err != nil {
		t.Fatal(err)
	}
	if err := put(cfg); err != nil {
		t.Fatalf("put notification: %v", err)
	}
	got, err := e.c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("notify")})
	if err != nil || len(got.LambdaFunctionConfigurations) != 1 {
		t.Fatalf("get notification: %+v, %v", got, err)
	}
	fc := got.LambdaFunctionConfigurations[0]
	if aws.ToString(fc.Id) != "uploads" || aws.ToString(fc.LambdaFunctionArn) != arn || len(fc.Events) != 2 || fc.Filter == nil ||
		len(fc.Filter.Key.FilterRules) != 2 || aws.ToString(fc.Filter.Key.FilterRules[1].Value) != ".jpg" {
		t.Fatalf("stored configuration %+v", fc)
	}
	bad := *cfg
	bad.LambdaFunctionConfigurations = []types.LambdaFunctionConfiguration{{LambdaFunctionArn: aws.String(arn), Events: []types.Event{"s3:ObjectRestore:Post"}}}
	apiErr(t, put(&bad), "InvalidArgument", 400)
	bad.LambdaFunctionConfigurations = nil
	bad.QueueConfigurations = []types.QueueConfiguration{{QueueArn: aws.String("arn:aws:sqs:us-east-1:000000000000:q"), Events: []types.Event{"s3:ObjectCreated:*"}}}
	apiErr(t, put(&bad), "InvalidArgument", 400)
	// The refused configurations left the stored one alone; an empty one clears it.
	got, _ = e.c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("notify")})
	if len(got.LambdaFunctionConfigurations) != 1 {
		t.Fatalf("refused configuration replaced the stored one: %+v", got)
	}
	if err := put(&types.NotificationConfiguration{}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("notify")})
	if len(got.LambdaFunctionConfigurations) != 0 {
		t.Fatalf("empty configuration kept %+v", got)
	}
}

// Objects survive a restart, and one killed mid-upload never appears.
func TestS3SurvivesRestart(t *testing.T) {
	e := newS3Env(t)
	e.bucket(t, "durable")
	data := bytes.Repeat([]byte("durable "), 1<<17)
	e.put(t, "durable", "one", data)
	e.srv.Kill()
	e.srv.Restart()
	e.c = e.srv.S3()
	if b, _ := e.get(t, "durable", "one"); !bytes.Equal(b, data) {
		t.Fatalf("after kill -9: %d bytes", len(b))
	}
	tmpEmpty(t, e.srv.ObjectsDir())
}

// TestS3SigV2 uses Signature Version 2, as AWS CLI v1's `s3 presign` and
// boto3's default presigned URLs sign: presigned GET and PUT work, an
// expired URL and a wrong signature are refused in S3's words.
func TestS3SigV2(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	c := srv.S3()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("v2-bucket")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("v2-bucket"), Key: aws.String("a b.txt"), Body: strings.NewReader("old style")}); err != nil {
		t.Fatal(err)
	}
	presigned := func(method, path string, expires time.Time) string {
		return srv.URL + path + "?" + sigv2.Presign(method, path, alofttest.AccessKeyID, alofttest.SecretAccessKey, expires).Encode()
	}
	resp, err := http.Get(presigned("GET", "/v2-bucket/a%20b.txt", time.Now().Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "old style" {
		t.Fatalf("presigned GET: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("PUT", presigned("PUT", "/v2-bucket/up.txt", time.Now().Add(time.Minute)), strings.NewReader("uploaded"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d", resp.StatusCode)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("v2-bucket"), Key: aws.String("up.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	if string(b) != "uploaded" {
		t.Errorf("the presigned PUT stored %q", b)
	}
	for _, tc := range []struct {
		name, url, code string
	}{
		{"expired", presigned("GET", "/v2-bucket/a%20b.txt", time.Now().Add(-time.Minute)), "AccessDenied"},
		{"signed for another key", presigned("GET", "/v2-bucket/up.txt", time.Now().Add(time.Minute)) + "x", "SignatureDoesNotMatch"},
	} {
		if tc.name == "signed for another key" {
			tc.url = strings.Replace(presigned("GET", "/v2-bucket/other.txt", time.Now().Add(time.Minute)), "other.txt", "up.txt", 1)
		}
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>"+tc.code+"</Code>") {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
}
