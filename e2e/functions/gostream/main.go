// Command gostream is a custom runtime, written without aws-lambda-go,
// that streams its responses through the Runtime API's streaming mode:
// a chunked POST with Lambda-Runtime-Function-Response-Mode: streaming,
// and a failure told in the trailers. The event says what to send:
//
//	{"chunks": n, "pauseMs": ms}  n lines, pausing after each
//	{"bytes": n}                  n zero bytes, in 64 KiB writes
//	{"fail": true}                end with an error in the trailers
//	{"crash": true}               exit part way through the stream
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

type event struct {
	Chunks  int  `json:"chunks"`
	PauseMs int  `json:"pauseMs"`
	Bytes   int  `json:"bytes"`
	Fail    bool `json:"fail"`
	Crash   bool `json:"crash"`
}

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(api + "next")
		if err != nil {
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var ev event
		json.Unmarshal(body, &ev)
		stream(api+id+"/response", ev)
	}
}

func stream(url string, ev event) {
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, url, pr)
	req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
	req.Header.Set("Content-Type", "text/plain")
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	go func() {
		for i := range ev.Chunks {
			fmt.Fprintf(pw, "line %d\n", i)
			time.Sleep(time.Duration(ev.PauseMs) * time.Millisecond)
			if ev.Crash {
				os.Exit(3)
			}
		}
		block := make([]byte, 64<<10)
		for left := ev.Bytes; left > 0; left -= len(block) {
			if _, err := pw.Write(block[:min(left, len(block))]); err != nil {
				break
			}
		}
		if ev.Fail {
			doc, _ := json.Marshal(map[string]string{"errorType": "Custom.Failure", "errorMessage": "gave up after the lines"})
			req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Custom.Failure")
			req.Trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString(doc))
		}
		pw.Close()
	}()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe) // a refused stream (too large) stops the writer
}
