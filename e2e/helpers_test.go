package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// runtimeCase is one runtime the suite deploys its test function on.
type runtimeCase struct {
	name    string
	runtime string
	handler string
	errType string // errorType of the function's own exception
	code    func(t *testing.T, version string) []byte
}

func runtimeCases() []runtimeCase {
	return []runtimeCase{
		{"go", "provided.al2023", "bootstrap", "errorString", func(t *testing.T, v string) []byte {
			return alofttest.GoFunction(t, "e2e/functions/gofn", v)
		}},
		{"python", "python3.11", "app.handler", "ValueError", func(t *testing.T, v string) []byte {
			return sourceZip(t, "python", "app.py", v)
		}},
		{"node", "nodejs20.x", "index.handler", "TypeError", func(t *testing.T, v string) []byte {
			return sourceZip(t, "node", "index.mjs", v)
		}},
	}
}

// sourceZip zips testdata/<dir>/<file> with its VERSION constant set to v.
func sourceZip(t *testing.T, dir, file, v string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", dir, file))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), `VERSION = "v1"`, `VERSION = "`+v+`"`, 1)
	return alofttest.ZipFiles(t, map[string]string{file: src})
}

// answer is what every test function returns.
type answer struct {
	Runtime   string `json:"runtime"`
	Version   string `json:"version"`
	Calls     int    `json:"calls"`
	PID       int    `json:"pid"`
	Instance  string `json:"instance"` // the log stream: one per instance
	RequestID string `json:"requestId"`
	ARN       string `json:"arn"`
	Function  string `json:"function"`
	Memory    int    `json:"memory"`
	Remaining int64  `json:"remaining"`
	Greeting  string `json:"greeting"`
	Region    string `json:"region"`
	TaskRoot  string `json:"taskRoot"`
	InitType  string `json:"initType"`
}

// fnError is a function error payload.
type fnError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func create(t *testing.T, c *lambda.Client, name string, rc runtimeCase, zip []byte, mutate ...func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.Runtime(rc.runtime),
		Handler:      aws.String(rc.handler),
		Role:         aws.String("arn:aws:iam::000000000000:role/aloft"),
		Code:         &types.FunctionCode{ZipFile: zip},
		Timeout:      aws.Int32(5),
	}
	for _, m := range mutate {
		m(in)
	}
	out, err := c.CreateFunction(ctxT(t), in)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return out
}

// invoke invokes name and decodes a successful answer.
func invoke(t *testing.T, c *lambda.Client, name string, payload string) (answer, *lambda.InvokeOutput) {
	t.Helper()
	out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	var a answer
	if out.FunctionError == nil {
		if err := json.Unmarshal(out.Payload, &a); err != nil {
			t.Fatalf("invoke %s: payload %q: %v", name, out.Payload, err)
		}
	}
	return a, out
}

// invokeErr invokes name expecting a function error and returns it.
func invokeErr(t *testing.T, c *lambda.Client, name, payload string) fnError {
	t.Helper()
	out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" {
		t.Fatalf("invoke %s: got status %d function error %q payload %s, want 200 Unhandled", name, out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}
	var e fnError
	if err := json.Unmarshal(out.Payload, &e); err != nil {
		t.Fatalf("error payload %q: %v", out.Payload, err)
	}
	return e
}

// apiErr asserts that err is an AWS API error with the given code and HTTP
// status, and returns its message.
func apiErr(t *testing.T, err error, code string, status int) string {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v (%T), want an API error %s", err, err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got error code %q (%v), want %q", ae.ErrorCode(), err, code)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() != status {
		t.Fatalf("got status %d for %s, want %d", re.HTTPStatusCode(), code, status)
	}
	return ae.ErrorMessage()
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
