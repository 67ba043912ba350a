package console

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aloft-dev/aloft/internal/sigv4"
)

const (
	rootID     = "AKIAROOTROOTROOT0001"
	rootSecret = "root-secret-0000000000000000000000000000"
	host       = "127.0.0.1:4566"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a console over a front door that verifies signatures with
// internal/sigv4 and records what reached it.
type fixture struct {
	t     testing.TB
	c     *Console
	clock *clock
	mu    sync.Mutex
	got   []*http.Request
	body  [][]byte
	ids   []sigv4.Identity
	errs  []error
}

func newFixture(t *testing.T, mod ...func(*Deps)) *fixture {
	f := &fixture{t: t, clock: &clock{t: time.Now()}}
	keys := map[string]string{rootID: rootSecret}
	verifier := &sigv4.Verifier{Lookup: func(id string) (string, bool) { s, ok := keys[id]; return s, ok }, Now: f.clock.now}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, err := verifier.Verify(r, sigv4.PayloadHash(body))
		f.mu.Lock()
		f.got, f.body, f.ids, f.errs = append(f.got, r), append(f.body, body), append(f.ids, id), append(f.errs, err)
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "leak", Value: "x"})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Log-Result", "dGFpbA==")
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
		}
		io.WriteString(w, `{"ok":true}`)
	})
	d := Deps{
		Lookup: func(id string) (string, bool) { s, ok := keys[id]; return s, ok },
		SignIn: func(id string) (Identity, error) {
			return Identity{Name: "root", Credentials: aws.Credentials{AccessKeyID: id, SecretAccessKey: keys[id]}}, nil
		},
		API:       func() http.Handler { return api },
		Host:      host,
		Now:       f.clock.now,
		FailDelay: -1,
	}
	for _, m := range mod {
		m(&d)
	}
	f.c = New(d)
	return f
}

// do serves one request from the console's own origin.
func (f *fixture) do(method, path string, body string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://"+host+path, strings.NewReader(body))
	r.Header.Set("Origin", "http://"+host)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	return w
}

// signIn signs in as the root and returns the cookie and CSRF token.
func (f *fixture) signIn() (cookie, csrf string) {
	f.t.Helper()
	w := f.do("POST", "/console/api/signin", `{"AccessKeyId":"`+rootID+`","SecretAccessKey":"`+rootSecret+`"}`, map[string]string{"Content-Type": "application/json"})
	if w.Code != 200 {
		f.t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	var out struct{ Csrf string }
	json.Unmarshal(w.Body.Bytes(), &out)
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			return c.Value, out.Csrf
		}
	}
	f.t.Fatal("no session cookie")
	return "", ""
}

func TestSignInRefusesWrongKeys(t *testing.T) {
	f := newFixture(t)
	var msgs []string
	for _, tc := range []struct{ name, body, ct string }{
		{"wrong secret", `{"AccessKeyId":"` + rootID + `","SecretAccessKey":"nope"}`, "application/json"},
		{"unknown id", `{"AccessKeyId":"AKIANOBODY0000000000","SecretAccessKey":"` + rootSecret + `"}`, "application/json"},
		{"empty secret", `{"AccessKeyId":"` + rootID + `","SecretAccessKey":""}`, "application/json"},
		{"form, wrong secret", "AccessKeyId=" + rootID + "&SecretAccessKey=nope", "application/x-www-form-urlencoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do("POST", "/console/api/signin", tc.body, map[string]string{"Content-Type": tc.ct})
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", w.Code)
			}
			if len(w.Result().Cookies()) != 0 {
				t.Fatal("a refused sign-in set a cookie")
			}
			var e struct{ Code, Message string }
			json.Unmarshal(w.Body.Bytes(), &e)
			if e.Code != "InvalidCredentials" {
				t.Fatalf("code %q", e.Code)
			}
			msgs = append(msgs, e.Message)
		})
	}
	for _, m := range msgs {
		if m != msgs[0] {
			t.Fatalf("refusals differ (%q, %q): they must not tell which part was wrong", msgs[0], m)
		}
	}
	if f.c.sessions.len() != 0 {
		t.Fatal("a refused sign-in opened a session")
	}
}

func TestSignInWaitsOnRefusal(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.FailDelay = 80 * time.Millisecond })
	start := time.Now()
	f.do("POST", "/console/api/signin", `{"AccessKeyId":"x","SecretAccessKey":"y"}`, map[string]string{"Content-Type": "application/json"})
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("refusal after %v, want at least 80ms", d)
	}
}

func TestCookieFlags(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		f := newFixture(t)
		r := httptest.NewRequest("POST", "http://"+host+"/console/api/signin", strings.NewReader(`{"AccessKeyId":"`+rootID+`","SecretAccessKey":"`+rootSecret+`"}`))
		r.Header.Set("Content-Type", "application/json")
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		f.c.ServeHTTP(w, r)
		raw := w.Header().Get("Set-Cookie")
		for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"} {
			if !strings.Contains(raw, want) {
				t.Errorf("cookie %q lacks %s", raw, want)
			}
		}
		if strings.Contains(raw, "Secure") != tlsOn {
			t.Errorf("cookie %q: Secure should be set exactly over TLS (tls=%v)", raw, tlsOn)
		}
		c := w.Result().Cookies()[0]
		if len(c.Value) != 64 {
			t.Errorf("session id %q is not 256 bits in hex", c.Value)
		}
		if strings.Contains(w.Body.String(), rootSecret) {
			t.Error("the sign-in answer carries the secret")
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t)
	whoami := func(cookie string) int {
		return f.do("GET", "/console/api/whoami", "", map[string]string{"Cookie": CookieName + "=" + cookie}).Code
	}
	// Idle: an hour without a request ends it.
	c, _ := f.signIn()
	f.clock.add(59 * time.Minute)
	if code := whoami(c); code != 200 {
		t.Fatalf("after 59 idle minutes: %d", code)
	}
	f.clock.add(61 * time.Minute)
	if code := whoami(c); code != 401 {
		t.Fatalf("after 61 idle minutes: %d, want 401", code)
	}
	// Lifetime: 12 hours, however busy.
	c, _ = f.signIn()
	for i := 0; i < 24; i++ {
		f.clock.add(30 * time.Minute)
		if code := whoami(c); code != 200 {
			t.Fatalf("after %v in use: %d", time.Duration(i+1)*30*time.Minute, code)
		}
		if i == 22 {
			break
		}
	}
	f.clock.add(31 * time.Minute)
	if code := whoami(c); code != 401 {
		t.Fatalf("after 12 h: %d, want 401", code)
	}
	// Sign-out ends it at once.
	c, csrf := f.signIn()
	if w := f.do("POST", "/console/api/signout", "", map[string]string{"Cookie": CookieName + "=" + c, "X-Console-Csrf": csrf}); w.Code != 200 || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %d %q", w.Code, w.Header().Get("Set-Cookie"))
	}
	if code := whoami(c); code != 401 {
		t.Fatalf("after sign-out: %d", code)
	}
}

func TestSessionCredentialsEnd(t *testing.T) {
	// A session ends when the credentials it signs with do.
	f := newFixture(t, func(d *Deps) {
		d.SignIn = func(id string) (Identity, error) {
			return Identity{Name: "dev", Credentials: aws.Credentials{AccessKeyID: id, SecretAccessKey: rootSecret, CanExpire: true, Expires: time.Now().Add(20 * time.Minute)}}, nil
		}
	})
	c, _ := f.signIn()
	f.clock.add(21 * time.Minute)
	if code := f.do("GET", "/console/api/whoami", "", map[string]string{"Cookie": CookieName + "=" + c}).Code; code != 401 {
		t.Fatalf("after the credentials expired: %d", code)
	}
}

func TestSessionBound(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.MaxSessions = 3 })
	var cookies []string
	for i := 0; i < 3; i++ {
		c, _ := f.signIn()
		cookies = append(cookies, c)
		f.clock.add(time.Second)
	}
	// Use the first, so the second is the one used longest ago.
	f.do("GET", "/console/api/whoami", "", map[string]string{"Cookie": CookieName + "=" + cookies[0]})
	f.clock.add(time.Second)
	f.signIn()
	if n := f.c.sessions.len(); n != 3 {
		t.Fatalf("%d sessions held, want the bound, 3", n)
	}
	for i, want := range []int{200, 401, 200} {
		if code := f.do("GET", "/console/api/whoami", "", map[string]string{"Cookie": CookieName + "=" + cookies[i]}).Code; code != want {
			t.Errorf("session %d: %d, want %d", i, code, want)
		}
	}
}

func callHeader(t testing.TB, c Call) string {
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return url.PathEscape(string(b))
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	c, csrf := f.signIn()
	call := callHeader(t, Call{Service: "lambda", Method: "GET", Path: "/2015-03-31/functions/"})
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
		code string
	}{
		{"no token", map[string]string{}, 403, "InvalidCsrfToken"},
		{"wrong token", map[string]string{"X-Console-Csrf": strings.Repeat("0", 64)}, 403, "InvalidCsrfToken"},
		{"other site", map[string]string{"X-Console-Csrf": csrf, "Origin": "http://evil.example"}, 403, "CrossOriginRequest"},
		{"cross-site fetch", map[string]string{"X-Console-Csrf": csrf, "Sec-Fetch-Site": "cross-site"}, 403, "CrossOriginRequest"},
		{"same site, another port (the gateway's pages)", map[string]string{"X-Console-Csrf": csrf, "Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-site"}, 403, "CrossOriginRequest"},
		{"https origin over http", map[string]string{"X-Console-Csrf": csrf, "Origin": "https://" + host}, 403, "CrossOriginRequest"},
		{"no cookie", map[string]string{"X-Console-Csrf": csrf, "Cookie": ""}, 401, "NotSignedIn"},
		{"good", map[string]string{"X-Console-Csrf": csrf}, 200, ""},
		{"good, no fetch metadata", map[string]string{"X-Console-Csrf": csrf, "Origin": "", "Sec-Fetch-Site": ""}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Cookie": CookieName + "=" + c, CallHeader: call}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			w := f.do("POST", "/console/api/call", "", hdr)
			if w.Code != tc.want || w.Header().Get("X-Console-Error") != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", w.Code, w.Header().Get("X-Console-Error"), tc.want, tc.code, w.Body)
			}
		})
	}
	// Sign-in from another site is refused too (login CSRF).
	w := f.do("POST", "/console/api/signin", `{}`, map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"})
	if w.Code != 403 {
		t.Fatalf("cross-site sign-in: %d", w.Code)
	}
}

func TestProxySigns(t *testing.T) {
	f := newFixture(t)
	c, csrf := f.signIn()
	for _, tc := range []struct {
		name string
		call Call
		body string
	}{
		{"lambda", Call{Service: "lambda", Method: "POST", Path: "/2015-03-31/functions/hello/invocations",
			Headers: map[string]string{"X-Amz-Log-Type": "Tail", "Content-Type": "application/json", "Authorization": "forged", "X-Amz-Security-Token": "forged"}}, `{"a":1}`},
		{"json target", Call{Service: "logs", Method: "POST", Path: "/", Headers: map[string]string{"X-Amz-Target": "Logs_20140328.FilterLogEvents", "Content-Type": "application/x-amz-json-1.1"}}, `{"logGroupName":"/aws/lambda/x"}`},
		{"s3 key with spaces and unicode", Call{Service: "s3", Method: "PUT", Path: "/bucket/dir/a%20b%C3%A9.txt"}, "file body"},
		{"query", Call{Service: "s3", Method: "GET", Path: "/bucket", Query: "list-type=2&prefix=a%2Fb%20c&delimiter=%2F"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do("POST", "/console/api/call", tc.body, map[string]string{"Cookie": CookieName + "=" + c, "X-Console-Csrf": csrf, CallHeader: callHeader(t, tc.call)})
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			f.mu.Lock()
			r, body, id, err := f.got[len(f.got)-1], f.body[len(f.body)-1], f.ids[len(f.ids)-1], f.errs[len(f.errs)-1]
			f.mu.Unlock()
			if err != nil {
				t.Fatalf("the signed request does not verify: %v", err)
			}
			if id.AccessKeyID != rootID || id.Service != tc.call.Service || id.Region != "us-east-1" {
				t.Fatalf("identity %+v", id)
			}
			if string(body) != tc.body || r.Method != tc.call.Method || r.URL.EscapedPath() != tc.call.Path || !sameQuery(r.URL.RawQuery, tc.call.Query) || r.Host != host {
				t.Fatalf("request %s %s ? %s (host %s) body %q", r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Host, body)
			}
			for k, v := range tc.call.Headers {
				if k == "Authorization" || k == "X-Amz-Security-Token" {
					if strings.Contains(r.Header.Get(k), "forged") {
						t.Fatalf("the page's %s reached the front door", k)
					}
					continue
				}
				if r.Header.Get(k) != v {
					t.Fatalf("header %s: %q, want %q", k, r.Header.Get(k), v)
				}
			}
			if w.Header().Get("Set-Cookie") != "" {
				t.Fatal("a cookie of the API's answer reached the browser")
			}
			if w.Header().Get("X-Amz-Log-Result") != "dGFpbA==" || w.Body.String() != `{"ok":true}` {
				t.Fatalf("answer not passed on: %v %q", w.Header(), w.Body)
			}
		})
	}
}

func TestProxyRefuses(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.MaxBody = 16 })
	c, csrf := f.signIn()
	for _, tc := range []struct {
		name   string
		header string
		body   string
		want   int
	}{
		{"no call", "", "", 400},
		{"not json", "%7Bnope", "", 400},
		{"unknown service", callHeader(t, Call{Service: "ec2", Method: "GET", Path: "/"}), "", 400},
		{"odd method", callHeader(t, Call{Service: "s3", Method: "TRACE", Path: "/"}), "", 400},
		{"relative path", callHeader(t, Call{Service: "s3", Method: "GET", Path: "bucket"}), "", 400},
		{"another host", callHeader(t, Call{Service: "s3", Method: "GET", Path: "//evil.example/x"}), "", 400},
		{"the console itself", callHeader(t, Call{Service: "s3", Method: "GET", Path: "/console/api/whoami"}), "", 400},
		{"too large", callHeader(t, Call{Service: "s3", Method: "PUT", Path: "/b/k"}), strings.Repeat("x", 17), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do("POST", "/console/api/call", tc.body, map[string]string{"Cookie": CookieName + "=" + c, "X-Console-Csrf": csrf, CallHeader: tc.header})
			if w.Code != tc.want || w.Header().Get("X-Console-Error") == "" {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) != 0 {
		t.Fatalf("%d refused calls reached the front door", len(f.got))
	}
}

func TestPageHeaders(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/console/", "/console/app.js", "/console/console.css", "/console/api/whoami"} {
		w := f.do("GET", p, "", nil)
		if p != "/console/api/whoami" && w.Code != 200 {
			t.Fatalf("%s: %d", p, w.Code)
		}
		h := w.Header()
		if !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'") || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s: headers %v", p, h)
		}
	}
	if ct := f.do("GET", "/console/app.js", "", nil).Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Fatalf("app.js served as %q", ct)
	}
	if body := f.do("GET", "/console/", "", nil).Body.String(); strings.Contains(body, "<script>") || !strings.Contains(body, `src="app.js"`) {
		t.Fatal("the page must load its script from a file, with no inline script")
	}
}

// sameQuery reports whether two query strings hold the same parameters
// (the signer puts them in canonical order).
func sameQuery(a, b string) bool {
	x, err1 := url.ParseQuery(a)
	y, err2 := url.ParseQuery(b)
	if err1 != nil || err2 != nil || len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if strings.Join(v, "\x00") != strings.Join(y[k], "\x00") {
			return false
		}
	}
	return true
}

func TestStaticRevalidates(t *testing.T) {
	f := newFixture(t)
	w := f.do("GET", "/console/aws.js", "", nil)
	tag := w.Header().Get("ETag")
	if w.Code != 200 || tag == "" || w.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("first fetch: %d etag %q cache %q", w.Code, tag, w.Header().Get("Cache-Control"))
	}
	if w := f.do("GET", "/console/aws.js", "", map[string]string{"If-None-Match": tag}); w.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d, want 304", w.Code)
	}
	if w := f.do("GET", "/console/nothing.js", "", nil); w.Code != 404 {
		t.Fatalf("missing file: %d", w.Code)
	}
}
