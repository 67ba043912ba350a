package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// floodBound is the most the server's peak resident memory may grow while
// one invocation prints 1 GB: the output the invoker holds (8 MiB per
// invocation), the log store's queue (64 MiB) and the Go runtime's
// slack around them.
const floodBound = 256 << 20

// TestOutputFlood has a Python function print 1 GB in 256 KB lines: the
// invocation succeeds, its log keeps a bounded part and says how much it
// dropped, and the server's memory stays within floodBound.
func TestOutputFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("prints 1 GB")
	}
	srv := alofttest.Start(t)
	c := srv.Lambda()
	src := "import sys\n" +
		"LINE = 'x' * (256 * 1024 - 1) + '\\n'\n" +
		"def handler(event, context):\n" +
		"    for _ in range(event['lines']):\n" +
		"        sys.stdout.write(LINE)\n" +
		"    sys.stdout.flush()\n" +
		"    return {'printed': event['lines']}\n"
	create(t, c, "flood", runtimeCases()[1], alofttest.ZipFiles(t, map[string]string{"app.py": src}), func(in *lambda.CreateFunctionInput) {
		in.Timeout, in.MemorySize = aws.Int32(120), aws.Int32(1769)
	})
	// Warm up first, so that the baseline includes a running server with
	// an instance.
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("flood"), Payload: []byte(`{"lines":1}`)}); err != nil {
		t.Fatal(err)
	}
	before := vmHWM(t, srv.PID())
	t0 := time.Now()
	out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("flood"), Payload: []byte(`{"lines":4096}`),
		LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	var r struct{ Printed int }
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &r) != nil || r.Printed != 4096 {
		t.Fatalf("flood answered %s %s", aws.ToString(out.FunctionError), out.Payload)
	}
	after := vmHWM(t, srv.PID())
	t.Logf("1 GB printed in %v; server peak RSS %d MB before, %d MB after", took, before>>20, after>>20)
	if after-before > floodBound {
		t.Errorf("the server's peak memory grew by %d MB printing 1 GB, bound %d MB", (after-before)>>20, floodBound>>20)
	}
	tailB, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	tail := string(tailB)
	if !strings.Contains(tail, "[aloft] Log output truncated: ") || !strings.Contains(tail, "REPORT RequestId:") {
		t.Errorf("the log tail does not say the output was truncated:\n%.600s", tail)
	}
	// The server still serves.
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("flood"), Payload: []byte(`{"lines":1}`)}); err != nil {
		t.Fatal(err)
	}
}

// vmHWM returns the peak resident memory of process pid in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
