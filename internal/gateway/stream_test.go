package gateway

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
)

func newTestStream() (*urlStream, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	h := NewHandler(Deps{})
	x := &exchange{w: rec, reqID: "req-1", idKey: "X-Amzn-Requestid", traceH: "Root=1-0-0"}
	s := newURLStream(h, x)
	s.attach(&invoke.Invocation{Config: &function.Config{Timeout: 3}})
	return s, rec
}

// A prelude split across pieces, and ended in the middle of one, sets the
// status and headers; what follows it is the body.
func TestURLStreamPrelude(t *testing.T) {
	s, rec := newTestStream()
	if err := s.Start(integrationType); err != nil || s.started {
		t.Fatalf("start: %v (started %v)", err, s.started)
	}
	for _, p := range []string{`{"statusCode":20`, `3,"headers":{"X-A":"b"},"cookies":["c=1"]}` + "\x00\x00\x00", "\x00\x00\x00\x00\x00hello", " world"} {
		if n, err := s.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("write %q: %d, %v", p, n, err)
		}
	}
	if rec.Code != 203 || rec.Header().Get("X-A") != "b" || rec.Header().Get("Set-Cookie") != "c=1" ||
		rec.Header().Get("Content-Type") != "application/octet-stream" || rec.Header().Get("X-Amzn-Requestid") != "req-1" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	if rec.Body.String() != "hello world" || !rec.Flushed {
		t.Fatalf("body %q (flushed %v)", rec.Body.String(), rec.Flushed)
	}
	if !s.end("fn", &invoke.Response{Streamed: true}, nil) {
		t.Fatal("a stream that was sent is answered")
	}
}

func TestURLStreamPlainType(t *testing.T) {
	s, rec := newTestStream()
	s.Start("text/csv")
	s.Write([]byte("a,b\n"))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv" || rec.Body.String() != "a,b\n" {
		t.Fatalf("status %d, headers %v, body %q", rec.Code, rec.Header(), rec.Body.String())
	}
}

// A prelude that cannot be used is refused, and the answer is a 502 that
// says why.
func TestURLStreamBadPrelude(t *testing.T) {
	for _, pre := range []string{`{"statusCode":42}`, `not json`} {
		s, rec := newTestStream()
		s.Start(integrationType)
		if _, err := s.Write([]byte(pre + "\x00\x00\x00\x00\x00\x00\x00\x00body")); !errors.Is(err, errPrelude) {
			t.Fatalf("%s: got %v", pre, err)
		}
		if !s.end("fn", &invoke.Response{Streamed: true}, nil) || rec.Code != 502 {
			t.Fatalf("%s: status %d, body %s", pre, rec.Code, rec.Body)
		}
	}
	s, _ := newTestStream()
	s.Start(integrationType)
	big := make([]byte, maxPrelude+1)
	for i := range big {
		big[i] = ' '
	}
	if _, err := s.Write(big); !errors.Is(err, errPrelude) {
		t.Fatalf("an endless prelude: %v", err)
	}
}

// A function that does not stream is left to the buffered answer.
func TestURLStreamNotStreamed(t *testing.T) {
	s, _ := newTestStream()
	if s.end("fn", &invoke.Response{Payload: []byte(`{"statusCode":200}`)}, nil) {
		t.Fatal("a whole answer was taken as a stream")
	}
}
