package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestBadInput sends every kind of bad request and checks the AWS-shaped
// error, and that the server keeps serving a well-behaved function.
func TestBadInput(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	py := runtimeCases()[1]
	good := py.code(t, "v1")
	create(t, c, "good", py, good)

	createWith := func(mutate func(*lambda.CreateFunctionInput)) error {
		in := &lambda.CreateFunctionInput{
			FunctionName: aws.String("bad"), Runtime: types.RuntimePython311, Handler: aws.String("app.handler"),
			Role: aws.String("arn:aws:iam::000000000000:role/aloft"), Code: &types.FunctionCode{ZipFile: good},
		}
		mutate(in)
		_, err := c.CreateFunction(ctxT(t), in)
		return err
	}
	zipOf := func(name string, size int, compressible bool) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		chunk := make([]byte, 1<<20)
		if !compressible {
			zw.Close()
			buf.Reset()
			zw = zip.NewWriter(&buf)
			w, _ = zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
			rand.Read(chunk)
		}
		for written := 0; written < size; written += len(chunk) {
			w.Write(chunk[:min(len(chunk), size-written)])
		}
		zw.Close()
		return buf.Bytes()
	}

	t.Run("create", func(t *testing.T) {
		tests := []struct {
			name   string
			mutate func(*lambda.CreateFunctionInput)
			code   string
			status int
			msg    string
		}{
			{"invalid name", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("bad name!") }, "ValidationException", 400, "functionName"},
			{"long name", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String(strings.Repeat("a", 65)) }, "ValidationException", 400, "functionName"},
			{"unknown runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = "cobol85" }, "ValidationException", 400, "runtime"},
			{"no handler", func(in *lambda.CreateFunctionInput) { in.Handler = nil }, "InvalidParameterValueException", 400, "Handler"},
			{"memory too small", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(64) }, "ValidationException", 400, "memorySize"},
			{"timeout too long", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(901) }, "InvalidParameterValueException", 400, "Timeout"},
			{"reserved env", func(in *lambda.CreateFunctionInput) {
				in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "x"}}
			}, "InvalidParameterValueException", 400, "reserved"},
			{"no code", func(in *lambda.CreateFunctionInput) { in.Code = &types.FunctionCode{} }, "InvalidParameterValueException", 400, "source"},
			{"corrupt zip", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("PK\x03\x04 this is not a zip") }, "InvalidParameterValueException", 400, "Could not unzip"},
			{"zip slip", func(in *lambda.CreateFunctionInput) {
				in.Code.ZipFile = alofttest.ZipFiles(t, map[string]string{"../../escape.py": "x = 1"})
			}, "InvalidParameterValueException", 400, "escapes"},
			{"zip over 50 MB", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = zipOf("big.bin", 50<<20+64<<10, false) }, "RequestEntityTooLargeException", 413, "52428800"},
			{"expands over 250 MB", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = zipOf("bomb.bin", 251<<20, true) }, "InvalidParameterValueException", 400, "Unzipped size"},
			{"duplicate", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("good") }, "ResourceConflictException", 409, "already exist"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				msg := apiErr(t, createWith(tc.mutate), tc.code, tc.status)
				if !strings.Contains(msg, tc.msg) {
					t.Fatalf("message %q lacks %q", msg, tc.msg)
				}
			})
		}
	})

	t.Run("invoke", func(t *testing.T) {
		_, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("good"), Payload: []byte("{not json")})
		var irc *types.InvalidRequestContentException
		if apiErr(t, err, "InvalidRequestContentException", 400); !errorsAs(err, &irc) {
			t.Fatalf("got %T, want *types.InvalidRequestContentException", err)
		}
		big := append(append([]byte(`{"a":"`), bytes.Repeat([]byte("x"), 6<<20)...), `"}`...)
		_, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("good"), Payload: big})
		apiErr(t, err, "RequestEntityTooLargeException", 413)
		_, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("nope")})
		var nf *types.ResourceNotFoundException
		if msg := apiErr(t, err, "ResourceNotFoundException", 404); !errorsAs(err, &nf) || msg != "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" {
			t.Fatalf("got %v", err)
		}
		_, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("good"), Qualifier: aws.String("7")})
		apiErr(t, err, "ResourceNotFoundException", 404)
		out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("good"), InvocationType: types.InvocationTypeDryRun})
		if err != nil || out.StatusCode != 204 {
			t.Fatalf("dry run got %v, %v", out, err)
		}
		// The ARN forms of a function name work too.
		if a, _ := invoke(t, c, "arn:aws:lambda:us-east-1:000000000000:function:good", `{}`); a.Function != "good" {
			t.Fatalf("invoke by ARN got %+v", a)
		}
	})

	t.Run("signatures", func(t *testing.T) {
		cfg := srv.Config()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(alofttest.AccessKeyID, "wrong-secret", "")
		wrong := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		_, err := wrong.ListFunctions(ctxT(t), &lambda.ListFunctionsInput{})
		apiErr(t, err, "InvalidSignatureException", 403)

		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", "x", "")
		unknown := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		_, err = unknown.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("good")})
		apiErr(t, err, "UnrecognizedClientException", 403)

		resp, err := http.Post(srv.URL+"/2015-03-31/functions/good/invocations", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
			t.Fatalf("unsigned got %d %q %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), body)
		}
	})

	// After all that, the server and the good function still answer.
	if a, _ := invoke(t, c, "good", `{}`); a.Runtime != "python" {
		t.Fatalf("good function got %+v", a)
	}
	resp, err := http.Get(srv.URL + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health got %v, %v", resp, err)
	}
}
