package lambdaapi

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

const (
	testCode    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	missingCode = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
	brokenCode  = "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13"
)

// codeEnv serves CodeLinks through the API server on a real listener.
func codeEnv(t *testing.T) (*CodeLinks, *clock, string) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	links := &CodeLinks{
		Key: []byte("0123456789abcdef0123456789abcdef"),
		Now: clk.Now,
		Zip: func(_ context.Context, codeHex string) ([]byte, error) {
			switch codeHex {
			case testCode, "other":
				return []byte("PK zip bytes"), nil
			case missingCode:
				return nil, function.Errorf(fault.NotFound, "NoSuchKey", "no code %s", codeHex)
			}
			return nil, errors.New("backbone unavailable")
		},
	}
	srv := httptest.NewServer(links)
	t.Cleanup(srv.Close)
	return links, clk, srv.URL
}

// s3ErrorBody is what a client reads from an S3 error.
type s3ErrorBody struct {
	Code, Message, Key, Expires, ServerTime, RequestId, HostId string
}

func fetch(t *testing.T, method, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// wantS3Error checks an S3 XML error and returns it.
func wantS3Error(t *testing.T, resp *http.Response, body string, status int, code, msg string) s3ErrorBody {
	t.Helper()
	var e s3ErrorBody
	if resp.StatusCode != status || xml.Unmarshal([]byte(body), &e) != nil || e.Code != code || e.Message != msg {
		t.Fatalf("got %d %s, want %d %s %q", resp.StatusCode, body, status, code, msg)
	}
	if e.RequestId == "" || e.RequestId != resp.Header.Get("X-Amz-Request-Id") || e.HostId != resp.Header.Get("X-Amz-Id-2") ||
		resp.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("error lacks S3's request ids or content type: %v %s", resp.Header, body)
	}
	return e
}

func TestCodeLinkExpiry(t *testing.T) {
	links, clk, base := codeEnv(t)
	start := clk.Now()
	link := links.URL(base, testCode)
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != CodePath+testCode {
		t.Fatalf("link path %s", u.Path)
	}
	if got, want := u.Query().Get("expires"), strconv.FormatInt(start.Add(10*time.Minute).Unix(), 10); got != want {
		t.Fatalf("link expires at %s, want %s (ten minutes)", got, want)
	}

	for _, tc := range []struct {
		name string
		at   time.Duration // after the link was made
		ok   bool
	}{
		{"at once", 0, true},
		{"nine minutes on", 9 * time.Minute, true},
		{"the last second", 10 * time.Minute, true},
		{"a second late", 10*time.Minute + time.Second, false},
		{"a day late", 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.set(start.Add(tc.at))
			resp, body := fetch(t, http.MethodGet, link)
			if tc.ok {
				if resp.StatusCode != http.StatusOK || body != "PK zip bytes" || resp.Header.Get("Content-Type") != "application/zip" {
					t.Fatalf("got %d %q %v, want the zip", resp.StatusCode, body, resp.Header)
				}
				return
			}
			e := wantS3Error(t, resp, body, http.StatusForbidden, "AccessDenied", "Request has expired")
			if e.Expires != "2026-03-01T12:10:00Z" || e.ServerTime != clk.Now().Format(time.RFC3339) {
				t.Fatalf("got Expires %q ServerTime %q", e.Expires, e.ServerTime)
			}
		})
	}
	// A link made later lives ten minutes from then.
	later := links.URL(base, testCode)
	clk.set(start.Add(19 * time.Minute))
	if resp, body := fetch(t, http.MethodGet, later); resp.StatusCode != http.StatusOK {
		t.Fatalf("a fresh link got %d %s", resp.StatusCode, body)
	}

	links.TTL = time.Minute
	short := links.URL(base, testCode)
	clk.set(clk.Now().Add(61 * time.Second))
	resp, body := fetch(t, http.MethodGet, short)
	wantS3Error(t, resp, body, http.StatusForbidden, "AccessDenied", "Request has expired")
}

func TestCodeLinkRefusals(t *testing.T) {
	links, clk, base := codeEnv(t)
	link := links.URL(base, testCode)
	u, _ := url.Parse(link)
	q := u.Query()
	exp, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
	with := func(edit func(q url.Values)) string {
		v := u.Query()
		edit(v)
		return base + u.Path + "?" + v.Encode()
	}
	other := links.URL(base, "other")
	otherQuery := other[strings.Index(other, "?"):]

	for _, tc := range []struct {
		name string
		url  string
	}{
		{"no token", with(func(v url.Values) { v.Del("token") })},
		{"no expiry", with(func(v url.Values) { v.Del("expires") })},
		{"forged token", with(func(v url.Values) { v.Set("token", strings.Repeat("0", 64)) })},
		{"token of another code", base + u.Path + otherQuery},
		{"expiry moved later", with(func(v url.Values) { v.Set("expires", strconv.FormatInt(exp+3600, 10)) })},
		{"expiry not a number", with(func(v url.Values) { v.Set("expires", "soon") })},
		{"two tokens", with(func(v url.Values) { v.Add("token", q.Get("token")) })},
		{"upper-case token", with(func(v url.Values) { v.Set("token", strings.ToUpper(q.Get("token"))) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := fetch(t, http.MethodGet, tc.url)
			wantS3Error(t, resp, body, http.StatusForbidden, "AccessDenied", "Access Denied")
		})
	}

	t.Run("HEAD", func(t *testing.T) {
		resp, body := fetch(t, http.MethodHead, link)
		if resp.StatusCode != http.StatusOK || body != "" || resp.ContentLength != int64(len("PK zip bytes")) {
			t.Fatalf("got %d %q length %d", resp.StatusCode, body, resp.ContentLength)
		}
	})
	t.Run("POST", func(t *testing.T) {
		resp, body := fetch(t, http.MethodPost, link)
		wantS3Error(t, resp, body, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	})
	t.Run("no such code", func(t *testing.T) {
		resp, body := fetch(t, http.MethodGet, links.URL(base, missingCode))
		if e := wantS3Error(t, resp, body, http.StatusNotFound, "NoSuchKey", "The specified key does not exist."); e.Key != missingCode {
			t.Fatalf("key %q", e.Key)
		}
	})
	t.Run("store failure", func(t *testing.T) {
		resp, body := fetch(t, http.MethodGet, links.URL(base, brokenCode))
		wantS3Error(t, resp, body, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	})
	t.Run("no key", func(t *testing.T) {
		keyless := &CodeLinks{Now: clk.Now, Zip: links.Zip}
		srv := httptest.NewServer(keyless)
		defer srv.Close()
		resp, body := fetch(t, http.MethodGet, keyless.URL(srv.URL, testCode))
		wantS3Error(t, resp, body, http.StatusForbidden, "AccessDenied", "Access Denied")
	})
}
