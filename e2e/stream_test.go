package e2e

import (
	"bufio"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// streamedNode streams event.chunks lines, pausing event.pauseMs after
// each, then event.bytes zero bytes, and throws part way when event.fail
// is set.
const streamedNode = `
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  console.log('streaming', event.chunks, 'chunks');
  for (let i = 0; i < (event.chunks ?? 0); i++) {
    responseStream.write('chunk ' + i + '\n');
    await new Promise((r) => setTimeout(r, event.pauseMs ?? 0));
  }
  const block = Buffer.alloc(64 << 10);
  for (let n = 0; n < (event.bytes ?? 0); n += block.length) {
    if (!responseStream.write(block)) await new Promise((r) => responseStream.once('drain', r));
  }
  if (event.fail) throw new Error('failed half way');
  responseStream.end();
});
`

// urlNode answers a function URL with a prelude, then two pieces with a
// pause between them.
const urlNode = `
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const pause = Number(event.queryStringParameters?.pause ?? 0);
  const out = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'Content-Type': 'text/plain', 'X-Streamed': 'yes' },
    cookies: ['flavour=oat; Path=/'],
  });
  out.write('first\n');
  await new Promise((r) => setTimeout(r, pause));
  out.write('second\n');
  out.end();
});
`

// streamEvent is one event of an InvokeWithResponseStream answer, with
// when it arrived.
type streamEvent struct {
	at       time.Time
	chunk    []byte
	complete *types.InvokeWithResponseStreamCompleteEvent
}

// invokeStream calls InvokeWithResponseStream and reads every event.
func invokeStream(t *testing.T, c *lambda.Client, name, payload string) (*lambda.InvokeWithResponseStreamOutput, []streamEvent) {
	t.Helper()
	out, err := c.InvokeWithResponseStream(ctxT(t), &lambda.InvokeWithResponseStreamInput{
		FunctionName: aws.String(name), Payload: []byte(payload), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("InvokeWithResponseStream %s: %v", name, err)
	}
	st := out.GetStream()
	defer st.Close()
	var evs []streamEvent
	for ev := range st.Events() {
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			evs = append(evs, streamEvent{at: time.Now(), chunk: v.Value.Payload})
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			evs = append(evs, streamEvent{at: time.Now(), complete: &v.Value})
		default:
			t.Fatalf("unexpected event %T", ev)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream of %s: %v", name, err)
	}
	if len(evs) == 0 || evs[len(evs)-1].complete == nil {
		t.Fatalf("stream of %s did not end with InvokeComplete: %+v", name, evs)
	}
	for _, e := range evs[:len(evs)-1] {
		if e.complete != nil {
			t.Fatalf("InvokeComplete before the last event: %+v", evs)
		}
	}
	return out, evs
}

// body joins the chunks of evs.
func body(evs []streamEvent) string {
	var b strings.Builder
	for _, e := range evs {
		b.Write(e.chunk)
	}
	return b.String()
}

// TestResponseStreaming streams responses from a Node.js function
// (awslambda.streamifyResponse) and a Go custom runtime (the Runtime
// API's streaming mode) to the SDK's InvokeWithResponseStream reader, as
// they are written; a whole answer arrives as one chunk, failures part
// way come in InvokeComplete, and a stream is cut at 20 MiB.
func TestResponseStreaming(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	node := runtimeCase{runtime: "nodejs20.x", handler: "index.handler"}
	create(t, c, "nodestream", node, alofttest.ZipFiles(t, map[string]string{"index.mjs": streamedNode}))
	create(t, c, "gostream", runtimeCases()[0], alofttest.GoFunction(t, "e2e/functions/gostream", "v1"))
	create(t, c, "nodewhole", node, alofttest.ZipFiles(t, map[string]string{"index.mjs": `export const handler = async () => ({ hello: 'world' });`}))

	// The first chunk arrives while the function still sleeps: each of
	// the three lines is followed by 700 ms.
	for _, name := range []string{"nodestream", "gostream"} {
		invokeStream(t, c, name, `{"chunks":1,"pauseMs":0}`) // warm
		out, evs := invokeStream(t, c, name, `{"chunks":3,"pauseMs":700}`)
		want := "chunk 0\nchunk 1\nchunk 2\n"
		if name == "gostream" {
			want = "line 0\nline 1\nline 2\n"
		}
		if got := body(evs); got != want || len(evs) < 4 {
			t.Fatalf("%s: got %q in %d events, want %q in at least 3 chunks", name, got, len(evs), want)
		}
		done := evs[len(evs)-1]
		if ahead := done.at.Sub(evs[0].at); ahead < 1500*time.Millisecond {
			t.Fatalf("%s: the first chunk came only %v before the end; it was not streamed", name, ahead)
		}
		if done.complete.ErrorCode != nil {
			t.Fatalf("%s: InvokeComplete %+v", name, done.complete)
		}
		if aws.ToString(out.ExecutedVersion) != "$LATEST" || out.StatusCode != 200 {
			t.Fatalf("%s: executed version %q, status %d", name, aws.ToString(out.ExecutedVersion), out.StatusCode)
		}
		tail, err := base64.StdEncoding.DecodeString(aws.ToString(done.complete.LogResult))
		if err != nil || !strings.Contains(string(tail), "REPORT RequestId") {
			t.Fatalf("%s: log tail %q (%v)", name, tail, err)
		}
		t.Logf("%s: first chunk %v before InvokeComplete", name, evs[len(evs)-1].at.Sub(evs[0].at))
	}

	// Failures part way.
	_, evs := invokeStream(t, c, "nodestream", `{"chunks":1,"fail":true}`)
	if done := evs[len(evs)-1].complete; body(evs) != "chunk 0\n" || aws.ToString(done.ErrorCode) != "Error" || aws.ToString(done.ErrorDetails) != "failed half way" {
		t.Fatalf("node failure: %q then %+v", body(evs), done)
	}
	_, evs = invokeStream(t, c, "gostream", `{"chunks":2,"fail":true}`)
	if done := evs[len(evs)-1].complete; body(evs) != "line 0\nline 1\n" || aws.ToString(done.ErrorCode) != "Custom.Failure" || aws.ToString(done.ErrorDetails) != "gave up after the lines" {
		t.Fatalf("go failure: %q then %+v", body(evs), done)
	}
	// A runtime that exits part way ends the stream with its exit, at once.
	t0 := time.Now()
	_, evs = invokeStream(t, c, "gostream", `{"chunks":1,"pauseMs":300,"crash":true}`)
	if done := evs[len(evs)-1].complete; body(evs) != "line 0\n" || aws.ToString(done.ErrorCode) != "Runtime.ExitError" || time.Since(t0) > 4*time.Second {
		t.Fatalf("crash: %q then %q %q after %v", body(evs), aws.ToString(done.ErrorCode), aws.ToString(done.ErrorDetails), time.Since(t0))
	}

	// A function that answers whole: one chunk.
	_, evs = invokeStream(t, c, "nodewhole", `{}`)
	if len(evs) != 2 || string(evs[0].chunk) != `{"hello":"world"}` || evs[1].complete.ErrorCode != nil {
		t.Fatalf("whole answer: %+v", evs)
	}
	// Invoke of a streaming function buffers its stream.
	inv, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("gostream"), Payload: []byte(`{"chunks":2}`)})
	if err != nil || string(inv.Payload) != "line 0\nline 1\n" || inv.FunctionError != nil {
		t.Fatalf("Invoke of a streaming function: %q %v %v", inv.Payload, inv.FunctionError, err)
	}

	// 20 MiB and no more; the function goes on serving.
	for _, name := range []string{"gostream", "nodestream"} {
		_, evs = invokeStream(t, c, name, `{"bytes":22020096}`)
		if done := evs[len(evs)-1].complete; len(body(evs)) != 20<<20 || aws.ToString(done.ErrorCode) != "Function.ResponseSizeTooLarge" {
			t.Fatalf("%s: oversize stream: %d bytes then %q %q", name, len(body(evs)), aws.ToString(done.ErrorCode), aws.ToString(done.ErrorDetails))
		}
		if _, evs = invokeStream(t, c, name, `{"chunks":1}`); body(evs) != "line 0\n" && body(evs) != "chunk 0\n" {
			t.Fatalf("%s after an oversize stream: %q", name, body(evs))
		}
	}

	// Event invocations have no stream to answer with.
	_, err = c.InvokeWithResponseStream(ctxT(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("gostream"), InvocationType: "Event"})
	apiErr(t, err, "ValidationException", 400)
	_, err = c.InvokeWithResponseStream(ctxT(t), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("nosuch")})
	apiErr(t, err, "ResourceNotFoundException", 404)
}

// TestResponseStreamingTimeout cuts a stream at the function's timeout.
func TestResponseStreamingTimeout(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	node := runtimeCase{runtime: "nodejs20.x", handler: "index.handler"}
	create(t, c, "slowstream", node, alofttest.ZipFiles(t, map[string]string{"index.mjs": streamedNode}),
		func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(2) })
	t0 := time.Now()
	_, evs := invokeStream(t, c, "slowstream", `{"chunks":100,"pauseMs":300}`)
	t.Logf("the stream was cut after %v", time.Since(t0))
	done := evs[len(evs)-1].complete
	if !strings.HasPrefix(body(evs), "chunk 0\nchunk 1\n") || aws.ToString(done.ErrorCode) != "Sandbox.Timedout" ||
		!strings.Contains(aws.ToString(done.ErrorDetails), "Task timed out after 2.00 seconds") {
		t.Fatalf("timed out stream: %q then %+v", body(evs), done)
	}
}

// TestFunctionURLStreaming reads a RESPONSE_STREAM function URL piece by
// piece with net/http: the prelude's status, headers and cookies first,
// the first piece while the function still sleeps.
func TestFunctionURLStreaming(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	ctx := ctxT(t)
	node := runtimeCase{runtime: "nodejs20.x", handler: "index.handler"}
	create(t, c, "urlstream", node, alofttest.ZipFiles(t, map[string]string{"index.mjs": urlNode}))
	cfg, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlstream"),
		AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeResponseStream})
	if err != nil || cfg.InvokeMode != types.InvokeModeResponseStream {
		t.Fatalf("CreateFunctionUrlConfig: %+v %v", cfg, err)
	}
	m := functionURLPattern.FindStringSubmatch(aws.ToString(cfg.FunctionUrl))
	if m == nil {
		t.Fatalf("URL %q", aws.ToString(cfg.FunctionUrl))
	}
	got, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlstream")})
	if err != nil || got.InvokeMode != types.InvokeModeResponseStream {
		t.Fatalf("GetFunctionUrlConfig: %+v %v", got, err)
	}
	_, err = c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("urlstream"), InvokeMode: "SOMETIMES"})
	apiErr(t, err, "ValidationException", 400)
	u := srv.GatewayURL + "/_aloft/urls/" + m[1] + "/"
	call(t, "GET", u+"?pause=0", "", nil, nil).expect(t, 201, "first\nsecond\n") // warm

	req, _ := http.NewRequestWithContext(ctx, "GET", u+"?pause=1500", nil)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("X-Streamed") != "yes" || resp.Header.Get("Content-Type") != "text/plain" ||
		resp.Header.Get("Set-Cookie") != "flavour=oat; Path=/" || resp.Header.Get("X-Amzn-Requestid") == "" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	tFirst := time.Since(t0)
	if err != nil || first != "first\n" {
		t.Fatalf("first piece %q: %v", first, err)
	}
	rest, err := io.ReadAll(br)
	tAll := time.Since(t0)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest %q: %v", rest, err)
	}
	if tAll-tFirst < time.Second {
		t.Fatalf("first piece at %v, the rest at %v: not streamed", tFirst, tAll)
	}
	t.Logf("function URL: first piece after %v, the end after %v", tFirst, tAll)
}
