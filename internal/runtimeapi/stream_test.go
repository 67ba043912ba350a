package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Sink that keeps what it is given and signals each piece.
type recorder struct {
	mu     sync.Mutex
	ctype  string
	starts int
	body   bytes.Buffer
	got    chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1024)} }

func (r *recorder) Start(ct string) error {
	r.mu.Lock()
	r.ctype, r.starts = ct, r.starts+1
	r.mu.Unlock()
	return nil
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.body.Write(p)
	r.mu.Unlock()
	r.got <- struct{}{}
	return len(p), nil
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.String()
}

// postStream posts a streamed response whose body is written by fill,
// with the trailers fill sets.
func postStream(t *testing.T, s *testServer, id, ctype string, fill func(w io.Writer, tr http.Header)) *http.Response {
	t.Helper()
	pr, pw := io.Pipe()
	tr := http.Header{ErrorTypeHeader: nil, ErrorBodyHeader: nil}
	req, _ := http.NewRequest("POST", "http://"+s.Addr()+"/2018-06-01/runtime/invocation/"+id+"/response", pr)
	req.Header.Set(ResponseModeHeader, StreamingMode)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Trailer = tr
	go func() {
		fill(pw, tr)
		pw.Close()
	}()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestStreamArrivesAsSent(t *testing.T) {
	s := start(t)
	rec := newRecorder()
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		r := postStream(t, s, id, "text/plain", func(w io.Writer, tr http.Header) {
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				select { // the next part only once this one has reached the sink
				case <-rec.got:
				case <-time.After(5 * time.Second):
					t.Errorf("part %d did not reach the sink while the stream was open", i)
					return
				}
			}
		})
		if r != nil && r.StatusCode != http.StatusAccepted {
			t.Errorf("got %d, want 202", r.StatusCode)
		}
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "s1", Deadline: time.Now().Add(5 * time.Second), Stream: rec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error || !res.Streamed || res.Payload != nil {
		t.Fatalf("got %+v, want a streamed success", res)
	}
	if got := rec.String(); got != "part0;part1;part2;" || rec.ctype != "text/plain" || rec.starts != 1 {
		t.Fatalf("sink got %q (type %q, %d starts)", got, rec.ctype, rec.starts)
	}
}

func TestStreamErrorTrailers(t *testing.T) {
	s := start(t)
	rec := newRecorder()
	doc := `{"errorType":"Error","errorMessage":"half way"}`
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		postStream(t, s, id, "", func(w io.Writer, tr http.Header) {
			io.WriteString(w, "before")
			tr.Set(ErrorTypeHeader, "Error")
			tr.Set(ErrorBodyHeader, base64.StdEncoding.EncodeToString([]byte(doc)))
		})
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "s2", Deadline: time.Now().Add(5 * time.Second), Stream: rec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Error || !res.Streamed || res.ErrorType != "Error" || string(res.Payload) != doc {
		t.Fatalf("got %+v (payload %s)", res, res.Payload)
	}
	if rec.String() != "before" || rec.ctype != DefaultStreamType {
		t.Fatalf("sink got %q of %q", rec.String(), rec.ctype)
	}
}

func TestStreamWithoutSinkIsBuffered(t *testing.T) {
	s := start(t)
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		postStream(t, s, id, "", func(w io.Writer, tr http.Header) {
			io.WriteString(w, "a")
			io.WriteString(w, "b")
		})
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "s3", Deadline: time.Now().Add(5 * time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error || res.Streamed || string(res.Payload) != "ab" {
		t.Fatalf("got %+v", res)
	}
}

func TestStreamTooLarge(t *testing.T) {
	s := start(t)
	var n countSink
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		r := postStream(t, s, id, "", func(w io.Writer, tr http.Header) {
			block := make([]byte, 1<<20)
			for range 21 {
				if _, err := w.Write(block); err != nil {
					return
				}
			}
		})
		if r != nil && r.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("got %d, want 413", r.StatusCode)
		}
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "s4", Deadline: time.Now().Add(10 * time.Second), Stream: &n}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Error || res.ErrorType != "Function.ResponseSizeTooLarge" || !res.Streamed {
		t.Fatalf("got %+v", res)
	}
	if n.n != MaxStreamedResponse {
		t.Fatalf("sink got %d bytes, want exactly %d", n.n, MaxStreamedResponse)
	}
}

type countSink struct{ n int }

func (c *countSink) Start(string) error          { return nil }
func (c *countSink) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// A runtime whose connection breaks part way through a stream fails the
// invocation; it does not hang until the deadline.
func TestStreamInterrupted(t *testing.T) {
	s := start(t)
	rec := newRecorder()
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintf(c, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\n%s: streaming\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", id, ResponseModeHeader)
		<-rec.got
		c.Close()
	})
	t0 := time.Now()
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "s5", Deadline: time.Now().Add(time.Minute), Stream: rec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Error || res.ErrorType != "Runtime.Unknown" || !strings.Contains(string(res.Payload), "broke") {
		t.Fatalf("got %+v", res)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
	if rec.String() != "hello" {
		t.Fatalf("sink got %q", rec.String())
	}
}

// Once Invoke gives up on a call (its deadline), nothing more reaches the
// sink, though the runtime goes on writing.
func TestStreamCutAtDeadline(t *testing.T) {
	s := start(t)
	rec := newRecorder()
	stop := make(chan struct{})
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		postStream(t, s, id, "", func(w io.Writer, tr http.Header) {
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if _, err := io.WriteString(w, "x"); err != nil {
					return
				}
			}
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.Invoke(ctx, &Invocation{RequestID: "s6", Deadline: time.Now().Add(time.Second), Stream: rec}, nil)
	if err != context.DeadlineExceeded {
		t.Fatalf("got %v, want the deadline", err)
	}
	before := rec.String()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	if after := rec.String(); after != before || before == "" {
		t.Fatalf("sink got %q before the cut and %q after", before, after)
	}
}
