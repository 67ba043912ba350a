package client

import (
	"io"
	"net/http"
)

// SequentialBodies wraps a transport so that it reads each request body
// through Read alone.
//
// The AWS SDK for Go v2 closes a request's body as soon as the response
// arrives, and the closed body's WriteTo answers io.EOF as an error. The
// HTTP transport, having sent the body, asks the body once more (through
// WriteTo) whether anything is left; when a server on this machine
// answers before it asks, the transport takes the error for a failed
// write and closes the connection while the response is still being
// read, so a response longer than the first read (a few kilobytes)
// fails with "use of closed network connection". Read, unlike WriteTo,
// answers a closed body's io.EOF as the end it is.
func SequentialBodies(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return sequentialBodies{rt}
}

type sequentialBodies struct{ rt http.RoundTripper }

// readOnly hides every method of a body but Read and Close.
type readOnly struct{ io.ReadCloser }

func (s sequentialBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r2 := *r // a RoundTripper must not modify the request it is given
		r2.Body = readOnly{r.Body}
		r = &r2
	}
	return s.rt.RoundTrip(r)
}
