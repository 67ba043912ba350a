package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestUnverifiedBodiesAreNotHeld sends every service requests with 70 MB
// bodies, unsigned or signed with a wrong secret, and checks that each is
// refused in the service's shape (403, or 413 where 70 MB is over the
// service's own limit) while the server's peak memory hardly moves: a
// body is held only once its signature is good.
func TestUnverifiedBodiesAreNotHeld(t *testing.T) {
	srv := alofttest.Start(t)
	const size = 70_000_000 // 70 MB, just under CreateFunction's limit
	sum := sha256.New()
	io.Copy(sum, io.LimitReader(zeros{}, size))
	hash := hex.EncodeToString(sum.Sum(nil))

	type target struct {
		service, method, path string
		header                map[string]string
		want                  string // in the body of the 403
	}
	targets := []target{
		{"lambda", "POST", "/2015-03-31/functions", nil, "Exception"},
		{"logs", "POST", "/", map[string]string{"X-Amz-Target": "Logs_20140328.PutLogEvents", "Content-Type": "application/x-amz-json-1.1"}, "Exception"},
		{"scheduler", "POST", "/schedules/flood", map[string]string{"Content-Type": "application/json"}, "Exception"},
		{"apigateway", "POST", "/v2/apis", map[string]string{"Content-Type": "application/json"}, "essage"},
		{"s3", "PUT", "/flood/object", nil, "<Error>"},
	}
	signer := v4.NewSigner()
	send := func(tg target, signed bool) (int, string) {
		r, err := http.NewRequest(tg.method, srv.URL+tg.path, io.LimitReader(zeros{}, size))
		if err != nil {
			t.Fatal(err)
		}
		r.ContentLength = size
		for k, v := range tg.header {
			r.Header.Set(k, v)
		}
		if signed {
			if tg.service == "s3" {
				r.Header.Set("X-Amz-Content-Sha256", hash)
			}
			creds := aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: "not-the-secret"}
			if err := signer.SignHTTP(context.Background(), creds, r, hash, tg.service, alofttest.Region, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", tg.method, tg.path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The baseline: the server after a first request of each kind.
	for _, tg := range targets {
		send(tg, false)
	}
	before := vmHWM(t, srv.PID())
	for _, tg := range targets {
		for _, signed := range []bool{false, true} {
			for range 3 {
				status, body := send(tg, signed)
				want := http.StatusForbidden
				if signed && tg.service != "lambda" && tg.service != "s3" {
					// 70 MB is over these services' own limits: refused
					// for its size before it is read.
					want = http.StatusRequestEntityTooLarge
				}
				if status != want || !strings.Contains(body, tg.want) {
					t.Errorf("%s (signed with a wrong secret: %v): %d %.200s, want %d with %q", tg.service, signed, status, body, want, tg.want)
				}
			}
		}
	}
	after := vmHWM(t, srv.PID())
	t.Logf("peak resident memory: %d MB before, %d MB after 30 requests of 70 MB", before>>20, after>>20)
	if after-before > 16<<20 {
		t.Errorf("the server's peak memory grew by %d MB", (after-before)>>20)
	}
	// A signed request with a large body still works: the spooled body
	// reaches the API (here, a zip too large for a function's code).
	for _, n := range []int{1 << 10, 200 << 10} {
		signedRequest(t, srv, n)
	}
}

// signedRequest sends a CreateFunction request of n bytes, a JSON document
// with a long description, signed with the right keys: past the signature
// check, the API reads the whole document and refuses it for what it
// lacks.
func signedRequest(t *testing.T, srv *alofttest.Server, n int) {
	t.Helper()
	body := []byte(`{"Description":"` + strings.Repeat("d", n-18) + `"}`)
	req, _ := http.NewRequest("POST", srv.URL+"/2015-03-31/functions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: alofttest.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(h[:]), "lambda", alofttest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "Could not parse") || resp.Header.Get("X-Amzn-Errortype") == "InvalidSignatureException" {
		t.Errorf("a signed request of %d bytes: %d %s %s, want the document read whole and refused for what it lacks", n, resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), b)
	}
}
