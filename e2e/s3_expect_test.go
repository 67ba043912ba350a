package e2e

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestS3Expect sends S3 requests with Expect values other than
// 100-continue, which S3 ignores and serves, and checks that
// 100-continue keeps its interim response and that a signature over the
// expect header still verifies.
func TestS3Expect(t *testing.T) {
	e := newS3Env(t)
	e.bucket(t, "expect")
	body := []byte("a body that holds a head:\r\nExpect: 101-continue\r\n\r\n")

	t.Run("101-continue", func(t *testing.T) {
		status, _, resp := e.raw(t, "PUT", "/expect/101", body, map[string]string{"Expect": "101-continue"})
		if status != 200 {
			t.Fatalf("Expect: 101-continue answered %d %s", status, resp)
		}
		if got, _ := e.get(t, "expect", "101"); !bytes.Equal(got, body) {
			t.Fatalf("stored %q", got)
		}
	})

	t.Run("100-CONTINUE", func(t *testing.T) {
		status, _, resp := e.raw(t, "PUT", "/expect/upper", body, map[string]string{"Expect": "100-CONTINUE"})
		if status != 200 {
			t.Fatalf("Expect: 100-CONTINUE answered %d %s", status, resp)
		}
		if got, _ := e.get(t, "expect", "upper"); !bytes.Equal(got, body) {
			t.Fatalf("stored %q", got)
		}
	})

	t.Run("signed expect", func(t *testing.T) {
		status, _, resp := signedExpect(t, e.srv, "/expect/signed", body, "101-continue", "101-continue")
		if status != 200 {
			t.Fatalf("expect in SignedHeaders answered %d %s", status, resp)
		}
		if got, _ := e.get(t, "expect", "signed"); !bytes.Equal(got, body) {
			t.Fatalf("stored %q", got)
		}
		// The value the signature covers is the one sent.
		status, hdr, resp := signedExpect(t, e.srv, "/expect/forged", body, "101-continue", "102-continue")
		wantXMLError(t, status, hdr, resp, 403, "SignatureDoesNotMatch")
		e.absent(t, "expect", "forged")
	})

	t.Run("100-continue interim response", func(t *testing.T) {
		conn, rd := rawConn(t, e.srv)
		head := signedHead(t, e.srv, "PUT", "/expect/continue", body, map[string]string{"Expect": "100-continue"})
		if _, err := conn.Write(head); err != nil {
			t.Fatal(err)
		}
		// The body is not sent until the server asks for it.
		line, err := rd.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("first response line %q, %v", line, err)
		}
		if blank, _ := rd.ReadString('\n'); blank != "\r\n" {
			t.Fatalf("after 100 Continue: %q", blank)
		}
		if _, err := conn.Write(body); err != nil {
			t.Fatal(err)
		}
		if status, resp := readResponse(t, rd, "PUT"); status != 200 {
			t.Fatalf("after 100 Continue: %d %s", status, resp)
		}
		if got, _ := e.get(t, "expect", "continue"); !bytes.Equal(got, body) {
			t.Fatalf("stored %q", got)
		}
	})

	t.Run("pipelined", func(t *testing.T) {
		// Three requests written at once on one connection: the bodies,
		// which hold Expect lines of their own, are left alone.
		conn, rd := rawConn(t, e.srv)
		var all []byte
		all = append(all, signedHead(t, e.srv, "PUT", "/expect/p1", body, map[string]string{"Expect": "201"})...)
		all = append(all, body...)
		all = append(all, signedHead(t, e.srv, "PUT", "/expect/p2", body, map[string]string{"Expect": "100-continue, x"})...)
		all = append(all, body...)
		all = append(all, signedHead(t, e.srv, "GET", "/expect/p1", nil, map[string]string{"Expect": "z"})...)
		if _, err := conn.Write(all); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"p1", "p2"} {
			if status, resp := readResponse(t, rd, "PUT"); status != 200 {
				t.Fatalf("PUT %s: %d %s", key, status, resp)
			}
		}
		if status, resp := readResponse(t, rd, "GET"); status != 200 || resp != string(body) {
			t.Fatalf("GET p1: %d %q", status, resp)
		}
		if got, _ := e.get(t, "expect", "p2"); !bytes.Equal(got, body) {
			t.Fatalf("p2 stored %q", got)
		}
	})
}

// rawConn opens a TCP connection to the server's API listener.
func rawConn(t *testing.T, srv *alofttest.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return conn, bufio.NewReader(conn)
}

// signedHead is the head of a request signed for S3 with the SDK's
// signer (which leaves Expect out), with a Content-Length for body.
func signedHead(t *testing.T, srv *alofttest.Server, method, path string, body []byte, hdr map[string]string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	signS3(t, req, hash)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, req.URL.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// readResponse reads the next final response from rd, skipping an
// interim 100 Continue.
func readResponse(t *testing.T, rd *bufio.Reader, method string) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(rd, &http.Request{Method: method})
	if err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(rd, &http.Request{Method: method})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// signedExpect PUTs body with an Expect header of value sent, signed
// with SigV4 over host, expect (as the value signed), x-amz-content-sha256
// and x-amz-date.
func signedExpect(t *testing.T, srv *alofttest.Server, path string, body []byte, signed, sent string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("PUT", srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	now := time.Now().UTC()
	amzDate := now.Format("20060102T150405Z")
	headers := map[string]string{"host": req.URL.Host, "expect": signed, "x-amz-content-sha256": hash, "x-amz-date": amzDate}
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var canon strings.Builder
	canon.WriteString("PUT\n" + path + "\n\n")
	for _, k := range names {
		canon.WriteString(k + ":" + headers[k] + "\n")
	}
	signedHeaders := strings.Join(names, ";")
	canon.WriteString("\n" + signedHeaders + "\n" + hash)
	csum := sha256.Sum256([]byte(canon.String()))
	mac := func(k []byte, s string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(s)); return h.Sum(nil) }
	day := now.Format("20060102")
	scope := day + "/" + alofttest.Region + "/s3/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(csum[:])
	k := mac(mac(mac(mac([]byte("AWS4"+alofttest.SecretAccessKey), day), alofttest.Region), "s3"), "aws4_request")
	req.Header.Set("Expect", sent)
	req.Header.Set("X-Amz-Content-Sha256", hash)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+alofttest.AccessKeyID+"/"+scope+
		", SignedHeaders="+signedHeaders+", Signature="+hex.EncodeToString(mac(k, sts)))
	return do(t, req)
}
