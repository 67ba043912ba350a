package e2e

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/function"
)

// TestRuntimes takes a function on each runtime through its whole life:
// create, invoke cold and warm, update code and configuration, fail in
// every way Lambda reports, run concurrently, and delete.
func TestRuntimes(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	for _, rc := range runtimeCases() {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			name := "life-" + rc.name
			created := create(t, c, name, rc, rc.code(t, "v1"), func(in *lambda.CreateFunctionInput) {
				in.MemorySize = aws.Int32(256)
				in.Environment = &types.Environment{Variables: map[string]string{"GREETING": "hello"}}
			})
			if created.State != types.StateActive || aws.ToString(created.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:"+name {
				t.Fatalf("create got state %s arn %s", created.State, aws.ToString(created.FunctionArn))
			}
			if aws.ToInt32(created.MemorySize) != 256 || aws.ToString(created.Version) != "$LATEST" || aws.ToString(created.CodeSha256) == "" {
				t.Fatalf("create got %+v", created)
			}
			// The SDK's waiters see the function ready.
			if err := lambda.NewFunctionActiveV2Waiter(c).Wait(ctxT(t), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 10*time.Second); err != nil {
				t.Fatalf("active waiter: %v", err)
			}
			get, err := c.GetFunction(ctxT(t), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			if err != nil || aws.ToString(get.Configuration.Handler) != rc.handler || aws.ToString(get.Code.RepositoryType) != "S3" {
				t.Fatalf("get got %+v, %v", get, err)
			}

			// Cold, then warm: the same process counts on.
			a1, out := invoke(t, c, name, `{"op":"print","text":"marker-`+rc.name+`"}`)
			a2, _ := invoke(t, c, name, `{}`)
			if a1.Version != "v1" || a1.Calls != 1 || a2.Calls != 2 || a1.Instance != a2.Instance {
				t.Fatalf("got %+v then %+v, want v1 counting 1, 2 in one process", a1, a2)
			}
			if a1.Function != name || a1.Memory != 256 || a1.Greeting != "hello" || a1.Region != "us-east-1" ||
				a1.ARN != aws.ToString(created.FunctionArn) || a1.Remaining <= 0 || a1.Remaining > 5000 || a1.TaskRoot == "" {
				t.Fatalf("context got %+v", a1)
			}
			if aws.ToString(out.ExecutedVersion) != "$LATEST" {
				t.Fatalf("executed version got %q", aws.ToString(out.ExecutedVersion))
			}
			// The answer's request id is the invocation's, in every runtime.
			if id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); id != a1.RequestID || id == "" {
				t.Errorf("x-amzn-RequestId %q, the function's request id %q: want one id", id, a1.RequestID)
			}
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			for _, want := range []string{"START RequestId: " + a1.RequestID, "marker-" + rc.name, "END RequestId: " + a1.RequestID, "Init Duration:", "Memory Size: 256 MB"} {
				if !strings.Contains(string(tail), want) {
					t.Errorf("log tail lacks %q:\n%s", want, tail)
				}
			}

			// New code retires the warm instance.
			up, err := c.UpdateFunctionCode(ctxT(t), &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: rc.code(t, "v2")})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(up.CodeSha256) == aws.ToString(created.CodeSha256) || aws.ToString(up.RevisionId) == aws.ToString(created.RevisionId) {
				t.Fatalf("update code did not change sha or revision: %+v", up)
			}
			if err := lambda.NewFunctionUpdatedV2Waiter(c).Wait(ctxT(t), &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 10*time.Second); err != nil {
				t.Fatalf("updated waiter: %v", err)
			}
			if a, _ := invoke(t, c, name, `{}`); a.Version != "v2" || a.Calls != 1 || a.Instance == a1.Instance {
				t.Fatalf("after code update got %+v, want v2 in a new process", a)
			}

			// New configuration too; Environment replaces the whole map.
			_, err = c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{
				FunctionName: aws.String(name),
				Timeout:      aws.Int32(1),
				Environment:  &types.Environment{Variables: map[string]string{"GREETING": "bonjour"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if a, _ := invoke(t, c, name, `{}`); a.Greeting != "bonjour" || a.Calls != 1 || a.Remaining > 1000 {
				t.Fatalf("after config update got %+v", a)
			}

			// The function's own error keeps the instance.
			if e := invokeErr(t, c, name, `{"op":"error"}`); e.ErrorType != rc.errType {
				t.Fatalf("error got %+v, want type %s", e, rc.errType)
			}
			// A crash is Runtime.ExitError and replaces the instance.
			e := invokeErr(t, c, name, `{"op":"crash"}`)
			if e.ErrorType != "Runtime.ExitError" || !strings.HasSuffix(e.ErrorMessage, "Error: Runtime exited with error: exit status 3") {
				t.Fatalf("crash got %+v", e)
			}
			if a, _ := invoke(t, c, name, `{}`); a.Calls != 1 {
				t.Fatalf("after crash got calls %d, want a fresh instance", a.Calls)
			}
			// A timeout is Sandbox.Timedout and replaces the instance.
			e = invokeErr(t, c, name, `{"op":"sleep","ms":3000}`)
			if e.ErrorType != "Sandbox.Timedout" || !strings.HasSuffix(e.ErrorMessage, "Error: Task timed out after 1.00 seconds") {
				t.Fatalf("timeout got %+v", e)
			}
			if a, _ := invoke(t, c, name, `{}`); a.Calls != 1 {
				t.Fatalf("after timeout got calls %d, want a fresh instance", a.Calls)
			}

			// Concurrent invocations run on separate instances.
			_, err = c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Timeout: aws.Int32(10)})
			if err != nil {
				t.Fatal(err)
			}
			// They meet at a barrier: none answers before all three run at
			// once, so no instance can serve two of them.
			var arrived atomic.Int32
			all := make(chan struct{})
			barrier := reachableServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if arrived.Add(1) == 3 {
					close(all)
				}
				select {
				case <-all:
					io.WriteString(w, "ok")
				case <-time.After(8 * time.Second):
					http.Error(w, "the three invocations never ran at once", http.StatusGatewayTimeout)
				}
			}))
			var wg sync.WaitGroup
			pids := make([]string, 3)
			for i := range pids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a, out := invoke(t, c, name, `{"op":"wait","url":"`+barrier+`"}`)
					if out.FunctionError != nil {
						t.Errorf("invocation %d: %s", i, out.Payload)
					}
					pids[i] = a.Instance
				}()
			}
			wg.Wait()
			if pids[0] == pids[1] || pids[0] == pids[2] || pids[1] == pids[2] {
				t.Fatalf("concurrent invocations got pids %v, want three instances", pids)
			}

			if _, err := c.DeleteFunction(ctxT(t), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
			_, err = c.GetFunction(ctxT(t), &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			var nf *types.ResourceNotFoundException
			if !errors.As(err, &nf) {
				t.Fatalf("get after delete got %v, want ResourceNotFoundException", err)
			}
			_, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(name)})
			if !errors.As(err, &nf) {
				t.Fatalf("invoke after delete got %v, want ResourceNotFoundException", err)
			}
		})
	}
}

// TestInitErrors checks that a function that cannot start reports the
// error Lambda reports.
func TestInitErrors(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	rcs := runtimeCases()
	goRC, py, node := rcs[0], rcs[1], rcs[2]
	tests := []struct {
		name     string
		rc       runtimeCase
		handler  string
		zip      func(t *testing.T) []byte
		env      map[string]string
		wantType string
		wantMsg  string
	}{
		{"python-no-module", py, "missing.handler", func(t *testing.T) []byte { return py.code(t, "v1") }, nil,
			"Runtime.ImportModuleError", "Unable to import module 'missing'"},
		{"python-no-handler", py, "app.nope", func(t *testing.T) []byte { return py.code(t, "v1") }, nil,
			"Runtime.HandlerNotFound", "nope"},
		{"python-syntax", py, "app.handler", func(t *testing.T) []byte {
			return alofttest.ZipFiles(t, map[string]string{"app.py": "def handler(:\n"})
		}, nil, "Runtime.UserCodeSyntaxError", ""},
		{"node-no-module", node, "missing.handler", func(t *testing.T) []byte { return node.code(t, "v1") }, nil,
			"Runtime.ImportModuleError", "missing"},
		{"node-no-handler", node, "index.nope", func(t *testing.T) []byte { return node.code(t, "v1") }, nil,
			"Runtime.HandlerNotFound", "index.nope"},
		{"provided-no-bootstrap", goRC, "bootstrap", func(t *testing.T) []byte {
			return alofttest.ZipFiles(t, map[string]string{"README": "no bootstrap here"})
		}, nil, "Runtime.InvalidEntrypoint", ""},
		{"go-exits-in-init", goRC, "bootstrap", func(t *testing.T) []byte { return goRC.code(t, "v1") },
			map[string]string{"INIT_FAIL": "1"}, "Runtime.ExitError", "Runtime exited with error: exit status 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "init-" + tc.name
			rc := tc.rc
			rc.handler = tc.handler
			create(t, c, name, rc, tc.zip(t), func(in *lambda.CreateFunctionInput) {
				if tc.env != nil {
					in.Environment = &types.Environment{Variables: tc.env}
				}
			})
			for attempt := 0; attempt < 2; attempt++ { // and again: nothing is left half-started
				e := invokeErr(t, c, name, `{}`)
				if e.ErrorType != tc.wantType || !strings.Contains(e.ErrorMessage, tc.wantMsg) {
					t.Fatalf("got %+v, want type %s and message containing %q", e, tc.wantType, tc.wantMsg)
				}
			}
		})
	}
}

// TestListAndAccountSettings pages through functions and reads the
// account's limits and usage.
func TestListAndAccountSettings(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	py := runtimeCases()[1]
	zip := py.code(t, "v1")
	for i := range 5 {
		create(t, c, fmt.Sprintf("list-%d", i), py, zip)
	}
	var names []string
	p := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{MaxItems: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range out.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
	}
	if want := "list-0,list-1,list-2,list-3,list-4"; strings.Join(names, ",") != want || pages != 3 {
		t.Fatalf("got %v in %d pages, want %s in 3", names, pages, want)
	}
	// GetFunction's code location downloads the zip without a signature,
	// and only with its token.
	fn, err := c.GetFunction(ctxT(t), &lambda.GetFunctionInput{FunctionName: aws.String("list-0")})
	if err != nil {
		t.Fatal(err)
	}
	loc := aws.ToString(fn.Code.Location)
	resp, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, zip) {
		t.Fatalf("code location %s got status %d and %d bytes, want the %d-byte zip", loc, resp.StatusCode, len(got), len(zip))
	}
	if resp, err := http.Get(strings.Split(loc, "?")[0] + "?token=forged"); err != nil || resp.StatusCode != 403 {
		t.Fatalf("forged token got %v, %v, want 403", resp, err)
	}

	acct, err := c.GetAccountSettings(ctxT(t), &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(&acct.AccountUsage.FunctionCount) != 5 || acct.AccountUsage.TotalCodeSize != 5*int64(len(zip)) ||
		acct.AccountLimit.CodeSizeZipped != 52428800 {
		t.Fatalf("account settings got %+v %+v", acct.AccountUsage, acct.AccountLimit)
	}
}

// TestRuntimeVersionMissing creates a function for a runtime version this
// host has no interpreter of: refused, saying what to install, instead
// of running on another version.
func TestRuntimeVersionMissing(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	_, err := c.CreateFunction(ctxT(t), &lambda.CreateFunctionInput{FunctionName: aws.String("future"), Runtime: "nodejs24.x",
		Handler: aws.String("index.handler"), Role: aws.String(function.DefaultRole),
		Code: &types.FunctionCode{ZipFile: alofttest.ZipFiles(t, map[string]string{"index.mjs": "export const handler = async () => 1;"})}})
	msg := apiErr(t, err, "InvalidParameterValueException", 400)
	if !strings.Contains(msg, "nodejs24.x needs Node.js 24, which this host does not have") || !strings.Contains(msg, "--node 24=PATH") {
		t.Errorf("message %q", msg)
	}
}

// TestRuntimesCommand lists the runtimes the host runs: the provided
// ones, and at least the version of the python3 on PATH.
func TestRuntimesCommand(t *testing.T) {
	srv := alofttest.Start(t)
	out, errOut, code := srv.Run(ctxT(t), nil, "runtimes")
	if code != 0 || !strings.Contains(out, "provided.al2023") || !strings.Contains(out, "(the function's own bootstrap)") || !strings.Contains(out, "python3.") {
		t.Fatalf("aloft runtimes: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "nodejs24.x") {
		t.Errorf("a runtime this host lacks is listed:\n%s", out)
	}
}
