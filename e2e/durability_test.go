package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestRestartKeepsFunctions stops the server cleanly, then kills it with
// SIGKILL, and checks that functions, their code and their logs survive.
func TestRestartKeepsFunctions(t *testing.T) {
	srv := alofttest.Start(t)
	goRC, py := runtimeCases()[0], runtimeCases()[1]
	create(t, srv.Lambda(), "keep-go", goRC, goRC.code(t, "v1"))
	create(t, srv.Lambda(), "keep-py", py, py.code(t, "v1"))
	invoke(t, srv.Lambda(), "keep-py", `{"op":"print","text":"before-restart"}`)

	srv.Restart() // SIGTERM, then start again on the same data dir
	for _, name := range []string{"keep-go", "keep-py"} {
		if a, _ := invoke(t, srv.Lambda(), name, `{}`); a.Calls != 1 || a.Version != "v1" {
			t.Fatalf("%s after restart got %+v", name, a)
		}
	}
	_, err := srv.Lambda().UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("keep-py"), MemorySize: aws.Int32(512)})
	if err != nil {
		t.Fatal(err)
	}

	srv.Kill() // SIGKILL: nothing acknowledged may be lost
	srv.Restart()
	got, err := srv.Lambda().GetFunctionConfiguration(ctxT(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("keep-py")})
	if err != nil || aws.ToInt32(got.MemorySize) != 512 {
		t.Fatalf("after SIGKILL got %+v, %v", got, err)
	}
	if a, _ := invoke(t, srv.Lambda(), "keep-go", `{}`); a.Runtime != "go" {
		t.Fatalf("keep-go after SIGKILL got %+v", a)
	}
	out, err := srv.Logs().FilterLogEvents(ctxT(t), &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String("/aws/lambda/keep-py"), FilterPattern: aws.String("before-restart")})
	if err != nil || len(out.Events) != 1 {
		t.Fatalf("logs after restarts got %+v, %v", out, err)
	}
}

// TestLogs reads function logs back through the CloudWatch Logs API.
func TestLogs(t *testing.T) {
	srv := alofttest.Start(t)
	c, logs := srv.Lambda(), srv.Logs()
	py := runtimeCases()[1]
	create(t, c, "logged", py, py.code(t, "v1"))
	start := time.Now().Add(-time.Minute).UnixMilli()
	a1, _ := invoke(t, c, "logged", `{"op":"print","text":"first line"}`)
	a2, _ := invoke(t, c, "logged", `{"op":"print","text":"second line"}`)

	group := aws.String("/aws/lambda/logged")
	var events []string
	deadline := time.Now().Add(10 * time.Second)
	for len(events) < 8 && time.Now().Before(deadline) {
		out, err := logs.FilterLogEvents(ctxT(t), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, StartTime: aws.Int64(start)})
		var missing *cwtypes.ResourceNotFoundException
		if errors.As(err, &missing) { // logs are stored after the invocation answers: the group may not exist yet
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		events = events[:0]
		for _, e := range out.Events {
			events = append(events, aws.ToString(e.Message))
		}
		time.Sleep(100 * time.Millisecond)
	}
	all := strings.Join(events, "\n")
	for _, want := range []string{
		"START RequestId: " + a1.RequestID + " Version: $LATEST", "first line", "END RequestId: " + a1.RequestID,
		"REPORT RequestId: " + a1.RequestID + "\tDuration: ", "Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: ",
		"START RequestId: " + a2.RequestID, "second line",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("logs lack %q:\n%s", want, all)
		}
	}
	if n := strings.Count(all, "Init Duration"); n != 1 {
		t.Errorf("Init Duration appears %d times, want 1:\n%s", n, all)
	}

	groups, err := logs.DescribeLogGroups(ctxT(t), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/log")})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToString(groups.LogGroups[0].LogGroupName) != "/aws/lambda/logged" {
		t.Fatalf("groups got %+v, %v", groups, err)
	}
	streams, err := logs.DescribeLogStreams(ctxT(t), &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group})
	if err != nil || len(streams.LogStreams) != 1 {
		t.Fatalf("streams got %+v, %v", streams, err)
	}
	stream := aws.ToString(streams.LogStreams[0].LogStreamName)
	if !strings.Contains(stream, "/[$LATEST]") || len(stream) != len("2006/01/02/[$LATEST]")+32 {
		t.Fatalf("stream name %q is not Lambda's shape", stream)
	}
	ev, err := logs.GetLogEvents(ctxT(t), &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)})
	if err != nil || len(ev.Events) < 8 {
		t.Fatalf("get events got %d, %v", len(ev.Events), err)
	}
	only, err := logs.FilterLogEvents(ctxT(t), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`"second line"`)})
	if err != nil || len(only.Events) != 1 || aws.ToString(only.Events[0].Message) != "second line" {
		t.Fatalf("filtered got %+v, %v", only, err)
	}
	_, err = logs.GetLogEvents(ctxT(t), &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/none"), LogStreamName: aws.String("x")})
	apiErr(t, err, "ResourceNotFoundException", 400)
}

// TestLogsSurviveStop invokes a function many times in a row and stops the
// server (SIGTERM) as soon as the last invocation has answered: the logs
// of every answered invocation are there after a restart, although the
// log writer was still gathering the last ones into a message. Killed
// (SIGKILL) instead, the server loses at most the logs of the last few
// milliseconds: killed 200 ms after the last answer, it has lost none.
func TestLogsSurviveStop(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := "stop"
		if kill {
			name = "kill"
		}
		t.Run(name, func(t *testing.T) {
			srv := alofttest.Start(t)
			c := srv.Lambda()
			gofn := runtimeCases()[0]
			create(t, c, "logged-stop", gofn, gofn.code(t, "v1"))
			const n = 100
			for i := range n {
				out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("logged-stop"),
					Payload: []byte(fmt.Sprintf(`{"op":"print","text":"line %d"}`, i))})
				if err != nil || out.FunctionError != nil {
					t.Fatalf("invoke %d: %v %v", i, err, out)
				}
			}
			if kill {
				time.Sleep(200 * time.Millisecond)
				srv.Kill()
			} else {
				srv.Stop()
			}
			srv.Restart()
			var all []string
			var token *string
			for {
				out, err := srv.Logs().FilterLogEvents(ctxT(t), &cloudwatchlogs.FilterLogEventsInput{
					LogGroupName: aws.String("/aws/lambda/logged-stop"), NextToken: token})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range out.Events {
					all = append(all, aws.ToString(e.Message))
				}
				if out.NextToken == nil {
					break
				}
				token = out.NextToken
			}
			for i := range n {
				if !slices.Contains(all, fmt.Sprintf("line %d", i)) {
					t.Errorf("invocation %d's output is missing", i)
				}
			}
			if got := strings.Count(strings.Join(all, "\n"), "REPORT RequestId: "); got != n {
				t.Errorf("%d REPORT lines, want %d", got, n)
			}
		})
	}
}
