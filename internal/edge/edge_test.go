package edge

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

var testCreds = aws.Credentials{AccessKeyID: "AKIAAPITEST000000001", SecretAccessKey: "api-test-secret-00000000000000000000000"}

// reached is a handler that counts the requests it gets.
type reached struct{ n atomic.Int32 }

func (h *reached) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.n.Add(1)
	w.WriteHeader(http.StatusTeapot)
}

// TestPresignedOnlyForS3 sends presigned and header-signed requests for
// every service on the listener: only S3 gets presigned ones.
func TestPresignedOnlyForS3(t *testing.T) {
	s3, lambda, sched, logs, gw := &reached{}, &reached{}, &reached{}, &reached{}, &reached{}
	srv := httptest.NewServer(testEdge(s3, lambda, sched, logs, gw))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name, service, method, path, target, body string
		handler                                   *reached
	}{
		{name: "s3 GetObject", service: "s3", method: "GET", path: "/bucket/key", handler: s3},
		{name: "lambda ListFunctions", service: "lambda", method: "GET", path: "/2015-03-31/functions/", handler: lambda},
		{name: "lambda Invoke", service: "lambda", method: "POST", path: "/2015-03-31/functions/f/invocations", body: "{}", handler: lambda},
		{name: "lambda DeleteFunction", service: "lambda", method: "DELETE", path: "/2015-03-31/functions/f", handler: lambda},
		{name: "aloft usage", service: "lambda", method: "GET", path: "/aloft/v1/usage", handler: lambda},
		{name: "scheduler ListSchedules", service: "scheduler", method: "GET", path: "/schedules", handler: sched},
		{name: "apigateway GetApis", service: "apigateway", method: "GET", path: "/v2/apis", handler: gw},
		{name: "logs DescribeLogGroups", service: "logs", method: "POST", path: "/", target: "Logs_20140328.DescribeLogGroups", body: "{}", handler: logs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newReq := func() *http.Request {
				req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				if tc.target != "" {
					req.Header.Set("X-Amz-Target", tc.target)
					req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				}
				return req
			}

			// Presigned.
			req := newReq()
			q := req.URL.Query()
			q.Set("X-Amz-Expires", "300")
			req.URL.RawQuery = q.Encode()
			u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), testCreds, req, "UNSIGNED-PAYLOAD", tc.service, "us-east-1", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			pre, _ := http.NewRequest(tc.method, u, strings.NewReader(tc.body))
			for k, vs := range hdr {
				if k != "Host" {
					pre.Header[k] = vs
				}
			}
			if tc.target != "" {
				// The signer moves X-Amz-Target into the query; send it as
				// a header too, so that the request is routed to Logs.
				pre.Header.Set("X-Amz-Target", tc.target)
			}
			before := int32(0)
			if tc.handler != nil {
				before = tc.handler.n.Load()
			}
			resp := send(t, pre)
			switch {
			case tc.service == "s3":
				if resp.status != http.StatusTeapot || tc.handler.n.Load() != before+1 {
					t.Fatalf("presigned S3 request got %d, want it handed to S3", resp.status)
				}
			default:
				var body struct {
					Type    string `json:"__type"`
					Message string `json:"message"`
				}
				if resp.status != http.StatusForbidden || resp.header.Get("X-Amzn-Errortype") != "AccessDeniedException" ||
					json.Unmarshal([]byte(resp.body), &body) != nil || body.Type != "AccessDeniedException" ||
					!strings.Contains(body.Message, "Presigned") || !strings.Contains(body.Message, tc.service) {
					t.Fatalf("presigned request got %d %v %s, want 403 AccessDeniedException naming %s", resp.status, resp.header, resp.body, tc.service)
				}
				if tc.handler != nil && tc.handler.n.Load() != before {
					t.Fatal("the refused request reached its service")
				}
			}

			// Signed in the Authorization header: reaches the service.
			req = newReq()
			if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, sigv4.PayloadHash([]byte(tc.body)),
				tc.service, "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			if resp := send(t, req); resp.status != http.StatusTeapot {
				t.Fatalf("header-signed request got %d %s, want it handed to %s", resp.status, resp.body, tc.service)
			}
		})
	}
}

// testEdge is a front door whose services are the handlers given.
func testEdge(s3, lambda, sched, logs, gw http.Handler) *Edge {
	verifier := &sigv4.Verifier{Lookup: func(id string) (string, bool) {
		return testCreds.SecretAccessKey, id == testCreds.AccessKeyID
	}}
	lambdaSvc := &Service{Name: "lambda", Protocol: awsproto.RESTJSON, MaxBody: 1 << 20, Handler: lambda,
		Recognize: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/2015-03-31/") }}
	s3Svc := &Service{Name: "s3", Protocol: awsproto.RESTXML, Streams: true, Handler: s3}
	return New(Config{
		Services: []*Service{s3Svc, lambdaSvc,
			{Name: "logs", Protocol: awsproto.JSON11, MaxBody: 1 << 20, Handler: logs,
				Recognize: func(r *http.Request) bool { return strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Logs_") }},
			{Name: "scheduler", Protocol: awsproto.RESTJSON, MaxBody: 1 << 20, Handler: sched,
				Recognize: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/schedules") }},
			{Name: "apigateway", Protocol: awsproto.RESTJSON, MaxBody: 1 << 20, Handler: gw,
				Recognize: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v2/") }},
		},
		Default: lambdaSvc, Fallback: s3Svc, Verifier: verifier,
		Health: map[string]string{"sandbox": "test"},
	})
}

// TestUnsigned checks where unsigned requests go: each service's markers
// pick it, and it refuses them in its protocol; anything else is S3's.
func TestUnsigned(t *testing.T) {
	s3, lambda, sched, logs, gw := &reached{}, &reached{}, &reached{}, &reached{}, &reached{}
	srv := httptest.NewServer(testEdge(s3, lambda, sched, logs, gw))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		method, path, target string
		status               int
		errType, contentType string
	}{
		{"GET", "/2015-03-31/functions/", "", 403, "MissingAuthenticationTokenException", "application/json"},
		{"POST", "/", "Logs_20140328.DescribeLogGroups", 403, "MissingAuthenticationTokenException", "application/x-amz-json-1.1"},
		{"GET", "/schedules", "", 403, "MissingAuthenticationTokenException", "application/json"},
		{"GET", "/v2/apis", "", 403, "MissingAuthenticationTokenException", "application/json"},
		{"GET", "/bucket/key", "", http.StatusTeapot, "", ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.target != "" {
			req.Header.Set("X-Amz-Target", tc.target)
		}
		resp := send(t, req)
		if resp.status != tc.status || resp.header.Get("X-Amzn-Errortype") != tc.errType || (tc.contentType != "" && resp.header.Get("Content-Type") != tc.contentType) {
			t.Errorf("unsigned %s %s: %d %v %s", tc.method, tc.path, resp.status, resp.header, resp.body)
		}
	}
	if s3.n.Load() != 1 || lambda.n.Load()+sched.n.Load()+logs.n.Load()+gw.n.Load() != 0 {
		t.Errorf("an unsigned request reached a service other than S3")
	}
	resp := send(t, must(http.NewRequest("GET", srv.URL+"/health", nil)))
	if resp.status != 200 || resp.body != `{"sandbox":"test","status":"ok"}` {
		t.Errorf("/health: %d %s", resp.status, resp.body)
	}
}

func must(r *http.Request, err error) *http.Request {
	if err != nil {
		panic(err)
	}
	return r
}

type response struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// TestWelcome checks that a browser opening the endpoint gets a page,
// and that an S3 client's GET / still reaches S3.
func TestWelcome(t *testing.T) {
	s3 := &reached{}
	srv := httptest.NewServer(testEdge(s3, &reached{}, &reached{}, &reached{}, &reached{}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp := send(t, req)
	if resp.status != 200 || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/html") || !strings.Contains(resp.body, "<h1>Aloft</h1>") {
		t.Errorf("browser: %d %v %s", resp.status, resp.header, resp.body)
	}
	if s3.n.Load() != 0 {
		t.Error("the browser's request reached S3")
	}
	send(t, must(http.NewRequest("GET", srv.URL+"/", nil)))
	if s3.n.Load() != 1 {
		t.Error("an S3 client's GET / did not reach S3")
	}
}

// TestConsoleSlash checks that a browser opening /console is sent to
// the console, while an S3 client's GET /console (a bucket named console)
// still reaches S3.
func TestConsoleSlash(t *testing.T) {
	s3 := &reached{}
	e := testEdge(s3, &reached{}, &reached{}, &reached{}, &reached{})
	e.c.Public = map[string]http.Handler{"/console/": &reached{}}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", srv.URL+"/console", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
		t.Errorf("browser: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	welcome := must(http.NewRequest("GET", srv.URL+"/", nil))
	welcome.Header.Set("Accept", "text/html")
	if page := send(t, welcome); !strings.Contains(page.body, `href="/console/"`) {
		t.Errorf("the welcome page does not link the console: %s", page.body)
	}
	send(t, must(http.NewRequest("GET", srv.URL+"/console", nil)))
	if s3.n.Load() != 1 {
		t.Error("an S3 client's GET /console did not reach S3")
	}
}

// TestSigV2Refused checks that a Signature Version 2 request to a service
// other than S3 gets a clear refusal in that service's shape.
func TestSigV2Refused(t *testing.T) {
	lambda := &reached{}
	srv := httptest.NewServer(testEdge(&reached{}, lambda, &reached{}, &reached{}, &reached{}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/2015-03-31/functions/", nil)
	req.Header.Set("Authorization", "AWS AKID:c2lnbmF0dXJl")
	resp := send(t, req)
	if resp.status != 400 || resp.header.Get("X-Amzn-Errortype") != "InvalidSignatureException" || !strings.Contains(resp.body, "Signature Version 2 is accepted by S3 alone") {
		t.Errorf("SigV2 to Lambda: %d %v %s", resp.status, resp.header, resp.body)
	}
	if lambda.n.Load() != 0 {
		t.Error("the request reached Lambda")
	}
}

// echo answers with the body it is handed.
type echo struct{}

func (echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

// TestBodyAndConnection sends signed requests with bodies one after the
// other: each reaches its service whole, each answer carries the time in
// its Date header, and one connection carries them all (a body the front
// door read and closed leaves the connection fit for the next request).
func TestBodyAndConnection(t *testing.T) {
	srv := httptest.NewUnstartedServer(testEdge(&reached{}, echo{}, &reached{}, &reached{}, &reached{}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	for i, body := range []string{"{}", `{"a":1}`, strings.Repeat("x", 70<<10), `{"b":2}`} {
		req := must(http.NewRequest("POST", srv.URL+"/2015-03-31/functions/f/invocations", strings.NewReader(body)))
		if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, sigv4.PayloadHash([]byte(body)),
			"lambda", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		before := time.Now().Truncate(time.Second)
		resp := send(t, req)
		if resp.status != http.StatusOK || resp.body != body {
			t.Fatalf("request %d: %d, %d bytes, want 200 and the %d bytes sent", i, resp.status, len(resp.body), len(body))
		}
		d, err := http.ParseTime(resp.header.Get("Date"))
		if err != nil || d.Before(before) || d.After(time.Now()) {
			t.Errorf("request %d: Date %q (%v), want the time of the answer", i, resp.header.Get("Date"), err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for four requests, want one", n)
	}
}
