package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// startRecord is the server's log record of an instance's start.
type startRecord struct {
	Msg      string  `json:"msg"`
	Function string  `json:"function"`
	Instance string  `json:"instance"` // the log stream
	Sandbox  float64 `json:"sandbox_ms"`
	Init     float64 `json:"init_ms"`
	Template bool    `json:"template"`
}

// instanceStarts returns the starts of function name's instances the
// server has logged since its log had length from.
func instanceStarts(srv *alofttest.Server, name string, from int) []startRecord {
	var out []startRecord
	for _, line := range strings.Split(srv.Log()[from:], "\n") {
		var rec startRecord
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "instance started" && rec.Function == name {
			out = append(out, rec)
		}
	}
	return out
}

// startedFromTemplate returns, by log stream, whether each instance of
// function name the server has started since its log had length from came
// from a template process.
func startedFromTemplate(srv *alofttest.Server, name string, from int) map[string]bool {
	out := map[string]bool{}
	for _, rec := range instanceStarts(srv, name, from) {
		out[rec.Instance] = rec.Template
	}
	return out
}

// TestTemplateStarts checks that Python and Node.js instances start from
// template processes prepared in their sandboxes once a runtime has been
// used, that such an instance is the function's in every respect
// (environment, context, output in its own log), and that a function whose
// variables act on the interpreter's start never gets one.
func TestTemplateStarts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("template processes are kept by the linux sandbox, which needs root: run the suite as root, as CI does")
	}
	srv := alofttest.Start(t, "--sandbox", "linux")
	c := srv.Lambda()
	for _, rc := range runtimeCases()[1:] {
		t.Run(rc.name, func(t *testing.T) {
			name := "tmpl-" + rc.name
			create(t, c, name, rc, rc.code(t, "v1"), func(in *lambda.CreateFunctionInput) {
				in.MemorySize = aws.Int32(256)
				in.Environment = &types.Environment{Variables: map[string]string{"GREETING": "hello"}}
			})
			from := len(srv.Log())
			invoke(t, c, name, `{}`) // the runtime's first start: nothing prepared yet

			// Retire the instance until a start comes from a template.
			var a answer
			var out *lambda.InvokeOutput
			templated := false
			for i := 0; i < 40 && !templated; i++ {
				_, err := c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{
					FunctionName: aws.String(name), Description: aws.String(fmt.Sprint("revision ", i)),
				})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(250 * time.Millisecond)
				a, out = invoke(t, c, name, `{"op":"print","text":"printed by a template"}`)
				templated = startedFromTemplate(srv, name, from)[a.Instance]
			}
			if !templated {
				t.Fatalf("no instance of %s started from a template: %v", name, startedFromTemplate(srv, name, from))
			}
			if out.FunctionError != nil {
				t.Fatalf("function error: %s", out.Payload)
			}
			if a.Greeting != "hello" || a.Function != name || a.Memory != 256 || a.Region != "us-east-1" || a.TaskRoot == "" || a.Version != "v1" {
				t.Errorf("the templated instance sees %+v", a)
			}
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			if !strings.Contains(string(tail), "printed by a template") || !strings.Contains(string(tail), "Init Duration") {
				t.Errorf("log tail of the templated cold start:\n%s", tail)
			}
			// Warm invocations keep working on it.
			if b, _ := invoke(t, c, name, `{}`); b.Instance != a.Instance || b.Calls != a.Calls+1 {
				t.Errorf("warm invocation: %+v after %+v", b, a)
			}

			// Variables read at the interpreter's start rule templates out.
			name += "-own"
			startVar := map[string]string{"python": "PYTHONOPTIMIZE", "node": "NODE_OPTIONS"}[rc.name]
			startVal := map[string]string{"python": "1", "node": "--no-warnings"}[rc.name]
			create(t, c, name, rc, rc.code(t, "v1"), func(in *lambda.CreateFunctionInput) {
				in.Environment = &types.Environment{Variables: map[string]string{startVar: startVal}}
			})
			from = len(srv.Log())
			for i := 0; i < 3; i++ {
				_, err := c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{
					FunctionName: aws.String(name), Description: aws.String(fmt.Sprint("revision ", i)),
				})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(250 * time.Millisecond)
				invoke(t, c, name, `{}`)
			}
			starts := startedFromTemplate(srv, name, from)
			if len(starts) != 3 {
				t.Fatalf("%d starts logged, want 3", len(starts))
			}
			for stream, tmpl := range starts {
				if tmpl {
					t.Errorf("instance %s of a function setting %s started from a template", stream, startVar)
				}
			}
		})
	}
}
