// Command hangup is a custom runtime, written without aws-lambda-go, that
// takes an invocation and then hangs up on the Runtime API in the middle of
// posting its response, then waits: a misbehaving runtime the platform
// must survive.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	for {
		resp, err := http.Get("http://" + api + "/2018-06-01/runtime/invocation/next")
		if err != nil {
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		conn, err := net.Dial("tcp", api)
		if err != nil {
			os.Exit(1)
		}
		// Promise a body, send half of it, and close the connection.
		fmt.Fprintf(conn, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\n{\"half\":", id, api)
		conn.Close()
		time.Sleep(time.Hour)
	}
}
