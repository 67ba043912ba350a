package s3api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

const (
	testKey    = "AKIATESTS3API0000001"
	testSecret = "s3api-test-secret-0000000000000000000000"
)

// testEnv is a handler over a disk store behind an httptest server, with
// an SDK client and a record of the changes it reported.
type testEnv struct {
	srv     *httptest.Server
	h       *Handler
	store   *objstore.Disk
	c       *s3.Client
	mu      sync.Mutex
	changes []Change
	fail    error // returned by OnChange when set
}

func newEnv(t *testing.T, mutate ...func(*Deps)) *testEnv {
	t.Helper()
	store, err := objstore.Open(filepath.Join(t.TempDir(), "objects"))
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{store: store}
	d := Deps{
		Store:    store,
		Verifier: &sigv4.Verifier{Lookup: func(id string) (string, bool) { return testSecret, id == testKey }},
		OnChange: func(ctx context.Context, c Change) error {
			// The change is durable before it is reported.
			if c.EventName != "ObjectRemoved:Delete" {
				if _, err := store.HeadObject(ctx, c.Bucket, c.Key); err != nil {
					return err
				}
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			e.changes = append(e.changes, c)
			return e.fail
		},
	}
	for _, m := range mutate {
		m(&d)
	}
	e.h = New(d)
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	e.c = s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		BaseEndpoint: aws.String(e.srv.URL),
		UsePathStyle: true,
		Retryer:      aws.NopRetryer{},
	})
	return e
}

func (e *testEnv) taken() []Change {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.changes
	e.changes = nil
	return out
}

// raw sends a signed request with the given Host (empty: the server's).
func (e *testEnv) raw(t *testing.T, method, host, path string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
		req, hash, "s3", "us-east-1", time.Now(), func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

func TestChangesReported(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("events"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}}); err != nil {
		t.Fatal(err)
	}
	put, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("events"), Key: aws.String("in/a b.jpg"), Body: strings.NewReader("hello")})
	if err != nil {
		t.Fatal(err)
	}
	e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("events"), Key: aws.String("in/a b.jpg"), Body: strings.NewReader("hello again")})
	e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("events"), Key: aws.String("copy"), CopySource: aws.String("events/in/a%20b.jpg")})
	e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("events"), Key: aws.String("in/a b.jpg")})
	e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("events"), Key: aws.String("never-there")})
	e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("events"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("copy")}, {Key: aws.String("also-never")}}}})
	up, _ := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("events"), Key: aws.String("mpu")})
	part, _ := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("events"), Key: aws.String("mpu"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("only part")})
	if _, err := e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("events"), Key: aws.String("mpu"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}

	got := e.taken()
	want := []struct{ event, key string }{
		{"ObjectCreated:Put", "in/a b.jpg"}, {"ObjectCreated:Put", "in/a b.jpg"}, {"ObjectCreated:Copy", "copy"},
		{"ObjectRemoved:Delete", "in/a b.jpg"}, {"ObjectRemoved:Delete", "copy"}, {"ObjectCreated:CompleteMultipartUpload", "mpu"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d changes, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		c := got[i]
		if c.EventName != w.event || c.Key != w.key || c.Bucket != "events" || c.Region != "eu-west-1" || c.SourceIP != "127.0.0.1" ||
			c.RequestID == "" || c.PrincipalID != testKey || c.Time.IsZero() || len(c.Sequencer) != 16 || c.VersionID != "" {
			t.Errorf("change %d: %+v", i, c)
		}
	}
	if got[0].ETag != strings.Trim(aws.ToString(put.ETag), `"`) || got[0].Size != 5 || got[1].Size != 11 {
		t.Errorf("put changes carry %+v and %+v", got[0], got[1])
	}
	if got[3].Size != 0 || got[3].ETag != "" {
		t.Errorf("removal carries %+v", got[3])
	}
	if !strings.HasSuffix(got[5].ETag, "-1") {
		t.Errorf("multipart ETag %q", got[5].ETag)
	}
	// One key's changes carry growing sequencers.
	if !(got[0].Sequencer < got[1].Sequencer && got[1].Sequencer < got[3].Sequencer) {
		t.Errorf("sequencers %s, %s, %s", got[0].Sequencer, got[1].Sequencer, got[3].Sequencer)
	}
}

func TestChangeRequestIDMatchesResponse(t *testing.T) {
	e := newEnv(t)
	e.store.CreateBucket(context.Background(), "ids", "")
	resp := e.raw(t, "PUT", "", "/ids/k", []byte("x"), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("put: %d", resp.StatusCode)
	}
	got := e.taken()
	if len(got) != 1 || got[0].RequestID != resp.Header.Get("X-Amz-Request-Id") || got[0].HostID != resp.Header.Get("X-Amz-Id-2") {
		t.Fatalf("change %+v for response %v", got, resp.Header)
	}
}

func TestOnChangeErrorFailsTheRequest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.store.CreateBucket(ctx, "fails", "")
	e.fail = errors.New("delivery is down")
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("fails"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, err, "InternalError")
	// The change itself was made.
	if _, err := e.store.HeadObject(ctx, "fails", "k"); err != nil {
		t.Fatalf("object not stored: %v", err)
	}
	_, err = e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("fails"), Key: aws.String("k")})
	wantCode(t, err, "InternalError")
}

func TestNilOnChange(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(d *Deps) { d.OnChange = nil; d.FunctionExists = nil })
	e.store.CreateBucket(ctx, "quiet", "")
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("quiet"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("quiet"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
}

func TestVirtualBucket(t *testing.T) {
	h := New(Deps{})
	for host, want := range map[string]string{
		"photos.localhost:9000":     "photos",
		"photos.localhost":          "photos",
		"my.photos.localhost:9000":  "my.photos",
		"photos.s3.localhost:9000":  "photos",
		"PHOTOS.LOCALHOST":          "photos",
		"localhost:9000":            "",
		"s3.localhost:9000":         "",
		"127.0.0.1:9000":            "",
		"[::1]:9000":                "",
		"photos.example.com":        "",
		"photos.localhost.evil.com": "",
	} {
		got, ok := h.virtualBucket(host)
		if got != want || ok != (want != "") {
			t.Errorf("virtualBucket(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
	h = New(Deps{Domains: []string{"s3.example.test"}})
	if b, ok := h.virtualBucket("data.s3.example.test:443"); !ok || b != "data" {
		t.Errorf("configured domain: %q %v", b, ok)
	}
	if h.IsVirtualHost("data.localhost") {
		t.Error("localhost still served with other domains configured")
	}
}

func TestAddressing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.store.CreateBucket(ctx, "addr", "")
	for _, tc := range []struct {
		host, path, key string
	}{
		{"", "/addr/a//b", "a//b"},
		{"", "/addr//lead", "/lead"},
		{"", "/addr/a/../x", "a/../x"},
		{"", "/addr/sp%20ace%2Fslash", "sp ace/slash"},
		{"", "/addr/plus+sign", "plus+sign"},
		{"addr.localhost", "/vhost/key", "vhost/key"},
		{"addr.localhost", "//v", "/v"},
	} {
		resp := e.raw(t, "PUT", tc.host, tc.path, []byte(tc.key), nil)
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("PUT %s %s: %d %s", tc.host, tc.path, resp.StatusCode, b)
		}
		o, err := e.store.Open(ctx, "addr", tc.key)
		if err != nil {
			t.Fatalf("PUT %s %s did not store key %q: %v", tc.host, tc.path, tc.key, err)
		}
		o.Close()
	}
	resp := e.raw(t, "GET", "addr.localhost", "/", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "<Name>addr</Name>") {
		t.Fatalf("virtual-host list: %d %s", resp.StatusCode, b)
	}
}

func TestErrorDocuments(t *testing.T) {
	e := newEnv(t)
	resp := e.raw(t, "GET", "", "/nobucket/some/key", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	var doc struct {
		XMLName                                      xml.Name `xml:"Error"`
		Code, Message, BucketName, RequestId, HostId string
	}
	if err := xml.Unmarshal(b, &doc); err != nil || resp.StatusCode != 404 || doc.Code != "NoSuchBucket" || doc.BucketName != "nobucket" ||
		doc.RequestId != resp.Header.Get("X-Amz-Request-Id") || doc.HostId != resp.Header.Get("X-Amz-Id-2") || doc.Message == "" ||
		resp.Header.Get("Content-Type") != "application/xml" || !bytes.HasPrefix(b, []byte("<?xml")) {
		t.Fatalf("error document %d %v %s", resp.StatusCode, resp.Header, b)
	}
	resp = e.raw(t, "HEAD", "", "/nobucket/some/key", nil, nil)
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 404 || len(b) != 0 {
		t.Fatalf("HEAD error %d %q", resp.StatusCode, b)
	}
	// Unsigned and wrongly signed requests.
	req, _ := http.NewRequest("GET", e.srv.URL+"/", nil)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 403 || !strings.Contains(string(b), "<Code>AccessDenied</Code>") || !strings.Contains(string(b), "<Message>Access Denied</Message>") {
		t.Fatalf("unsigned: %d %s", r2.StatusCode, b)
	}
	wrong := s3.New(s3.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(testKey, "nope", ""),
		BaseEndpoint: aws.String(e.srv.URL), UsePathStyle: true, Retryer: aws.NopRetryer{}})
	_, err = wrong.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
}

func TestConditions(t *testing.T) {
	mod := time.Date(2024, 5, 1, 12, 0, 0, 500e6, time.UTC)
	at := func(d time.Duration) string { return mod.Truncate(time.Second).Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		name              string
		im, ius, inm, ims string
		want              int // 0 OK, 304 or 412
		wantForWrite      int
	}{
		{"none", "", "", "", "", 0, 0},
		{"if-match", `"abc"`, "", "", "", 0, 0},
		{"if-match list", `"x", "abc"`, "", "", "", 0, 0},
		{"if-match star", "*", "", "", "", 0, 0},
		{"if-match other", `"x"`, "", "", "", 412, 412},
		{"unmodified since before", "", at(-time.Second), "", "", 412, 412},
		{"unmodified since same second", "", at(0), "", "", 0, 0},
		{"if-match beats unmodified", `"abc"`, at(-time.Hour), "", "", 0, 0},
		{"none-match", "", "", `"abc"`, "", 304, 412},
		{"none-match weak", "", "", `W/"abc"`, "", 304, 412},
		{"none-match other", "", "", `"x"`, "", 0, 0},
		{"modified since same second", "", "", "", at(0), 304, 412},
		{"modified since before", "", "", "", at(-time.Second), 0, 0},
		{"none-match beats modified", "", "", `"x"`, at(time.Hour), 0, 0},
		{"bad date ignored", "", "garbage", "", "garbage", 0, 0},
	} {
		for _, read := range []bool{true, false} {
			want := tc.want
			if !read {
				want = tc.wantForWrite
			}
			err := conditions(tc.im, tc.ius, tc.inm, tc.ims, "abc", mod, read)
			got := 0
			var e *Error
			if errors.As(err, &e) {
				got = e.Status
			}
			if got != want {
				t.Errorf("%s (read %v): got %d, want %d", tc.name, read, got, want)
			}
		}
	}
}

func TestNotificationValidation(t *testing.T) {
	ctx := context.Background()
	known := "arn:aws:lambda:us-east-1:000000000000:function:known"
	e := newEnv(t, func(d *Deps) {
		d.FunctionExists = func(_ context.Context, arn string) bool { return arn == known }
		d.DestinationExists = func(context.Context, string) bool { return false }
	})
	e.store.CreateBucket(ctx, "notes", "")
	put := func(doc string) *http.Response { return e.raw(t, "PUT", "", "/notes?notification", []byte(doc), nil) }
	fn := func(inner string) string {
		return `<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CloudFunctionConfiguration>` + inner + `</CloudFunctionConfiguration></NotificationConfiguration>`
	}
	for name, doc := range map[string]string{
		"unknown function": fn(`<CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:other</CloudFunction><Event>s3:ObjectCreated:*</Event>`),
		"unknown event":    fn(`<CloudFunction>` + known + `</CloudFunction><Event>s3:ObjectCreated:Everything</Event>`),
		"no event":         fn(`<CloudFunction>` + known + `</CloudFunction>`),
		"no function":      fn(`<Event>s3:ObjectCreated:*</Event>`),
		"two prefixes":     fn(`<CloudFunction>` + known + `</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>a</Value></FilterRule><FilterRule><Name>Prefix</Name><Value>b</Value></FilterRule></S3Key></Filter>`),
		"bad rule name":    fn(`<CloudFunction>` + known + `</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>middle</Name><Value>a</Value></FilterRule></S3Key></Filter>`),
		"unknown topic":    `<NotificationConfiguration><TopicConfiguration><Topic>arn:aws:sns:us-east-1:000000000000:t</Topic><Event>s3:ObjectCreated:*</Event></TopicConfiguration></NotificationConfiguration>`,
		"duplicate ids": `<NotificationConfiguration><CloudFunctionConfiguration><Id>x</Id><CloudFunction>` + known + `</CloudFunction><Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration>` +
			`<CloudFunctionConfiguration><Id>x</Id><CloudFunction>` + known + `</CloudFunction><Event>s3:ObjectRemoved:*</Event></CloudFunctionConfiguration></NotificationConfiguration>`,
	} {
		resp := put(doc)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "<Code>InvalidArgument</Code>") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	for name, doc := range map[string]string{"not xml": "<Notif", "other root": "<Other/>", "unknown element": `<NotificationConfiguration><Mystery/></NotificationConfiguration>`} {
		resp := put(doc)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "<Code>MalformedXML</Code>") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	if cfg, _ := e.store.Notification(ctx, "notes"); len(cfg.Functions) != 0 {
		t.Fatalf("a refused configuration was stored: %+v", cfg)
	}
	resp := put(fn(`<CloudFunction>` + known + `</CloudFunction><Event>s3:ObjectCreated:Put</Event><Event>s3:ObjectCreated:Put</Event><Event>s3:ObjectRemoved:*</Event>` +
		`<Filter><S3Key><FilterRule><Name>Suffix</Name><Value>.png</Value></FilterRule></S3Key></Filter>`))
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("valid configuration: %d %s", resp.StatusCode, b)
	}
	cfg, err := e.store.Notification(ctx, "notes")
	if err != nil || len(cfg.Functions) != 1 {
		t.Fatalf("stored %+v, %v", cfg, err)
	}
	f := cfg.Functions[0]
	if f.ID == "" || f.FunctionARN != known || len(f.Events) != 2 || f.Suffix != ".png" || f.Prefix != "" {
		t.Fatalf("stored %+v", f)
	}
	out, err := e.c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("notes")})
	if err != nil || len(out.LambdaFunctionConfigurations) != 1 || aws.ToString(out.LambdaFunctionConfigurations[0].Id) != f.ID {
		t.Fatalf("get: %+v, %v", out, err)
	}
	resp = e.raw(t, "PUT", "", "/nobucket?notification", []byte(fn(`<CloudFunction>`+known+`</CloudFunction><Event>s3:ObjectCreated:*</Event>`)), nil)
	if resp.StatusCode != 404 {
		t.Fatalf("missing bucket: %d", resp.StatusCode)
	}
}

func TestURLEncode(t *testing.T) {
	for in, want := range map[string]string{"a b/c": "a%20b/c", "d+e": "d%2Be", "é": "%C3%A9", "x~y_z.-": "x~y_z.-", "%": "%25"} {
		if got := urlEncode(in); got != want {
			t.Errorf("urlEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
