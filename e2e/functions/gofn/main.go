// Command gofn is a test function built with aws-lambda-go. What it does
// depends on the event's "op" field; its answer reports the process and the
// number of calls the process has served, so tests can see warm reuse.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// version is replaced with -ldflags to build a second revision.
var version = "v1"

var calls int

type event struct {
	Op   string `json:"op"`
	Ms   int    `json:"ms"`
	Text string `json:"text"`
	Size int    `json:"size"`
	T    int64  `json:"t"` // a send time in Unix nanoseconds, for "stamp"
	URL  string `json:"url"`
}

func main() {
	if os.Getenv("INIT_FAIL") != "" {
		fmt.Println("failing during init")
		os.Exit(4)
	}
	lambda.Start(handle)
}

func handle(ctx context.Context, ev event) (map[string]any, error) {
	calls++
	if ev.Op == "noop" {
		return nil, nil
	}
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	switch ev.Op {
	case "sleep":
		time.Sleep(time.Duration(ev.Ms) * time.Millisecond)
	case "wait": // until the test's server answers
		res, err := http.Get(ev.URL)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("wait: %s", res.Status)
		}
	case "crash":
		os.Exit(3)
	case "error":
		return nil, errors.New("something failed")
	case "panic":
		panic("the handler panicked")
	case "print":
		fmt.Println(ev.Text)
	case "tmpwrite":
		if err := os.WriteFile(filepath.Join(os.TempDir(), "note"), []byte(ev.Text), 0o600); err != nil {
			return nil, err
		}
	case "tmpread":
		b, err := os.ReadFile(filepath.Join(os.TempDir(), "note"))
		return map[string]any{"note": string(b), "found": err == nil}, nil
	case "stamp":
		// Record how long the event took from its sender to this handler.
		ev.Text = fmt.Sprint(time.Now().UnixNano() - ev.T)
		fallthrough
	case "record":
		time.Sleep(time.Duration(ev.Ms) * time.Millisecond)
		// Append the event's text to a file of this process under
		// RECORD_DIR: evidence of delivery that outlives the server.
		f, err := os.OpenFile(filepath.Join(os.Getenv("RECORD_DIR"), fmt.Sprint(os.Getpid())), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		_, err = fmt.Fprintln(f, ev.Text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		return nil, nil
	case "big":
		return map[string]any{"data": strings.Repeat("a", ev.Size)}, nil
	case "trace": // the trace header, as the environment and the context carry it
		h, _ := ctx.Value("x-amzn-trace-id").(string) //nolint:staticcheck // aws-lambda-go's own key
		return map[string]any{"env": os.Getenv("_X_AMZN_TRACE_ID"), "ctx": h}, nil
	}
	return map[string]any{
		"runtime":   "go",
		"version":   version,
		"calls":     calls,
		"pid":       os.Getpid(),
		"instance":  lambdacontext.LogStreamName,
		"requestId": lc.AwsRequestID,
		"arn":       lc.InvokedFunctionArn,
		"function":  lambdacontext.FunctionName,
		"memory":    lambdacontext.MemoryLimitInMB,
		"remaining": time.Until(deadline).Milliseconds(),
		"greeting":  os.Getenv("GREETING"),
		"region":    os.Getenv("AWS_REGION"),
		"taskRoot":  os.Getenv("LAMBDA_TASK_ROOT"),
		"initType":  os.Getenv("AWS_LAMBDA_INITIALIZATION_TYPE"),
	}, nil
}
