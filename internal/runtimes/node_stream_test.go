package runtimes

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/function"
)

const nodeStreamHandler = `
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  switch (event.mode) {
  case 'url': {
    const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { 'X-A': 'b' } });
    out.write('a');
    await new Promise((r) => setTimeout(r, 5));
    out.write(Buffer.from('b'));
    out.end();
    return;
  }
  case 'fail':
    responseStream.write('part');
    throw new TypeError('broke after a part');
  case 'early':
    throw new RangeError('broke before writing');
  case 'unended':
    responseStream.setContentType('text/plain');
    responseStream.write('left open');
    return;
  }
});

// A handler that returns no promise ends when its stream does.
export const plain = awslambda.streamifyResponse((event, responseStream) => {
  setTimeout(() => { responseStream.write('later'); responseStream.end(); }, 20);
});
`

// The Node bootstrap posts a streamifyResponse handler's answer in the
// Runtime API's streaming mode, chunked, with the prelude of
// HttpResponseStream.from, and a failure part way in the trailers.
func TestNodeStreamifyResponse(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.mjs": nodeStreamHandler})
	p := startRuntime(t, f, function.Node, code, "index.handler")

	streamed := func(r fakeResult) {
		t.Helper()
		if r.Kind != "response" || r.Header.Get("Lambda-Runtime-Function-Response-Mode") != "streaming" ||
			len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			t.Fatalf("not a streamed post: %s %v %v", r.Kind, r.Header, r.TransferEncoding)
		}
	}

	f.invoke(`{"mode":"url"}`)
	r := f.result(t, p)
	streamed(r)
	want := `{"statusCode":201,"headers":{"X-A":"b"}}` + strings.Repeat("\x00", 8) + "ab"
	if string(r.Body) != want || r.Header.Get("Content-Type") != "application/vnd.awslambda.http-integration-response" {
		t.Fatalf("got %q of %q, want %q", r.Body, r.Header.Get("Content-Type"), want)
	}
	if r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "" {
		t.Fatalf("a success has error trailers: %v", r.Trailer)
	}

	f.invoke(`{"mode":"fail"}`)
	r = f.result(t, p)
	streamed(r)
	if string(r.Body) != "part" || r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "TypeError" {
		t.Fatalf("failure part way: %q, trailers %v", r.Body, r.Trailer)
	}
	doc, err := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
	var e struct{ ErrorType, ErrorMessage string }
	if err != nil || json.Unmarshal(doc, &e) != nil || e.ErrorType != "TypeError" || e.ErrorMessage != "broke after a part" {
		t.Fatalf("error body %q (%v)", doc, err)
	}

	f.invoke(`{"mode":"early"}`)
	if r = f.result(t, p); r.Kind != "error" || !strings.Contains(string(r.Body), "broke before writing") {
		t.Fatalf("failure before writing: %s %q", r.Kind, r.Body)
	}

	f.invoke(`{"mode":"unended"}`)
	r = f.result(t, p)
	streamed(r)
	if string(r.Body) != "left open" || r.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("a stream the handler left open: %q of %q", r.Body, r.Header.Get("Content-Type"))
	}

	// Still serving after all that.
	f.invoke(`{"mode":"url"}`)
	streamed(f.result(t, p))
}

func TestNodeStreamifyPlainHandler(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	code := writeFiles(t, map[string]string{"index.mjs": nodeStreamHandler})
	p := startRuntime(t, f, function.Node, code, "index.plain")
	f.invoke(`{}`)
	r := f.result(t, p)
	if r.Kind != "response" || string(r.Body) != "later" || r.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("got %s %q of %q", r.Kind, r.Body, r.Header.Get("Content-Type"))
	}
}
