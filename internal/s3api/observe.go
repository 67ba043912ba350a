package s3api

import (
	"io"
	"net/http"
	"strings"
)

// metered notes the status and the body bytes of an answer, for
// Deps.Observe.
type metered struct {
	http.ResponseWriter
	code    int
	in, out int64
	body    countingBody
}

func (m *metered) WriteHeader(code int) {
	if m.code == 0 {
		m.code = code
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *metered) Write(b []byte) (int, error) {
	if m.code == 0 {
		m.code = http.StatusOK
	}
	n, err := m.ResponseWriter.Write(b)
	m.out += int64(n)
	return n, err
}

// ReadFrom keeps the server's copy from a file (sendfile) for objects.
func (m *metered) ReadFrom(r io.Reader) (int64, error) {
	if m.code == 0 {
		m.code = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := m.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{m.ResponseWriter}, r)
	}
	m.out += n
	return n, err
}

// Unwrap gives http.ResponseController the writer underneath.
func (m *metered) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// countingBody counts the bytes read from a request's body.
type countingBody struct {
	io.ReadCloser
	n *int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	*c.n += int64(n)
	return n, err
}

// operation names the operation of an IAM action (s3:GetObject is
// GetObject), "unknown" for none.
func operation(action string) string {
	if op, ok := strings.CutPrefix(action, "s3:"); ok && op != "" {
		return op
	}
	return "unknown"
}
