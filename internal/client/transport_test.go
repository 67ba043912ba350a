package client

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// closedBody is a request body whose WriteTo fails as a closed SDK body's
// does, while Read gives its bytes and then io.EOF.
type closedBody struct{ r *bytes.Reader }

func (b *closedBody) Read(p []byte) (int, error)       { return b.r.Read(p) }
func (b *closedBody) WriteTo(io.Writer) (int64, error) { return 0, io.EOF }
func (b *closedBody) Close() error                     { return nil }

// TestSequentialBodies sends requests whose body fails WriteTo and reads
// long answers whole through SequentialBodies; the bare transport loses
// them.
func TestSequentialBodies(t *testing.T) {
	answer := strings.Repeat("x", 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	send := func(rt http.RoundTripper) error {
		body := []byte(`{"a":1}`)
		req, _ := http.NewRequest("POST", srv.URL, &closedBody{bytes.NewReader(body)})
		req.ContentLength = int64(len(body))
		resp, err := (&http.Client{Transport: rt}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err == nil && len(got) != len(answer) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	bare := &http.Transport{}
	failed := 0
	for range 20 {
		if send(bare) != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("the bare transport read every answer: the failure this guards against did not happen")
	}
	for i := range 20 {
		if err := send(SequentialBodies(&http.Transport{})); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}
