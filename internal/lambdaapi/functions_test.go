package lambdaapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/keepalive"
	"github.com/aloft-dev/aloft/internal/registry"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// fakeFunctions is a registry of records in memory; it supports reading.
type fakeFunctions map[string]*registry.Record

func (f fakeFunctions) Get(name string) (*registry.Record, bool) { r, ok := f[name]; return r, ok }
func (f fakeFunctions) List() []*registry.Record {
	var out []*registry.Record
	for _, r := range f {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Config.FunctionName < out[j].Config.FunctionName })
	return out
}

var errReadOnly = errors.New("fake registry: read only")

func (fakeFunctions) Create(context.Context, function.Config, string, map[string]string, []byte) (*registry.Record, error) {
	return nil, errReadOnly
}
func (fakeFunctions) Update(context.Context, string, string, []byte, func(*function.Config) error) (*registry.Record, error) {
	return nil, errReadOnly
}
func (fakeFunctions) Amend(context.Context, string, func(*registry.Record) error) (*registry.Record, error) {
	return nil, errReadOnly
}
func (fakeFunctions) Delete(context.Context, string) error { return errReadOnly }
func (fakeFunctions) SetReserved(context.Context, string, *int, func(int) error) (*registry.Record, error) {
	return nil, errReadOnly
}
func (fakeFunctions) ReservedTotal() int   { return 0 }
func (fakeFunctions) TotalCodeSize() int64 { return 0 }
func (fakeFunctions) EventConfig(context.Context, string) (*function.EventInvokeConfig, error) {
	return nil, errReadOnly
}
func (fakeFunctions) PutEventConfig(context.Context, string, *function.EventInvokeConfig) error {
	return errReadOnly
}
func (fakeFunctions) DeleteEventConfig(context.Context, string) error { return errReadOnly }
func (fakeFunctions) EventConfigs(context.Context, string) ([]*function.EventInvokeConfig, error) {
	return nil, nil
}
func (fakeFunctions) Publish(context.Context, string, string, string, string) (*function.Config, error) {
	return nil, errReadOnly
}
func (f fakeFunctions) Versions(name string) ([]function.Config, error) {
	return []function.Config{f[name].Config}, nil
}
func (fakeFunctions) DeleteVersion(context.Context, string, string) error { return errReadOnly }
func (fakeFunctions) PutAlias(context.Context, string, string, bool, registry.AliasChange) (*registry.Alias, error) {
	return nil, errReadOnly
}
func (fakeFunctions) Alias(string, string) (*registry.Alias, error)     { return nil, errReadOnly }
func (fakeFunctions) Aliases(string) ([]*registry.Alias, error)         { return nil, nil }
func (fakeFunctions) DeleteAlias(context.Context, string, string) error { return errReadOnly }

// fakeRunner answers every invocation with resp, keeping the last request.
type fakeRunner struct {
	resp *invoke.Response
	last *invoke.Invocation
}

func (f *fakeRunner) Invoke(_ context.Context, req *invoke.Invocation) (*invoke.Response, error) {
	f.last = req
	return f.resp, nil
}
func (*fakeRunner) Provision(*invoke.Invocation, int) error { return nil }
func (*fakeRunner) Provisioned(string) (int, int)           { return 0, 0 }
func (*fakeRunner) KeepAlive(string) keepalive.State        { return keepalive.State{} }

var testCreds = aws.Credentials{AccessKeyID: "AKIAAPITEST000000001", SecretAccessKey: "api-test-secret-00000000000000000000000"}

// TestWithFakes drives the Lambda API with the SDK against fakes of the
// registry and the invoker: no store, no sandbox.
func TestWithFakes(t *testing.T) {
	fns := fakeFunctions{"hello": {Region: "us-east-1", Config: function.Config{
		FunctionName: "hello", FunctionArn: function.ARN("us-east-1", "hello", ""), Runtime: "python3.12",
		Handler: "app.handler", MemorySize: 128, Timeout: 3, Version: function.LatestVersion}}}
	runner := &fakeRunner{resp: &invoke.Response{Payload: []byte(`{"ok":true}`), Version: function.LatestVersion, RequestID: "r-1"}}
	verifier := &sigv4.Verifier{Lookup: func(id string) (string, bool) {
		return testCreds.SecretAccessKey, id == testCreds.AccessKeyID
	}}
	api := &edge.Service{Name: "lambda", Protocol: awsproto.RESTJSON, MaxBody: function.MaxCreateBody, TooLarge: TooLarge,
		Handler: New(Deps{Registry: fns, Invoker: runner, CodeURL: func(region, codeHex string) string { return "http://code/" + codeHex }})}
	srv := httptest.NewServer(edge.New(edge.Config{Services: []*edge.Service{api}, Default: api, Fallback: api, Verifier: verifier}))
	t.Cleanup(srv.Close)
	c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, "")})
	ctx := context.Background()

	list, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 1 || aws.ToString(list.Functions[0].FunctionName) != "hello" {
		t.Fatalf("ListFunctions: %+v %v", list, err)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("GetFunction of a missing function: %v, want ResourceNotFoundException", err)
	}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{"x":1}`)})
	if err != nil || string(out.Payload) != `{"ok":true}` || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Fatalf("Invoke: %+v %v", out, err)
	}
	if string(runner.last.Payload) != `{"x":1}` || runner.last.Config.FunctionName != "hello" {
		t.Errorf("the invoker got %+v", runner.last)
	}
	// A failure outside the function's code reaches the caller as an
	// unhandled function error with Lambda's document.
	f := &invoke.Failure{Kind: invoke.FailTimeout, Message: "RequestId: r-2 Error: Task timed out after 3.00 seconds"}
	runner.resp = &invoke.Response{Payload: f.Payload(), FunctionError: "Unhandled", Failure: f, Version: function.LatestVersion, RequestID: "r-2"}
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello")})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != string(f.Payload()) {
		t.Fatalf("Invoke that timed out: %+v %v", out, err)
	}
}

// BenchmarkInvokeThroughEdge measures the server's own work for a
// synchronous Invoke between the listener and the invoker: the front
// door's signature check and body, and the Lambda API's handler, with a
// fake invoker and no network.
func BenchmarkInvokeThroughEdge(b *testing.B) {
	fns := fakeFunctions{"hello": {Region: "us-east-1", Config: function.Config{
		FunctionName: "hello", FunctionArn: function.ARN("us-east-1", "hello", ""), Runtime: "python3.12",
		Handler: "app.handler", MemorySize: 128, Timeout: 3, Version: function.LatestVersion}}}
	runner := &fakeRunner{resp: &invoke.Response{Payload: []byte(`{"ok":true}`), Version: function.LatestVersion, RequestID: "r-1"}}
	at := time.Now()
	verifier := &sigv4.Verifier{Now: func() time.Time { return at }, Lookup: func(id string) (string, bool) {
		return testCreds.SecretAccessKey, id == testCreds.AccessKeyID
	}}
	api := &edge.Service{Name: "lambda", Protocol: awsproto.RESTJSON, MaxBody: function.MaxCreateBody, TooLarge: TooLarge,
		Handler: New(Deps{Registry: fns, Invoker: runner})}
	h := edge.New(edge.Config{Services: []*edge.Service{api}, Default: api, Fallback: api, Verifier: verifier})
	payload := []byte(`{"op":"noop"}`)
	signed := httptest.NewRequest("POST", "http://127.0.0.1:9000/2015-03-31/functions/hello/invocations", bytes.NewReader(payload))
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, signed, sigv4.PayloadHash(payload), "lambda", "us-east-1", at); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := signed.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(payload))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
