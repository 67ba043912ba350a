package lambdaapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

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
	s3, sched, logs, gw := &reached{}, &reached{}, &reached{}, &reached{}
	verifier := &sigv4.Verifier{Lookup: func(id string) (string, bool) {
		return testCreds.SecretAccessKey, id == testCreds.AccessKeyID
	}}
	srv := httptest.NewServer(New(Deps{Verifier: verifier, S3: s3, Scheduler: sched, Logs: logs, Gateway: gw}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name, service, method, path, target, body string
		handler                                   *reached // nil: Lambda's routes
	}{
		{name: "s3 GetObject", service: "s3", method: "GET", path: "/bucket/key", handler: s3},
		{name: "lambda ListFunctions", service: "lambda", method: "GET", path: "/2015-03-31/functions/"},
		{name: "lambda Invoke", service: "lambda", method: "POST", path: "/2015-03-31/functions/f/invocations", body: "{}"},
		{name: "lambda DeleteFunction", service: "lambda", method: "DELETE", path: "/2015-03-31/functions/f"},
		{name: "aloft usage", service: "lambda", method: "GET", path: "/aloft/v1/usage"},
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
			if tc.handler == nil {
				return // Lambda's handlers need a registry; TestHeaderSignedLambda covers them
			}
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

// TestHeaderSignedLambda checks that a header-signed Lambda request passes
// authentication and is routed (to a 404 here, which needs no registry).
func TestHeaderSignedLambda(t *testing.T) {
	verifier := &sigv4.Verifier{Lookup: func(id string) (string, bool) {
		return testCreds.SecretAccessKey, id == testCreds.AccessKeyID
	}}
	srv := httptest.NewServer(New(Deps{Verifier: verifier}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/2015-03-31/no-such-route", nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, sigv4.PayloadHash(nil), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp := send(t, req); resp.status != http.StatusNotFound {
		t.Fatalf("got %d %s, want the router's 404", resp.status, resp.body)
	}
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
