package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
)

const (
	testKey    = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
	invokePath = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afoo/invocations"
)

var testNow = time.Date(2024, 5, 24, 12, 0, 0, 0, time.UTC)

var testCreds = aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}

func newVerifier() *Verifier {
	return &Verifier{
		Lookup: func(id string) (string, bool) {
			if id == testKey {
				return testSecret, true
			}
			return "", false
		},
		Now: func() time.Time { return testNow },
	}
}

// request describes a client request before signing.
type request struct {
	method  string
	url     string
	body    string
	header  http.Header
	service string
}

// newRequest builds the client-side request.
func (rq request) newRequest(t testing.TB) *http.Request {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req, err := http.NewRequest(rq.method, rq.url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range rq.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

func signerOpts(service string) []func(*v4.SignerOptions) {
	if service == "s3" {
		return []func(*v4.SignerOptions){func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }}
	}
	return nil
}

// sign signs req with the SDK signer, the reference implementation.
func sign(t testing.TB, req *http.Request, creds aws.Credentials, payload, service string, at time.Time) {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, service, testRegion, at, signerOpts(service)...)
	if err != nil {
		t.Fatal(err)
	}
}

// presign presigns req with the SDK signer and returns the request a client
// would send.
func presign(t testing.TB, req *http.Request, creds aws.Credentials, service string, at time.Time) *http.Request {
	t.Helper()
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, unsignedPayload, service, testRegion, at, signerOpts(service)...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest(req.Method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if k == "Host" {
			continue
		}
		out.Header[k] = vs
	}
	return out
}

// received sends req through the HTTP/1.1 wire format and parses it back,
// so the verifier sees exactly what a server would.
func received(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// signedRequest signs rq at the given time and returns it as received.
func signedRequest(t testing.TB, rq request, at time.Time) *http.Request {
	t.Helper()
	req := rq.newRequest(t)
	sign(t, req, testCreds, PayloadHash([]byte(rq.body)), rq.service, at)
	return received(t, req)
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func TestVerifyValid(t *testing.T) {
	lambdaHeaders := http.Header{
		"Content-Type":          {"application/json"},
		"X-Amz-Invocation-Type": {"RequestResponse"},
		"Amz-Sdk-Request":       {"attempt=1; max=3"},
	}
	tests := []struct {
		name     string
		rq       request
		rawQuery string // replaces the query after signing, as sent on the wire
		payload  string // passed to Verify; default is the body's hash
	}{
		{name: "lambda list GET", rq: request{method: "GET", url: "http://localhost:9001/2015-03-31/functions/?MaxItems=10&Marker=abc", service: "lambda"}},
		{name: "lambda invoke ARN path", rq: request{method: "POST", url: "http://localhost:9001" + invokePath, body: `{"hello":"world"}`, header: lambdaHeaders, service: "lambda"}},
		{name: "lambda invoke with qualifier", rq: request{method: "POST", url: "http://localhost:9001/2015-03-31/functions/foo/invocations?Qualifier=%24LATEST", body: `{}`, header: lambdaHeaders, service: "lambda"}},
		{name: "lambda path needing escapes", rq: request{method: "GET", url: "http://localhost:9001/2015-03-31/functions/a%20b%2Fc%C3%A9/configuration", service: "lambda"}},
		{name: "lambda no port", rq: request{method: "GET", url: "http://aloft.example/2015-03-31/functions/", service: "lambda"}},
		{
			name:     "lambda repeated unsorted escaped query",
			rq:       request{method: "GET", url: "http://localhost:9001/2015-03-31/functions/?b=2&a=3&a=1&c=%2Fx%20y&d=a+b&e=&f&%E2%9C%93=%7E&g=a%3Db", service: "lambda"},
			rawQuery: "b=2&a=3&a=1&c=%2Fx%20y&d=a+b&e=&f&%E2%9C%93=%7E&g=a%3Db",
		},
		{name: "logs POST empty path", rq: request{method: "POST", url: "http://localhost:9001", body: `{"logGroupNamePrefix":"/aws/lambda/"}`, header: http.Header{
			"Content-Type": {"application/x-amz-json-1.1"},
			"X-Amz-Target": {"Logs_20140328.DescribeLogGroups"},
		}, service: "logs"}},
		{name: "logs folded and repeated header values", rq: request{method: "POST", url: "http://localhost:9001/", body: `{}`, header: http.Header{
			"Content-Type": {"application/x-amz-json-1.1"},
			"X-Amz-Target": {"Logs_20140328.PutLogEvents"},
			"X-Amz-Meta-A": {"  one   two  three ", "second\tvalue"},
		}, service: "logs"}},
		{name: "s3 GET escaped key", rq: request{method: "GET", url: "http://localhost:9001/bucket/key%20with%20space/a%2Bb%3Ac?list-type=2&prefix=a%2Fb", header: http.Header{
			"X-Amz-Content-Sha256": {emptyHash},
		}, service: "s3"}},
		{name: "s3 PUT with body", rq: request{method: "PUT", url: "http://localhost:9001/bucket/dir/file.txt", body: "some object data", header: http.Header{
			"X-Amz-Content-Sha256": {PayloadHash([]byte("some object data"))},
			"Content-Type":         {"text/plain"},
		}, service: "s3"}},
		{name: "s3 PUT declared hash", payload: "-", rq: request{method: "PUT", url: "http://localhost:9001/bucket/obj", body: "streamed", header: http.Header{
			"X-Amz-Content-Sha256": {PayloadHash([]byte("streamed"))},
		}, service: "s3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.rq.newRequest(t)
			payload := PayloadHash([]byte(tt.rq.body))
			sign(t, req, testCreds, payload, tt.rq.service, testNow.Add(-time.Minute))
			if tt.rawQuery != "" {
				req.URL.RawQuery = tt.rawQuery
			}
			r := received(t, req)
			verifyHash := payload
			if tt.payload == "-" {
				verifyHash = ""
			}
			id, err := newVerifier().Verify(r, verifyHash)
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			want := Identity{
				AccessKeyID: testKey,
				Region:      testRegion,
				Service:     tt.rq.service,
				Date:        "20240524",
				Time:        testNow.Add(-time.Minute),
				PayloadHash: payload,
			}
			if diff := cmp.Diff(want, id); diff != "" {
				t.Errorf("Identity mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyS3UnsignedPayload(t *testing.T) {
	rq := request{method: "PUT", url: "http://localhost:9001/bucket/big", body: "payload", header: http.Header{
		"X-Amz-Content-Sha256": {unsignedPayload},
	}, service: "s3"}
	req := rq.newRequest(t)
	sign(t, req, testCreds, unsignedPayload, "s3", testNow)
	id, err := newVerifier().Verify(received(t, req), "")
	if err != nil {
		t.Fatalf("Verify: got error %v, want nil", err)
	}
	if id.PayloadHash != unsignedPayload {
		t.Errorf("PayloadHash: got %q, want %q", id.PayloadHash, unsignedPayload)
	}

	// Without the header there is nothing to fall back on.
	req = request{method: "GET", url: "http://localhost:9001/bucket/big", service: "s3"}.newRequest(t)
	sign(t, req, testCreds, emptyHash, "s3", testNow)
	_, err = newVerifier().Verify(received(t, req), "")
	if got := kindOf(err); got != Malformed {
		t.Errorf("no x-amz-content-sha256: got kind %v (%v), want %v", got, err, Malformed)
	}
}

func TestVerifySessionToken(t *testing.T) {
	creds := testCreds
	creds.SessionToken = "FQoGZXIvYXdzEXAMPLETOKEN//+=="
	req := request{method: "POST", url: "http://localhost:9001" + invokePath, body: "{}", service: "lambda"}.newRequest(t)
	sign(t, req, creds, PayloadHash([]byte("{}")), "lambda", testNow)
	if !strings.Contains(req.Header.Get("Authorization"), "x-amz-security-token") {
		t.Fatalf("token not signed: %s", req.Header.Get("Authorization"))
	}
	r := received(t, req)
	id, err := newVerifier().Verify(r, PayloadHash([]byte("{}")))
	if err != nil {
		t.Fatalf("Verify: got error %v, want nil", err)
	}
	if id.SessionToken != creds.SessionToken {
		t.Errorf("SessionToken: got %q, want %q", id.SessionToken, creds.SessionToken)
	}

	r.Header.Set("X-Amz-Security-Token", "other")
	_, err = newVerifier().Verify(r, PayloadHash([]byte("{}")))
	if got := kindOf(err); got != Mismatch {
		t.Errorf("token replaced: got kind %v, want %v", got, Mismatch)
	}
}

func TestCanonicalURI(t *testing.T) {
	tests := []struct {
		service, path, want string
	}{
		{"lambda", invokePath, "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253Afunction%253Afoo/invocations"},
		{"s3", invokePath, invokePath},
		{"lambda", "/a%20b/c~d", "/a%2520b/c~d"},
		{"s3", "/a%20b/c~d", "/a%20b/c~d"},
		{"lambda", "/a:b", "/a%3Ab"},
		{"lambda", "", "/"},
		{"s3", "", "/"},
	}
	for _, tt := range tests {
		r, err := http.NewRequest("GET", "http://h"+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := string(appendPath(nil, r.URL, tt.service == "s3"))
		if got != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.service, tt.path, got, tt.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		raw, want string
		presigned bool
	}{
		{raw: "", want: ""},
		{raw: "b=2&a=3&a=1", want: "a=1&a=3&b=2"},
		{raw: "x=a+b&y=a%20b&z=%7e&w", want: "w=&x=a%20b&y=a%20b&z=~"},
		{raw: "v=a%2Fb&v=a-b", want: "v=a%2Fb&v=a-b"},
		{raw: "k=%e2%9c%93&&k2==", want: "k=%E2%9C%93&k2=%3D"},
		{raw: "X-Amz-Signature=abc&X-Amz-Date=1", want: "X-Amz-Date=1", presigned: true},
		{raw: "X-Amz-Signature=abc&X-Amz-Date=1", want: "X-Amz-Date=1&X-Amz-Signature=abc"},
	}
	for _, tt := range tests {
		s := getScratch()
		got, ok := s.appendQuery(nil, tt.raw, tt.presigned)
		putScratch(s)
		if !ok || string(got) != tt.want {
			t.Errorf("%q: got %q, %v, want %q, true", tt.raw, got, ok, tt.want)
		}
	}
	for _, raw := range []string{"a=%", "a=%4", "a=%zz", "%g1=b"} {
		s := getScratch()
		_, ok := s.appendQuery(nil, raw, false)
		putScratch(s)
		if ok {
			t.Errorf("%q: got ok, want malformed", raw)
		}
	}
}

func TestPresigned(t *testing.T) {
	get := func(service, url, expires string) *http.Request {
		if expires != "" {
			url += "?X-Amz-Expires=" + expires
		}
		return request{method: "GET", url: url, service: service}.newRequest(t)
	}
	tests := []struct {
		name    string
		req     *http.Request
		service string
		at      time.Time
		want    Kind
		msg     string
	}{
		{name: "s3 valid", req: get("s3", "http://localhost:9001/bucket/a%20key", "900"), service: "s3", at: testNow.Add(-5 * time.Minute)},
		{name: "lambda valid", req: get("lambda", "http://localhost:9001"+invokePath, "60"), service: "lambda", at: testNow.Add(-time.Minute)},
		{name: "one week", req: get("s3", "http://localhost:9001/bucket/k", "604800"), service: "s3", at: testNow.Add(-6 * 24 * time.Hour)},
		{name: "at expiry", req: get("s3", "http://localhost:9001/bucket/k", "900"), service: "s3", at: testNow.Add(-15 * time.Minute)},
		{name: "expired", req: get("s3", "http://localhost:9001/bucket/k", "900"), service: "s3", at: testNow.Add(-16 * time.Minute), want: Expired, msg: msgPresignExpired},
		{name: "expires too large", req: get("s3", "http://localhost:9001/bucket/k", "604801"), service: "s3", at: testNow, want: Expired, msg: msgExpiresTooLarge},
		{name: "expires huge", req: get("s3", "http://localhost:9001/bucket/k", "99999999999999999999999"), service: "s3", at: testNow, want: Expired, msg: msgExpiresTooLarge},
		{name: "expires negative", req: get("s3", "http://localhost:9001/bucket/k", "-5"), service: "s3", at: testNow, want: Malformed, msg: msgExpiresNegative},
		{name: "expires not a number", req: get("s3", "http://localhost:9001/bucket/k", "soon"), service: "s3", at: testNow, want: Malformed, msg: msgExpiresNumber},
		{name: "expires missing", req: get("s3", "http://localhost:9001/bucket/k", ""), service: "s3", at: testNow, want: Malformed, msg: msgQueryParams},
		{name: "not yet valid", req: get("s3", "http://localhost:9001/bucket/k", "900"), service: "s3", at: testNow.Add(16 * time.Minute), want: Expired, msg: msgPresignNotYet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := received(t, presign(t, tt.req, testCreds, tt.service, tt.at))
			id, err := newVerifier().Verify(r, "ignored")
			if got := kindOf(err); got != tt.want {
				t.Fatalf("got kind %v (%v), want %v", got, err, tt.want)
			}
			if err != nil {
				if got := err.(*Error).Message; got != tt.msg {
					t.Errorf("message: got %q, want %q", got, tt.msg)
				}
				return
			}
			want := Identity{AccessKeyID: testKey, Region: testRegion, Service: tt.service, Date: tt.at.Format("20060102"),
				Time: tt.at, PayloadHash: unsignedPayload, Presigned: true}
			if diff := cmp.Diff(want, id); diff != "" {
				t.Errorf("Identity mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPresignedTampered(t *testing.T) {
	creds := testCreds
	creds.SessionToken = "session"
	req := request{method: "GET", url: "http://localhost:9001/bucket/k?X-Amz-Expires=300&versionId=1", service: "s3"}.newRequest(t)
	signed := presign(t, req, creds, "s3", testNow)

	id, err := newVerifier().Verify(received(t, signed), "")
	if err != nil {
		t.Fatalf("untouched: got error %v, want nil", err)
	}
	if id.SessionToken != "session" {
		t.Errorf("SessionToken: got %q, want %q", id.SessionToken, "session")
	}

	for name, mutate := range map[string]func(*http.Request){
		"query value": func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "versionId=1", "versionId=2", 1)
		},
		"path":   func(r *http.Request) { r.URL.Path = "/bucket/other" },
		"method": func(r *http.Request) { r.Method = "DELETE" },
		"host":   func(r *http.Request) { r.Host = "evil.example" },
	} {
		r := received(t, signed)
		mutate(r)
		_, err := newVerifier().Verify(r, "")
		if got := kindOf(err); got != Mismatch {
			t.Errorf("%s changed: got kind %v (%v), want %v", name, got, err, Mismatch)
		}
	}

	r := received(t, signed)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
	if _, err := newVerifier().Verify(r, ""); kindOf(err) != Malformed {
		t.Errorf("header and query: got %v, want kind %v", err, Malformed)
	}
}

func TestVerifyRejects(t *testing.T) {
	body := `{"a":1}`
	invoke := request{method: "POST", url: "http://localhost:9001" + invokePath, body: body, header: http.Header{
		"X-Amz-Invocation-Type": {"Event"},
	}, service: "lambda"}
	tests := []struct {
		name    string
		build   func(t *testing.T) *http.Request
		payload string
		want    Kind
		msg     string
	}{
		{name: "wrong secret", want: Mismatch, msg: msgMismatch, build: func(t *testing.T) *http.Request {
			req := invoke.newRequest(t)
			sign(t, req, aws.Credentials{AccessKeyID: testKey, SecretAccessKey: "not-the-secret"}, PayloadHash([]byte(body)), "lambda", testNow)
			return received(t, req)
		}},
		{name: "unknown key", want: UnknownKey, msg: msgUnknownKey, build: func(t *testing.T) *http.Request {
			req := invoke.newRequest(t)
			sign(t, req, aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}, PayloadHash([]byte(body)), "lambda", testNow)
			return received(t, req)
		}},
		{name: "body tampered", payload: PayloadHash([]byte(`{"a":2}`)), want: Mismatch, msg: msgMismatch, build: func(t *testing.T) *http.Request {
			return signedRequest(t, invoke, testNow)
		}},
		{name: "signed header changed", want: Mismatch, build: func(t *testing.T) *http.Request {
			r := signedRequest(t, invoke, testNow)
			r.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
			return r
		}},
		{name: "path changed", want: Mismatch, build: func(t *testing.T) *http.Request {
			r := signedRequest(t, invoke, testNow)
			r.URL.RawPath = strings.Replace(r.URL.RawPath, "foo", "bar", 1)
			r.URL.Path = strings.Replace(r.URL.Path, "foo", "bar", 1)
			return r
		}},
		{name: "query added", want: Mismatch, build: func(t *testing.T) *http.Request {
			r := signedRequest(t, invoke, testNow)
			r.URL.RawQuery = "Qualifier=2"
			return r
		}},
		{name: "service changed", want: Mismatch, build: func(t *testing.T) *http.Request {
			r := signedRequest(t, invoke, testNow)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/lambda/", "/logs/", 1))
			return r
		}},
		{name: "signature truncated", want: Mismatch, build: func(t *testing.T) *http.Request {
			r := signedRequest(t, invoke, testNow)
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-2])
			return r
		}},
		{name: "signature not hex", want: Mismatch, build: func(t *testing.T) *http.Request {
			r := signedRequest(t, invoke, testNow)
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-2]+"zz")
			return r
		}},
		{name: "signed header removed", want: Malformed, msg: "'x-amz-invocation-type' is named as a SignedHeader, but it does not exist in the HTTP request.", build: func(t *testing.T) *http.Request {
			r := signedRequest(t, invoke, testNow)
			r.Header.Del("X-Amz-Invocation-Type")
			return r
		}},
		{name: "no auth", want: Missing, msg: msgMissing, build: func(t *testing.T) *http.Request {
			return received(t, invoke.newRequest(t))
		}},
		{name: "skew 16 min past", want: Expired, msg: "Signature expired: 20240524T114400Z is now earlier than 20240524T114500Z (20240524T120000Z - 15 min.)", build: func(t *testing.T) *http.Request {
			return signedRequest(t, invoke, testNow.Add(-16*time.Minute))
		}},
		{name: "skew 16 min future", want: Expired, msg: "Signature not yet current: 20240524T121600Z is still later than 20240524T121500Z (20240524T120000Z + 15 min.)", build: func(t *testing.T) *http.Request {
			return signedRequest(t, invoke, testNow.Add(16*time.Minute))
		}},
		{name: "skew 14 min past", build: func(t *testing.T) *http.Request {
			return signedRequest(t, invoke, testNow.Add(-14*time.Minute))
		}},
		{name: "skew 14 min future", build: func(t *testing.T) *http.Request {
			return signedRequest(t, invoke, testNow.Add(14*time.Minute))
		}},
		{name: "skew s3", want: Expired, msg: msgSkewS3, build: func(t *testing.T) *http.Request {
			return signedRequest(t, request{method: "GET", url: "http://localhost:9001/b/k", service: "s3"}, testNow.Add(-time.Hour))
		}},
		{name: "unsigned header added", build: func(t *testing.T) *http.Request {
			r := signedRequest(t, invoke, testNow)
			r.Header.Set("X-Forwarded-For", "10.0.0.1")
			r.Header.Set("User-Agent", "other")
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := tt.payload
			if payload == "" {
				payload = PayloadHash([]byte(body))
			}
			_, err := newVerifier().Verify(tt.build(t), payload)
			if got := kindOf(err); got != tt.want {
				t.Fatalf("got kind %v (%v), want %v", got, err, tt.want)
			}
			if tt.msg != "" && err.(*Error).Message != tt.msg {
				t.Errorf("message: got %q, want %q", err.(*Error).Message, tt.msg)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	const cred = "Credential=AKIDEXAMPLE/20240524/us-east-1/lambda/aws4_request"
	const sig = "Signature=" + emptyHash
	tests := []struct {
		name, auth, date string
		msg              string // checked when set
	}{
		{name: "empty", auth: "", msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization="},
		{name: "bearer", auth: "Bearer abc.def", msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer abc.def"},
		{name: "sigv2", auth: "AWS AKIDEXAMPLE:c2lnbmF0dXJl"},
		{name: "other algorithm", auth: "AWS4-HMAC-SHA512 " + cred + ", SignedHeaders=host, " + sig, msg: msgAlgorithm},
		{name: "lower-case algorithm", auth: "aws4-hmac-sha256 " + cred + ", SignedHeaders=host, " + sig},
		{name: "algorithm only", auth: "AWS4-HMAC-SHA256"},
		{name: "missing signature", auth: "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host",
			msg: "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host"},
		{name: "missing signed headers", auth: "AWS4-HMAC-SHA256 " + cred + ", " + sig},
		{name: "empty signature", auth: "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature="},
		{name: "missing date", auth: "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, " + sig, date: "-",
			msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, " + sig},
		{name: "no equal sign", auth: "AWS4-HMAC-SHA256 Credential AKIDEXAMPLE/20240524/us-east-1/lambda/aws4_request, SignedHeaders=host, " + sig,
			msg: "'Credential AKIDEXAMPLE/20240524/us-east-1/lambda/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential AKIDEXAMPLE/20240524/us-east-1/lambda/aws4_request, SignedHeaders=host, " + sig + "'."},
		{name: "unknown parameter", auth: "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, " + sig + ", Extra=1"},
		{name: "duplicate credential", auth: "AWS4-HMAC-SHA256 " + cred + ", " + cred + ", SignedHeaders=host, " + sig},
		{name: "four element credential", auth: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240524/us-east-1/aws4_request, SignedHeaders=host, " + sig,
			msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20240524/us-east-1/aws4_request'"},
		{name: "six element credential", auth: "AWS4-HMAC-SHA256 Credential=AKID/EXAMPLE/20240524/us-east-1/lambda/aws4_request, SignedHeaders=host, " + sig},
		{name: "empty region", auth: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240524//lambda/aws4_request, SignedHeaders=host, " + sig},
		{name: "bad terminator", auth: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240524/us-east-1/lambda/aws5_request, SignedHeaders=host, " + sig,
			msg: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."},
		{name: "bad scope date", auth: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2024052X/us-east-1/lambda/aws4_request, SignedHeaders=host, " + sig},
		{name: "scope date differs", auth: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240523/us-east-1/lambda/aws4_request, SignedHeaders=host, " + sig,
			msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240523' != '20240524', from '20240524T120000Z'."},
		{name: "bad x-amz-date", auth: "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, " + sig, date: "2024-05-24T12:00:00Z",
			msg: "Date must be in ISO-8601 'basic format'. Got '2024-05-24T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{name: "impossible x-amz-date", auth: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240230/us-east-1/lambda/aws4_request, SignedHeaders=host, " + sig, date: "20240230T120000Z"},
		{name: "host not signed", auth: "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, " + sig, msg: msgHostUnsigned},
		{name: "empty signed header name", auth: "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;;x-amz-date, " + sig},
		{name: "signed header absent", auth: "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-custom, " + sig,
			msg: "'x-custom' is named as a SignedHeader, but it does not exist in the HTTP request."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest("GET", "http://localhost:9001/2015-03-31/functions/", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header["Authorization"] = []string{tt.auth}
			switch tt.date {
			case "":
				r.Header.Set("X-Amz-Date", "20240524T120000Z")
			case "-":
			default:
				r.Header.Set("X-Amz-Date", tt.date)
			}
			_, err = newVerifier().Verify(r, emptyHash)
			if got := kindOf(err); got != Malformed {
				t.Fatalf("got kind %v (%v), want %v", got, err, Malformed)
			}
			if tt.msg != "" && err.(*Error).Message != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", err.(*Error).Message, tt.msg)
			}
		})
	}
}

func TestVerifyMalformedQuery(t *testing.T) {
	r := signedRequest(t, request{method: "GET", url: "http://localhost:9001/2015-03-31/functions/", service: "lambda"}, testNow)
	r.URL.RawQuery = "Marker=%zz"
	if _, err := newVerifier().Verify(r, emptyHash); kindOf(err) != Malformed {
		t.Errorf("bad escape: got %v, want kind %v", err, Malformed)
	}
	r.URL.RawQuery = "X-Amz-Signature=abc"
	if _, err := newVerifier().Verify(r, emptyHash); kindOf(err) != Malformed {
		t.Errorf("header and presigned query: got %v, want kind %v", err, Malformed)
	}
}

func TestVerifyContentLengthFromRequest(t *testing.T) {
	// A handler may see Content-Length only in r.ContentLength.
	r := signedRequest(t, request{method: "POST", url: "http://localhost:9001/", body: "12345", header: http.Header{"X-Amz-Target": {"Logs_20140328.PutLogEvents"}}, service: "logs"}, testNow)
	if !strings.Contains(r.Header.Get("Authorization"), "content-length") {
		t.Fatalf("content-length not signed: %s", r.Header.Get("Authorization"))
	}
	r.Header.Del("Content-Length")
	if _, err := newVerifier().Verify(r, PayloadHash([]byte("12345"))); err != nil {
		t.Errorf("got error %v, want nil", err)
	}
}

func TestVerifierDefaults(t *testing.T) {
	var v Verifier // no Lookup: every key is unknown
	_, err := v.Verify(signedRequest(t, request{method: "GET", url: "http://localhost:9001/", service: "lambda"}, time.Now()), emptyHash)
	if got := kindOf(err); got != UnknownKey {
		t.Errorf("zero Verifier: got kind %v (%v), want %v", got, err, UnknownKey)
	}

	v = Verifier{Lookup: newVerifier().Lookup, MaxSkew: time.Minute} // real clock
	r := signedRequest(t, request{method: "GET", url: "http://localhost:9001/", service: "lambda"}, time.Now())
	if _, err := v.Verify(r, emptyHash); err != nil {
		t.Errorf("real clock: got error %v, want nil", err)
	}
	r = signedRequest(t, request{method: "GET", url: "http://localhost:9001/", service: "lambda"}, time.Now().Add(-2*time.Minute))
	_, err = v.Verify(r, emptyHash)
	if got := kindOf(err); got != Expired || !strings.HasSuffix(err.(*Error).Message, " - 1 min.)") {
		t.Errorf("MaxSkew 1m: got %v, want kind %v ending in \" - 1 min.)\"", err, Expired)
	}
}

func TestAWSCode(t *testing.T) {
	tests := []struct {
		kind      Kind
		presigned bool
		service   string
		want      string
	}{
		{Missing, false, "lambda", "MissingAuthenticationTokenException"},
		{Malformed, false, "lambda", "IncompleteSignatureException"},
		{UnknownKey, false, "logs", "UnrecognizedClientException"},
		{Mismatch, false, "lambda", "InvalidSignatureException"},
		{Expired, false, "logs", "InvalidSignatureException"},
		{Missing, false, "s3", "AccessDenied"},
		{Malformed, false, "s3", "AuthorizationHeaderMalformed"},
		{Malformed, true, "s3", "AuthorizationQueryParametersError"},
		{UnknownKey, false, "s3", "InvalidAccessKeyId"},
		{Mismatch, true, "s3", "SignatureDoesNotMatch"},
		{Expired, false, "s3", "RequestTimeTooSkewed"},
		{Expired, true, "s3", "AccessDenied"},
	}
	for _, tt := range tests {
		e := &Error{Kind: tt.kind, presigned: tt.presigned}
		if got := e.AWSCode(tt.service); got != tt.want {
			t.Errorf("%v presigned=%v %s: got %q, want %q", tt.kind, tt.presigned, tt.service, got, tt.want)
		}
	}
	e := &Error{Kind: Mismatch, Message: msgMismatch}
	if got, want := e.Error(), "signature mismatch: "+msgMismatch; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}

func TestPresignedErrorsAreMarked(t *testing.T) {
	r := received(t, presign(t, request{method: "GET", url: "http://localhost:9001/b/k?X-Amz-Expires=60", service: "s3"}.newRequest(t),
		testCreds, "s3", testNow.Add(-time.Hour)))
	_, err := newVerifier().Verify(r, "")
	if got := err.(*Error).AWSCode("s3"); got != "AccessDenied" {
		t.Errorf("expired presigned URL: got %q, want %q", got, "AccessDenied")
	}
}

func TestScope(t *testing.T) {
	header := signedRequest(t, request{method: "POST", url: "http://localhost:9001/", body: "{}", service: "logs"}, testNow)
	query := received(t, presign(t, request{method: "GET", url: "http://localhost:9001/b/k?X-Amz-Expires=60", service: "s3"}.newRequest(t), testCreds, "s3", testNow))
	none := received(t, request{method: "GET", url: "http://localhost:9001/"}.newRequest(t))
	bad, _ := http.NewRequest("GET", "http://localhost:9001/", nil)
	bad.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240524/us-east-1, Signature=x")
	tests := []struct {
		name            string
		r               *http.Request
		region, service string
		ok              bool
	}{
		{"header", header, testRegion, "logs", true},
		{"query", query, testRegion, "s3", true},
		{"none", none, "", "", false},
		{"bad credential", bad, "", "", false},
	}
	for _, tt := range tests {
		region, service, ok := Scope(tt.r)
		if region != tt.region || service != tt.service || ok != tt.ok {
			t.Errorf("%s: got (%q, %q, %v), want (%q, %q, %v)", tt.name, region, service, ok, tt.region, tt.service, tt.ok)
		}
	}
}

func TestPayloadHash(t *testing.T) {
	for _, body := range []string{"", "a", strings.Repeat("x", 10000)} {
		sum := sha256.Sum256([]byte(body))
		if got, want := PayloadHash([]byte(body)), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("PayloadHash(%d bytes): got %s, want %s", len(body), got, want)
		}
	}
	body := []byte(`{"k":"v"}`)
	if n := testing.AllocsPerRun(100, func() { _ = PayloadHash(body) }); n > 1 {
		t.Errorf("PayloadHash allocations: got %v, want <= 1", n)
	}
}

func TestKeyCache(t *testing.T) {
	var c keyCache
	for i := range maxCachedKeys + 10 {
		c.get(testSecret, "20240524", "region-"+strconv.Itoa(i), "lambda")
	}
	c.mu.RLock()
	n := len(c.m)
	c.mu.RUnlock()
	if n > maxCachedKeys {
		t.Errorf("cache size: got %d, want <= %d", n, maxCachedKeys)
	}
	// The documented example signing key from the SigV4 specification.
	got := c.get("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
	want := "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
	if hex.EncodeToString(got[:]) != want {
		t.Errorf("signing key: got %x, want %s", got, want)
	}
	if again := c.get("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam"); again != got {
		t.Errorf("cached key: got %x, want %x", again, got)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := newVerifier()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		body := fmt.Sprintf(`{"g":%d}`, g)
		rq := request{method: "POST", url: "http://localhost:9001" + invokePath, body: body, service: "lambda"}
		if g%2 == 1 {
			rq.service = "logs"
		}
		r := signedRequest(t, rq, testNow)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := v.Verify(r, PayloadHash([]byte(body))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestVerifyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	r, payload := invokeRequest(t)
	v := newVerifier()
	if _, err := v.Verify(r, payload); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = v.Verify(r, payload) }); n != 0 {
		t.Errorf("Verify allocations: got %v, want 0", n)
	}
}

// invokeRequest returns an Invoke request as the SDK's Lambda client sends
// it, as received by a server.
func invokeRequest(t testing.TB) (*http.Request, string) {
	body := `{"key1":"value1","key2":"value2","key3":"value3"}`
	rq := request{method: "POST", url: "http://localhost:9001" + invokePath + "?Qualifier=%24LATEST", body: body, service: "lambda", header: http.Header{
		"Content-Type":          {"application/json"},
		"X-Amz-Invocation-Type": {"RequestResponse"},
		"X-Amz-Log-Type":        {"None"},
		"Amz-Sdk-Invocation-Id": {"6f1d5c2e-2b57-4b53-8f83-4a1e7f2d3c11"},
		"Amz-Sdk-Request":       {"attempt=1; max=3"},
		"User-Agent":            {"aws-sdk-go-v2/1.47.7 os/linux lang/go#1.26 md/GOOS#linux api/lambda#1.114.2"},
	}}
	return signedRequest(t, rq, testNow), PayloadHash([]byte(body))
}

func BenchmarkVerify(b *testing.B) {
	r, payload := invokeRequest(b)
	v := newVerifier()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrecheck is the front door's check of a request with a body:
// Precheck before the body, then the rest once its hash is known, against
// Precheck followed by a Verify that parses the request again.
func BenchmarkPrecheck(b *testing.B) {
	r, payload := invokeRequest(b)
	v := newVerifier()
	for _, c := range []struct {
		name   string
		verify func(p *Pending) (Identity, error)
	}{
		{"pending", func(p *Pending) (Identity, error) { return p.Verify(r, payload) }},
		{"again", func(*Pending) (Identity, error) { return v.Verify(r, payload) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var p Pending
			for b.Loop() {
				if err := v.Precheck(r, &p); err != nil {
					b.Fatal(err)
				}
				if _, err := c.verify(&p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	r, payload := invokeRequest(b)
	v := newVerifier()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(r, payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestPrecheck checks what Precheck refuses without the body, and that it
// passes a request whose signature only the body's hash can settle.
func TestPrecheck(t *testing.T) {
	v := newVerifier()
	rq := request{method: "POST", url: "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions", body: "{}", service: "lambda"}
	kindOf := func(err error) Kind {
		var e *Error
		if errors.As(err, &e) {
			return e.Kind
		}
		return 0
	}

	var p Pending
	r := rq.newRequest(t)
	if err := v.Precheck(r, &p); kindOf(err) != Missing {
		t.Errorf("unsigned: %v, want Missing", err)
	}
	r = rq.newRequest(t)
	sign(t, r, aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: "x"}, PayloadHash([]byte("{}")), "lambda", testNow)
	if err := v.Precheck(r, &p); kindOf(err) != UnknownKey {
		t.Errorf("unknown key: %v, want UnknownKey", err)
	}
	r = rq.newRequest(t)
	sign(t, r, testCreds, PayloadHash([]byte("{}")), "lambda", testNow.Add(-time.Hour))
	if err := v.Precheck(r, &p); kindOf(err) != Expired {
		t.Errorf("an hour old: %v, want Expired", err)
	}
	// A wrong secret, or a body other than the one signed, passes
	// Precheck: only Verify, with the body's hash, can tell.
	r = rq.newRequest(t)
	sign(t, r, aws.Credentials{AccessKeyID: testKey, SecretAccessKey: "wrong"}, PayloadHash([]byte("{}")), "lambda", testNow)
	if err := v.Precheck(r, &p); err != nil {
		t.Errorf("a known key: %v", err)
	}
	if _, err := p.Verify(r, PayloadHash([]byte("{}"))); kindOf(err) != Mismatch {
		t.Errorf("Verify after Precheck: %v, want Mismatch", err)
	}
	// The right secret, and a body other than the one signed.
	r = rq.newRequest(t)
	sign(t, r, testCreds, PayloadHash([]byte("{}")), "lambda", testNow)
	if err := v.Precheck(r, &p); err != nil {
		t.Fatalf("a signed request: %v", err)
	}
	if _, err := p.Verify(r, PayloadHash([]byte("{ }"))); kindOf(err) != Mismatch {
		t.Errorf("another body: %v, want Mismatch", err)
	}
	if err := v.Precheck(r, &p); err != nil {
		t.Fatalf("a signed request: %v", err)
	}
	id, err := p.Verify(r, PayloadHash([]byte("{}")))
	if err != nil || id.AccessKeyID != testKey || id.Service != "lambda" || !id.Time.Equal(testNow.Truncate(time.Second)) {
		t.Errorf("the body signed: %+v, %v", id, err)
	}
	// A presigned request: the same identity as Verify's, its payload the
	// query's, whatever hash the caller passes.
	creds := testCreds
	creds.SessionToken = "session"
	pre := received(t, presign(t, request{method: "GET", url: "http://localhost:9001/bucket/k?X-Amz-Expires=300", service: "s3"}.newRequest(t), creds, "s3", testNow))
	want, err := v.Verify(pre, "")
	if err != nil {
		t.Fatalf("a presigned request: %v", err)
	}
	if err := v.Precheck(pre, &p); err != nil {
		t.Fatalf("a presigned request: %v", err)
	}
	if got, err := p.Verify(pre, PayloadHash([]byte("ignored"))); err != nil || got != want || !got.Presigned || got.PayloadHash != unsignedPayload {
		t.Errorf("a presigned request through Precheck: %+v, %v, want %+v", got, err, want)
	}
	// A Pending that Precheck refused, or never saw, verifies nothing.
	var none Pending
	if _, err := none.Verify(r, PayloadHash([]byte("{}"))); kindOf(err) != Missing {
		t.Errorf("a Pending never prechecked: %v, want Missing", err)
	}
	old := rq.newRequest(t)
	sign(t, old, testCreds, PayloadHash([]byte("{}")), "lambda", testNow.Add(-time.Hour))
	if err := v.Precheck(old, &p); kindOf(err) != Expired {
		t.Fatalf("an hour old: %v, want Expired", err)
	}
	if _, err := p.Verify(old, PayloadHash([]byte("{}"))); kindOf(err) != Missing {
		t.Errorf("a Pending Precheck refused: %v, want Missing", err)
	}
}
