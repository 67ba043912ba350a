package sigv4

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
)

// FuzzVerify feeds arbitrary Authorization headers, dates, paths and
// queries to Verify and Scope. Neither may panic, and every failure must be
// a well-formed *Error.
func FuzzVerify(f *testing.F) {
	r, payload := invokeRequest(f)
	f.Add(r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), r.URL.RawPath, r.URL.RawQuery, payload)
	f.Add("", "", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240524T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host;x, Signature=zz", "20240524T120000Z", "/%zz", "a=%&b", "UNSIGNED-PAYLOAD")
	f.Add("AWS4-HMAC-SHA256 ,,,=,Credential=", "99999999T999999Z", "", "&&=&", "")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240524/us-east-1/lambda/aws4_request, SignedHeaders=host;content-length;a;A;Host, Signature="+emptyHash, "20240524T120000Z", "/a%2Fb", "X-Amz-Expires=-1", emptyHash)

	v := newVerifier()
	f.Fuzz(func(t *testing.T, authz, date, path, query, payload string) {
		u := &url.URL{RawQuery: query}
		if p, err := url.PathUnescape(path); err == nil {
			u.Path, u.RawPath = p, path
		} else {
			u.Path = path
		}
		r := &http.Request{Method: "POST", URL: u, Host: "localhost:9001", Header: http.Header{}, ContentLength: -1}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if date != "" {
			r.Header.Set("X-Amz-Date", date)
		}
		Scope(r)
		_, err := v.Verify(r, payload)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("got error %T %v, want *Error", err, err)
		}
		if e.Kind < Missing || e.Kind > Expired || e.Message == "" {
			t.Fatalf("got %#v, want a known kind and a message", e)
		}
	})
}
