// Command rawrelay is the floor of what a Go server spends to put functions
// behind the Lambda Runtime API and an Invoke API: it starts N function
// processes, each with a Runtime API listener of its own, and hands each
// POST /2015-03-31/functions/fn-<i>/invocations body to function i's
// waiting GET .../invocation/next, then answers the caller with what the
// function posts to .../response. It parses no more HTTP/1.1 than those
// exchanges need, with no HTTP library, and checks no signature, writes no
// logs and meters nothing: its CPU per invocation is what the exchanges'
// system calls and Go's scheduler cost on a machine, apart from anything a
// platform adds. Its functions run in the SCHED_BATCH scheduling class and
// each on one CPU, taken in turn, as the linux sandbox runs them, unless
// -sched other leaves them in the default class on every CPU. It prints the
// address of its Invoke API on stdout.
//
// Usage: rawrelay [-functions N] [-sched batch|other] bootstrap
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/benchtest"
)

// call is one invocation on its way to a function and back; a caller's
// connection reuses its own.
type call struct {
	payload []byte
	answer  []byte
	done    chan struct{}
}

// function is one function process and the invocations waiting for it.
// Its runtime may send an invocation's response on another connection
// than the one its event came on, so the invocation under way is the
// function's, not a connection's.
type function struct {
	calls chan *call
	arn   string
	mu    sync.Mutex
	cur   *call // the invocation the runtime has, until it answers
	seq   int   // request ids handed out
}

// take waits for the next invocation and makes it current; it returns
// the invocation and its request id's number.
func (fn *function) take() (*call, int) {
	c := <-fn.calls
	fn.mu.Lock()
	defer fn.mu.Unlock()
	fn.cur = c
	fn.seq++
	return c, fn.seq
}

// answered returns the current invocation and clears it, or nil.
func (fn *function) answered() *call {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	c := fn.cur
	fn.cur = nil
	return c
}

const (
	invokePrefix = "/2015-03-31/functions/"
	invokeSuffix = "/invocations"
	nextPath     = "/2018-06-01/runtime/invocation/next"
)

var (
	notFound = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	accepted = []byte("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
)

func main() {
	n := flag.Int("functions", 16, "how many function processes to start")
	sched := flag.String("sched", "batch", "the functions' scheduling class: batch or other")
	flag.Parse()
	if flag.NArg() != 1 || *sched != "batch" && *sched != "other" {
		fmt.Fprintln(os.Stderr, "usage: rawrelay [-functions N] [-sched batch|other] bootstrap")
		os.Exit(2)
	}
	if err := run(*n, flag.Arg(0), *sched == "batch"); err != nil {
		fmt.Fprintln(os.Stderr, "rawrelay:", err)
		os.Exit(1)
	}
}

func run(n int, bootstrap string, batch bool) error {
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fns := make(map[string]*function, n)
	for i := range n {
		name := "fn-" + strconv.Itoa(i)
		fn := &function{calls: make(chan *call), arn: "arn:aws:lambda:us-east-1:000000000000:function:" + name}
		fns[name] = fn
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go accept(ln, func(c net.Conn) { serveRuntime(c, fn) })
		if _, err := benchtest.StartFunction(bootstrap, ln.Addr().String(), name, 1769, batch); err != nil {
			return err
		}
	}
	fmt.Println(front.Addr())
	accept(front, func(c net.Conn) { serveInvoke(c, fns) })
	return errors.New("listener closed")
}

func accept(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c)
	}
}

// head is what the relay reads of a request's header.
type head struct {
	method, path []byte
	length       int
	chunked      bool
}

// readHead reads a request line and header fields, keeping the method, the
// path and how the body is framed. The slices are valid until the next
// read from br.
func readHead(br *bufio.Reader, h *head, line []byte) ([]byte, error) {
	*h = head{length: -1}
	l, err := br.ReadSlice('\n')
	if err != nil {
		return line, err
	}
	line = append(line[:0], l...)
	sp := bytes.IndexByte(line, ' ')
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp < 0 || sp2 < 0 {
		return line, errors.New("bad request line")
	}
	h.method, h.path = line[:sp], rest[:sp2]
	for {
		l, err := br.ReadSlice('\n')
		if err != nil {
			return line, err
		}
		l = bytes.TrimRight(l, "\r\n")
		if len(l) == 0 {
			return line, nil
		}
		colon := bytes.IndexByte(l, ':')
		if colon < 0 {
			continue
		}
		k, v := l[:colon], bytes.TrimSpace(l[colon+1:])
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			h.length, err = strconv.Atoi(string(v))
			if err != nil {
				return line, err
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			h.chunked = bytes.EqualFold(v, []byte("chunked"))
		}
	}
}

// readBody reads the body h frames into buf.
func readBody(br *bufio.Reader, h *head, buf []byte) ([]byte, error) {
	if h.chunked {
		b := bytes.NewBuffer(buf[:0])
		if _, err := b.ReadFrom(httputil.NewChunkedReader(br)); err != nil {
			return nil, err
		}
		for { // trailer fields, up to an empty line
			l, err := br.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			if len(bytes.TrimRight(l, "\r\n")) == 0 {
				return b.Bytes(), nil
			}
		}
	}
	if h.length <= 0 {
		return buf[:0], nil
	}
	if cap(buf) < h.length {
		buf = make([]byte, h.length)
	}
	buf = buf[:h.length]
	_, err := io.ReadFull(br, buf)
	return buf, err
}

// serveInvoke answers a caller's invocations, one at a time.
func serveInvoke(c net.Conn, fns map[string]*function) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	cl := &call{done: make(chan struct{}, 1)}
	var h head
	var line, out []byte
	for {
		var err error
		if line, err = readHead(br, &h, line); err != nil {
			return
		}
		if cl.payload, err = readBody(br, &h, cl.payload); err != nil {
			return
		}
		p := h.path
		var fn *function
		if bytes.HasPrefix(p, []byte(invokePrefix)) && bytes.HasSuffix(p, []byte(invokeSuffix)) {
			fn = fns[string(p[len(invokePrefix):len(p)-len(invokeSuffix)])]
		}
		if fn == nil {
			c.Write(notFound)
			continue
		}
		fn.calls <- cl
		<-cl.done
		out = append(out[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(cl.answer)), 10)
		out = append(out, "\r\n\r\n"...)
		out = append(out, cl.answer...)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// serveRuntime serves a function's Runtime API connection: an event for
// each GET .../next, and the caller's answer (then the runtime's 202) for
// each POST .../response or .../error.
func serveRuntime(c net.Conn, fn *function) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	var h head
	var line, body, out []byte
	for {
		var err error
		if line, err = readHead(br, &h, line); err != nil {
			return
		}
		if body, err = readBody(br, &h, body); err != nil {
			return
		}
		switch {
		case bytes.Equal(h.method, []byte("GET")) && bytes.Equal(h.path, []byte(nextPath)):
			cur, seq := fn.take()
			out = append(out[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-"...)
			out = strconv.AppendInt(out, int64(seq), 10)
			out = append(out, "\r\nLambda-Runtime-Deadline-Ms: "...)
			out = strconv.AppendInt(out, time.Now().Add(time.Minute).UnixMilli(), 10)
			out = append(out, "\r\nLambda-Runtime-Invoked-Function-Arn: "...)
			out = append(out, fn.arn...)
			out = append(out, "\r\nContent-Length: "...)
			out = strconv.AppendInt(out, int64(len(cur.payload)), 10)
			out = append(out, "\r\n\r\n"...)
			out = append(out, cur.payload...)
			if _, err := c.Write(out); err != nil {
				return
			}
		case bytes.Equal(h.method, []byte("POST")):
			cur := fn.answered()
			if cur == nil {
				c.Write(notFound)
				continue
			}
			cur.answer = append(cur.answer[:0], body...)
			cur.done <- struct{}{}
			if _, err := c.Write(accepted); err != nil {
				return
			}
		default:
			c.Write(notFound)
		}
	}
}
