package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// BenchmarkCall measures one console call (a 1 KB JSON answer) served in
// process, as the console does, beside the same call made as a loopback
// HTTP round trip to a server holding the same handler: the choice the
// console's proxy makes.
//
//	go test -run '^$' -bench BenchmarkCall -benchmem ./internal/console/
func BenchmarkCall(b *testing.B) {
	answer := strings.Repeat("x", 1024)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"a":"`+answer+`"}`)
	})
	srv := httptest.NewServer(api)
	defer srv.Close()
	client := srv.Client()
	loopback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), r.Body)
		if err != nil {
			b.Fatal(err)
		}
		out.Header = r.Header
		resp, err := client.Do(out)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"in-process", api}, {"loopback", loopback}} {
		b.Run(tc.name, func(b *testing.B) {
			c := New(Deps{
				Lookup: func(string) (string, bool) { return rootSecret, true },
				SignIn: func(id string) (Identity, error) {
					return Identity{Name: "root", Credentials: aws.Credentials{AccessKeyID: id, SecretAccessKey: rootSecret}}, nil
				},
				API: func() http.Handler { return tc.h }, Host: host, FailDelay: -1,
			})
			f := &fixture{c: c, t: b}
			cookie, csrf := f.signIn()
			hdr := map[string]string{"Cookie": CookieName + "=" + cookie, "X-Console-Csrf": csrf,
				CallHeader: callHeader(b, Call{Service: "lambda", Method: "GET", Path: "/2015-03-31/functions/", Query: "MaxItems=50"})}
			b.ReportAllocs()
			for b.Loop() {
				if w := f.do("POST", "/console/api/call", "", hdr); w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
