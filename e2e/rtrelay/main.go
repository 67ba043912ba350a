// Command rtrelay is the least a server can do to put a function behind
// the Lambda Runtime API: it hands each POST /invoke body to the function's
// waiting GET .../invocation/next and answers with what the function posts
// to .../response (or .../error). It has no signatures, registry, scheduling, metering or
// logs, so a benchmark can measure what the protocol's exchanges cost on a
// machine, apart from anything the platform adds. It prints its address
// on stdout and serves one function process, one invocation at a time.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// call is one invocation on its way to the function and back.
type call struct {
	id      string
	payload []byte
	done    chan []byte
}

type relay struct {
	work chan *call
	mu   sync.Mutex
	cur  *call
	seq  int
}

const (
	nextPath  = "/2018-06-01/runtime/invocation/next"
	invPrefix = "/2018-06-01/runtime/invocation/"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtrelay:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	r := &relay{work: make(chan *call)}
	fmt.Fprintln(os.Stderr, "rtrelay:", http.Serve(ln, r))
	os.Exit(1)
}

func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/health":
		w.Write([]byte(`{"status":"ok"}`))
	case p == "/invoke":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		rl.mu.Lock()
		rl.seq++
		c := &call{id: strconv.Itoa(rl.seq), payload: body, done: make(chan []byte, 1)}
		rl.mu.Unlock()
		rl.work <- c
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Write(<-c.done)
	case p == nextPath:
		c := <-rl.work
		rl.mu.Lock()
		rl.cur = c
		rl.mu.Unlock()
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Lambda-Runtime-Aws-Request-Id"] = []string{c.id}
		h["Lambda-Runtime-Deadline-Ms"] = []string{strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)}
		h["Lambda-Runtime-Invoked-Function-Arn"] = []string{"arn:aws:lambda:us-east-1:000000000000:function:relay"}
		w.Write(c.payload)
	case strings.HasPrefix(p, invPrefix) && r.Method == http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		rl.mu.Lock()
		c := rl.cur
		rl.cur = nil
		rl.mu.Unlock()
		if c == nil || (p != invPrefix+c.id+"/response" && p != invPrefix+c.id+"/error") {
			http.Error(w, "unknown request id", http.StatusBadRequest)
			return
		}
		c.done <- body
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}
