package sigv2

import (
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	exampleKey    = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func exampleVerifier(now time.Time) *Verifier {
	return &Verifier{
		Lookup: func(id string) (string, bool) { return exampleSecret, id == exampleKey },
		Now:    func() time.Time { return now },
		VirtualBucket: func(host string) (string, bool) {
			b, ok := strings.CutSuffix(host, ".s3.amazonaws.com")
			return b, ok
		},
	}
}

// TestDocumentedExample checks the GET example of S3's documentation of
// Signature Version 2 (a virtual-hosted bucket).
func TestDocumentedExample(t *testing.T) {
	now := time.Date(2007, 3, 27, 19, 36, 42, 0, time.UTC)
	r := httptest.NewRequest("GET", "http://johnsmith.s3.amazonaws.com/photos/puppy.jpg", nil)
	r.Header.Set("Date", "Tue, 27 Mar 2007 19:36:42 +0000")
	r.Header.Set("Authorization", "AWS "+exampleKey+":bWq2s1WEIj+Ydj0vQ697zp+IXMU=")
	id, err := exampleVerifier(now).Verify(r)
	if err != nil || id.AccessKeyID != exampleKey || id.Presigned {
		t.Fatalf("Verify: %+v %v", id, err)
	}
	r.Header.Set("Authorization", "AWS "+exampleKey+":AAAAs1WEIj+Ydj0vQ697zp+IXMU=")
	if _, err := exampleVerifier(now).Verify(r); err != ErrMismatch {
		t.Errorf("a wrong signature: %v", err)
	}
	if _, err := exampleVerifier(now.Add(time.Hour)).Verify(r); err != ErrSkewed {
		t.Errorf("an old request: %v", err)
	}
}

// TestPresigned checks query-string signatures: valid, expired, for
// another key, and with a session token signed as an x-amz- parameter.
func TestPresigned(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	q := Presign("GET", "/bucket/a%20b.txt", exampleKey, exampleSecret, now.Add(time.Hour))
	r := httptest.NewRequest("GET", "http://127.0.0.1:9000/bucket/a%20b.txt?"+q.Encode(), nil)
	v := exampleVerifier(now)
	if id, err := v.Verify(r); err != nil || !id.Presigned || !Signed(r) {
		t.Fatalf("Verify: %+v %v", id, err)
	}
	if _, err := exampleVerifier(now.Add(2 * time.Hour)).Verify(r); err != ErrExpired {
		t.Errorf("after Expires: %v", err)
	}
	q.Set("AWSAccessKeyId", "AKIAOTHER")
	r = httptest.NewRequest("GET", "http://127.0.0.1:9000/bucket/a%20b.txt?"+q.Encode(), nil)
	if _, err := v.Verify(r); err != ErrUnknown {
		t.Errorf("another key: %v", err)
	}
	// With a token: signed as the header it stands for.
	exp := now.Add(time.Hour).Unix()
	s := "GET\n\n\n" + strconvI(exp) + "\nx-amz-security-token:TOKEN\n/bucket/k"
	tq := url.Values{"AWSAccessKeyId": {exampleKey}, "Expires": {strconvI(exp)}, "x-amz-security-token": {"TOKEN"},
		"Signature": {b64(sign(exampleSecret, s))}}
	r = httptest.NewRequest("GET", "http://127.0.0.1:9000/bucket/k?"+tq.Encode(), nil)
	if id, err := v.Verify(r); err != nil || id.SessionToken != "TOKEN" {
		t.Errorf("with a session token: %+v %v", id, err)
	}
	tq.Set("x-amz-security-token", "OTHER")
	r = httptest.NewRequest("GET", "http://127.0.0.1:9000/bucket/k?"+tq.Encode(), nil)
	if _, err := v.Verify(r); err != ErrMismatch {
		t.Errorf("a changed token: %v", err)
	}
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
