package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/aloft-dev/aloft/internal/meter"
)

// clearEnv empties the variables the client reads and points the user's
// configuration directory (where a running server is recorded) at an
// empty one.
func clearEnv(t *testing.T) {
	for _, k := range []string{EnvEndpoint, EnvRegion, EnvAccessKey, EnvSecretKey, EnvDataDir, "AWS_ENDPOINT_URL", "AWS_PROFILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
}

func TestFromEnvVariables(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvEndpoint, "localhost:9100/")
	t.Setenv(EnvRegion, "eu-west-3")
	t.Setenv(EnvAccessKey, "AKIDENV")
	t.Setenv(EnvSecretKey, "secret")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != "http://localhost:9100" || c.Region != "eu-west-3" || c.CredentialSource != "environment" {
		t.Errorf("got endpoint %q region %q source %q", c.Endpoint, c.Region, c.CredentialSource)
	}
	creds, err := c.cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKIDENV" || creds.SecretAccessKey != "secret" {
		t.Errorf("credentials = %+v, %v", creds, err)
	}
}

func TestFromEnvCredentialsFile(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Setenv(EnvDataDir, dir)
	path := filepath.Join(dir, CredentialsFile)
	if err := os.WriteFile(path, []byte(`{"AccessKeyId":"AKIDFILE","SecretAccessKey":"s3cr3t"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != DefaultEndpoint || c.Region != DefaultRegion || c.CredentialSource != path {
		t.Errorf("got endpoint %q region %q source %q", c.Endpoint, c.Region, c.CredentialSource)
	}
	creds, _ := c.cfg.Credentials.Retrieve(context.Background())
	if creds.AccessKeyID != "AKIDFILE" || creds.SecretAccessKey != "s3cr3t" {
		t.Errorf("credentials = %+v", creds)
	}
}

func TestFromEnvDefaultDataDir(t *testing.T) {
	clearEnv(t)
	t.Chdir(t.TempDir())
	if err := os.Mkdir(DefaultDataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(DefaultDataDir, CredentialsFile), []byte(`{"AccessKeyId":"A","SecretAccessKey":"B"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := FromEnv(); err != nil {
		t.Fatal(err)
	}
}

func TestFromEnvErrors(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvDataDir, t.TempDir())
	if _, err := FromEnv(); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no credentials: err = %v", err)
	}
	if !strings.Contains(ErrNoCredentials.Error(), "set ALOFT_ACCESS_KEY_ID and ALOFT_SECRET_ACCESS_KEY") {
		t.Errorf("message %q does not say what to set", ErrNoCredentials)
	}

	t.Setenv(EnvAccessKey, "only-id")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), EnvSecretKey+" is not set") {
		t.Errorf("half credentials: err = %v", err)
	}

	clearEnv(t)
	dir := t.TempDir()
	t.Setenv(EnvDataDir, dir)
	if err := os.WriteFile(filepath.Join(dir, CredentialsFile), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "reading credentials from") {
		t.Errorf("bad file: err = %v", err)
	}

	t.Setenv(EnvAccessKey, "A")
	t.Setenv(EnvSecretKey, "B")
	t.Setenv(EnvEndpoint, "ftp://host")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("bad endpoint: err = %v", err)
	}
}

// checkSignature verifies r was signed by key AKID/secret for service and
// region by signing a copy with the same date and comparing.
func checkSignature(t *testing.T, r *http.Request, service, region string) {
	t.Helper()
	auth := r.Header.Get("Authorization")
	date, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Errorf("X-Amz-Date: %v", err)
		return
	}
	want := "Credential=AKID/" + date.Format("20060102") + "/" + region + "/" + service + "/aws4_request"
	if !strings.Contains(auth, want) {
		t.Errorf("Authorization %q lacks %q", auth, want)
	}
	cp, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	for _, h := range []string{"Accept"} {
		if v := r.Header.Get(h); v != "" {
			cp.Header.Set(h, v)
		}
	}
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"},
		cp, emptyPayloadHash, service, region, date)
	if err != nil {
		t.Fatal(err)
	}
	if got := cp.Header.Get("Authorization"); got != auth {
		t.Errorf("signature mismatch:\n got %s\nwant %s", auth, got)
	}
}

func newTestClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(Options{Endpoint: srv.URL, Region: "us-west-2", AccessKeyID: "AKID", SecretAccessKey: "secret", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUsage(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != UsagePath {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		checkSignature(t, r, "lambda", "us-west-2")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"Functions":[{"FunctionName":"hello","Requests":12,"BilledMs":340,"GBSeconds":0.0425,
			"RequestCost":0.0000024,"ComputeCost":0.00000070834,"Cost":0.0000031}],
			"Total":{"Requests":12,"BilledMs":340,"GBSeconds":0.0425,"RequestCost":0.0000024,"ComputeCost":0.00000070834,"Cost":0.0000031},
			"FreeTier":{"Requests":1000000,"GBSeconds":400000}}`))
	})
	u, err := c.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := meter.Usage{Requests: 12, BilledMs: 340, GBSeconds: 0.0425, RequestCost: 0.0000024, ComputeCost: 0.00000070834, Cost: 0.0000031}
	want := &meter.Report{
		Functions: []meter.Usage{func() meter.Usage { f := m; f.FunctionName = "hello"; return f }()},
		Total:     m,
		FreeTier:  meter.FreeTier{Requests: 1000000, GBSeconds: 400000},
	}
	if d := cmp.Diff(want, u); d != "" {
		t.Errorf("usage (-want +got):\n%s", d)
	}
}

func TestUsageErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		status        int
		header, body  string
		code, message string
	}{
		"header":  {403, "InvalidSignatureException", `{"Type":"User","Message":"bad signature"}`, "InvalidSignatureException", "bad signature"},
		"type":    {400, "", `{"__type":"com.amazon#ValidationException","message":"nope"}`, "ValidationException", "nope"},
		"no body": {404, "", "", "NotFound", ""},
		"text":    {502, "", "upstream down\nmore", "BadGateway", "upstream down"},
	} {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("X-Amzn-ErrorType", tc.header+":http://internal/")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			_, err := c.Usage(context.Background())
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an APIError", err)
			}
			if apiErr.ErrorCode() != tc.code || apiErr.ErrorMessage() != tc.message {
				t.Errorf("got %q %q, want %q %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), tc.code, tc.message)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(Options{Endpoint: url, AccessKeyID: "AKID", SecretAccessKey: "secret", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Usage(context.Background())
	var sendErr *smithyhttp.RequestSendError
	if !errors.As(err, &sendErr) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Usage: err = %v, want a refused RequestSendError", err)
	}
	_, err = c.Lambda.ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	if !errors.As(err, &sendErr) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("ListFunctions: err = %v, want a refused RequestSendError", err)
	}
}

func TestLambdaClientSigns(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimSuffix(r.URL.Path, "/") != "/2015-03-31/functions" {
			t.Errorf("path %q", r.URL.Path)
		}
		if !strings.Contains(r.Header.Get("Authorization"), "/us-west-2/lambda/aws4_request") {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		_, _ = w.Write([]byte(`{"Functions":[{"FunctionName":"hello"}]}`))
	})
	out, err := c.Lambda.ListFunctions(context.Background(), &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Functions) != 1 || aws.ToString(out.Functions[0].FunctionName) != "hello" {
		t.Errorf("functions = %+v", out.Functions)
	}
}
