package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var debugKeys = Keys{AccessKeyID: "AKIADEBUGTEST0000001", SecretAccessKey: "debug-test-secret-0000000000000000000000"}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// TestDebugAuth serves the profiler on a real loopback listener and checks
// who gets in.
func TestDebugAuth(t *testing.T) {
	d, err := listenDebug("127.0.0.1:0", debugKeys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	base := "http://" + d.ln.Addr().String() + "/debug/pprof/"
	// Any key but the root's: an IAM user's or a function's session.
	fnID, fnSecret := "AKIAOTHERKEY00000001", "other-secret-000000000000000000000000000"

	sign := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) {
			err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret},
				r, emptySHA256, "aloft", "us-east-1", time.Now())
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name       string
		path       string
		auth       func(*http.Request)
		wantStatus int
		wantBody   string // in the answer, when set
	}{
		{"no credentials", "", func(*http.Request) {}, http.StatusUnauthorized, "needs the root credentials"},
		{"basic, right", "", func(r *http.Request) { r.SetBasicAuth(debugKeys.AccessKeyID, debugKeys.SecretAccessKey) }, http.StatusOK, "Types of profiles available"},
		{"basic, heap profile", "heap?debug=1", func(r *http.Request) { r.SetBasicAuth(debugKeys.AccessKeyID, debugKeys.SecretAccessKey) }, http.StatusOK, "heap profile"},
		{"basic, wrong secret", "", func(r *http.Request) { r.SetBasicAuth(debugKeys.AccessKeyID, "nope") }, http.StatusUnauthorized, "invalid credentials"},
		{"basic, wrong key id", "", func(r *http.Request) { r.SetBasicAuth("AKIAOTHER", debugKeys.SecretAccessKey) }, http.StatusUnauthorized, "invalid credentials"},
		{"basic, another key", "", func(r *http.Request) { r.SetBasicAuth(fnID, fnSecret) }, http.StatusUnauthorized, "invalid credentials"},
		{"basic, malformed", "", func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, http.StatusUnauthorized, "invalid credentials"},
		{"sigv4, root", "", sign(debugKeys.AccessKeyID, debugKeys.SecretAccessKey), http.StatusOK, "Types of profiles available"},
		{"sigv4, wrong secret", "", sign(debugKeys.AccessKeyID, "nope"), http.StatusForbidden, "signature mismatch"},
		{"sigv4, another key", "", sign(fnID, fnSecret), http.StatusForbidden, "unknown access key"},
		{"sigv4, presigned root", "", func(r *http.Request) {
			r.URL.RawQuery = "X-Amz-Expires=300"
			u, _, err := v4.NewSigner().PresignHTTP(context.Background(),
				aws.Credentials{AccessKeyID: debugKeys.AccessKeyID, SecretAccessKey: debugKeys.SecretAccessKey},
				r, "UNSIGNED-PAYLOAD", "aloft", "us-east-1", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			r.URL, _ = r.URL.Parse(u)
		}, http.StatusForbidden, "presigned requests are not accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.auth(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("got %d %.300q, want %d and %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if (resp.StatusCode == http.StatusUnauthorized) != strings.HasPrefix(challenge, "Basic ") {
				t.Errorf("status %d with WWW-Authenticate %q", resp.StatusCode, challenge)
			}
			if resp.StatusCode == http.StatusOK && len(body) == 0 {
				t.Error("empty profiler page")
			}
		})
	}
}

// TestDebugLoopbackOnly refuses addresses other than loopback ones before
// binding them.
func TestDebugLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0", "127.0.0.1"} {
		if d, err := listenDebug(addr, debugKeys); err == nil {
			d.close()
			t.Errorf("%s: listened, want a refusal", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "127.0.0.2:0"} {
		d, err := listenDebug(addr, debugKeys)
		if err != nil {
			t.Errorf("%s: %v", addr, err)
			continue
		}
		d.close()
	}
	if _, err := listenDebug("127.0.0.1:0", Keys{}); err == nil {
		t.Error("listened without root credentials")
	}
}

// TestStartDebugRefusal checks that the server logs a refused address and
// runs on without the profiler.
func TestStartDebugRefusal(t *testing.T) {
	t.Setenv("ALOFT_DEBUG_PPROF", "0.0.0.0:0")
	var buf bytes.Buffer
	stop := startDebug(slog.New(slog.NewTextHandler(&buf, nil)), debugKeys)
	stop()
	if out := buf.String(); !strings.Contains(out, "debug profiler not started") || !strings.Contains(out, "not a loopback address") {
		t.Fatalf("log %q, want a refusal", out)
	}
}
