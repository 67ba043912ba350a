package fastpath

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"testing"
)

func takesAll(_, _ []byte) bool { return true }

// Whatever head parseHead takes, net/http reads the same request from:
// method, URL, Host, header, length and Close agree.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nContent-Length: 13\r\nX-Amz-Date: 20261206T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIA/20261206/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\r\n",
		"POST /a?b=c%20d HTTP/1.1\r\nhost: h\r\ncontent-length: 007\r\nx-a: \t v \t\r\nX-A: w\r\nConnection: keep-alive, close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n",
		"POST //x/../y HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: h\r\nx_y: 1\r\nÄ: 2\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		i := bytes.Index(data, headEnd)
		if i < 0 {
			return
		}
		data = data[:i+len(headEnd)]
		h, ok := parseHead(data, takesAll)
		if !ok {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("taken, but net/http refuses it: %v", err)
		}
		if r.Method != h.method || r.URL.String() != h.url.String() || r.RequestURI != h.target || r.Host != h.host {
			t.Errorf("request line: net/http %s %s %s %s, taken as %s %s %s %s", r.Method, r.URL, r.RequestURI, r.Host, h.method, h.url, h.target, h.host)
		}
		if !reflect.DeepEqual(r.Header, h.header) {
			t.Errorf("header: net/http %q, taken as %q", r.Header, h.header)
		}
		if r.ContentLength != h.length || r.Close != h.close {
			t.Errorf("length %d close %v, taken as %d %v", r.ContentLength, r.Close, h.length, h.close)
		}
	})
}
