// Package console is Aloft's web console, served under /console/ on the
// API listener: one page of hand-written JavaScript modules and a style
// sheet embedded in the binary, and a small API beside them.
//
// A person signs in with an access key pair (POST /console/api/signin);
// the server checks it, in constant time, against the keys it knows and
// opens a server-side session whose id alone goes to the browser, in an
// HttpOnly, SameSite=Strict cookie. The secret never goes back. For an
// IAM user the session keeps temporary credentials minted at sign-in;
// for the root, the root keys, in memory.
//
// The console has no private side doors: the page sends every AWS
// request it makes (service, method, path, query, headers, body) to
// POST /console/api/call, which signs it with the session's credentials
// (SigV4) and serves it in process through the same front door as a
// request from the network, so IAM decides exactly as it does for the
// CLI. Every state-changing call carries the session's CSRF token (from
// GET /console/api/whoami) in the X-Console-Csrf header, and a request
// whose Origin or Sec-Fetch-Site says it came from another site is
// refused.
//
//	GET  /console/               the page (index.html, *.js, *.css)
//	POST /console/api/signin     {"AccessKeyId", "SecretAccessKey"} → cookie
//	POST /console/api/signout    ends the session
//	GET  /console/api/whoami     who is signed in, and the CSRF token
//	POST /console/api/call       X-Console-Call: the AWS request (URI-encoded JSON); body: its body
package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// Path is the prefix the console is served under.
const Path = "/console/"

// CookieName names the session cookie.
const CookieName = "aloft_console"

// Defaults of Deps' zero values.
const (
	DefaultLifetime    = 12 * time.Hour
	DefaultIdle        = time.Hour
	DefaultMaxSessions = 1000
	DefaultMaxBody     = 32 << 20
	DefaultFailDelay   = 400 * time.Millisecond
)

//go:embed static
var static embed.FS

// Deps are what the console needs from the server.
type Deps struct {
	// Lookup returns the secret of any access key id the server knows.
	Lookup func(id string) (secret string, ok bool)
	// SignIn returns who signs in with access key id (whose secret has
	// been checked) and the credentials the session signs with; an error
	// refuses the sign-in.
	SignIn func(id string) (Identity, error)
	// API returns the front door's handler; nil while it is starting.
	API func() http.Handler
	// Host is the API listener's address (host:port), the Host of the
	// requests the console signs.
	Host string
	// Region is the region requests are signed for.
	Region string
	Logger *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// Lifetime and Idle end a session that long after sign-in or after
	// its last request; zero means DefaultLifetime and DefaultIdle.
	Lifetime, Idle time.Duration
	// MaxSessions bounds the sessions held; zero means DefaultMaxSessions.
	MaxSessions int
	// MaxBody bounds a proxied request's body; zero means DefaultMaxBody.
	MaxBody int64
	// FailDelay is how long a refused sign-in waits before it answers;
	// zero means DefaultFailDelay, negative none.
	FailDelay time.Duration
}

// Console serves the web console. Create it with New.
type Console struct {
	d        Deps
	sessions *sessions
	files    http.Handler
	root     fs.FS
	etags    map[string]string // file name → strong validator of its content
}

// New returns the console for d.
func New(d Deps) *Console {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Lifetime <= 0 {
		d.Lifetime = DefaultLifetime
	}
	if d.Idle <= 0 {
		d.Idle = DefaultIdle
	}
	if d.MaxSessions <= 0 {
		d.MaxSessions = DefaultMaxSessions
	}
	if d.MaxBody <= 0 {
		d.MaxBody = DefaultMaxBody
	}
	if d.FailDelay == 0 {
		d.FailDelay = DefaultFailDelay
	}
	if d.Region == "" {
		d.Region = "us-east-1"
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	root, _ := fs.Sub(static, "static") // the directory is embedded: no error
	c := &Console{d: d, sessions: newSessions(d.Lifetime, d.Idle, d.MaxSessions, d.Now), root: root,
		files: http.StripPrefix(strings.TrimSuffix(Path, "/"), http.FileServerFS(root)), etags: map[string]string{}}
	// Embedded files carry no modification time: a hash of each lets a
	// browser revalidate its copy with If-None-Match instead of fetching
	// it again.
	fs.WalkDir(root, ".", func(name string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if b, err := fs.ReadFile(root, name); err == nil {
				sum := sha256.Sum256(b)
				c.etags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
			}
		}
		return nil
	})
	return c
}

// securityHeaders are set on every console response.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	// Pages of the gateway's listener are the same site (another port of
	// the same host): they may not embed the console's files either.
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP serves the page and the console's API.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	rest, _ := strings.CutPrefix(r.URL.Path, Path)
	if api, ok := strings.CutPrefix(rest, "api/"); ok {
		c.serveAPI(w, r, api)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The console's pages are read with GET.")
		return
	}
	if rest == "" || rest == "index.html" {
		// The page itself: no caching, so a new server's scripts are
		// picked up at once (the scripts and style revalidate).
		w.Header().Set("Cache-Control", "no-store")
		b, _ := fs.ReadFile(c.root, "index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
		return
	}
	if t := mime.TypeByExtension(path.Ext(rest)); t != "" {
		w.Header().Set("Content-Type", t)
	}
	w.Header().Set("Cache-Control", "no-cache")
	if tag, ok := c.etags[rest]; ok {
		w.Header().Set("ETag", tag)
	}
	c.files.ServeHTTP(w, r)
}

func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request, op string) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && !sameOrigin(r) {
		fail(w, http.StatusForbidden, "CrossOriginRequest", "The console refuses requests from other sites.")
		return
	}
	switch op {
	case "signin":
		if r.Method != http.MethodPost {
			fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Sign in with POST.")
			return
		}
		c.signIn(w, r)
		return
	}
	ss := c.session(r)
	if ss == nil {
		fail(w, http.StatusUnauthorized, "NotSignedIn", "Sign in to use the console.")
		return
	}
	if r.Method != http.MethodGet && !ss.checkCSRF(r.Header.Get("X-Console-Csrf")) {
		fail(w, http.StatusForbidden, "InvalidCsrfToken", "The request did not carry this session's CSRF token; reload the page.")
		return
	}
	switch {
	case op == "whoami" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"Name": ss.who.Name, "Arn": ss.who.ARN, "AccessKeyId": ss.keyID,
			"Region": c.d.Region, "Csrf": ss.csrf, "Expires": ss.expires.UTC().Format(time.RFC3339),
		})
	case op == "signout" && r.Method == http.MethodPost:
		c.sessions.close(ss.id)
		http.SetCookie(w, c.cookie(r, "", -1))
		writeJSON(w, http.StatusOK, map[string]any{"SignedOut": true})
	case op == "call" && r.Method == http.MethodPost:
		c.call(w, r, ss)
	default:
		fail(w, http.StatusNotFound, "UnknownOperation", "No console operation "+r.Method+" "+op+".")
	}
}

// sameOrigin reports whether a request that changes state came from the
// console's own pages: a browser sends Sec-Fetch-Site and Origin, and
// both must name this site where present.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host != r.Host {
		return false
	}
	return u.Scheme == "https" == (r.TLS != nil)
}

// session returns the request's live session, or nil.
func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	return c.sessions.get(ck.Value)
}

// cookie returns the session cookie: value, for maxAge seconds (negative
// deletes it).
func (c *Console) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: strings.TrimSuffix(Path, "/"), MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

// signInForm is what a sign-in posts, as JSON or a form.
type signInForm struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

// errBadKey is the one refusal of a wrong key pair: it does not say
// which part was wrong.
const msgBadKey = "The access key ID or secret access key is not valid."

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	var f signInForm
	body := http.MaxBytesReader(w, r.Body, 16<<10)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := json.NewDecoder(body).Decode(&f); err != nil {
			fail(w, http.StatusBadRequest, "MalformedRequest", "The sign-in body is not valid JSON.")
			return
		}
	case "application/x-www-form-urlencoded":
		r.Body = body
		if err := r.ParseForm(); err != nil {
			fail(w, http.StatusBadRequest, "MalformedRequest", "The sign-in form could not be read.")
			return
		}
		f.AccessKeyID, f.SecretAccessKey = r.PostForm.Get("AccessKeyId"), r.PostForm.Get("SecretAccessKey")
	default:
		fail(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Sign in with a JSON body or a form.")
		return
	}
	f.AccessKeyID = strings.TrimSpace(f.AccessKeyID)
	f.SecretAccessKey = strings.TrimSpace(f.SecretAccessKey)
	who, err := c.check(f.AccessKeyID, f.SecretAccessKey)
	if err != nil {
		c.d.Logger.Info("console sign-in refused", "access_key_id", f.AccessKeyID, "remote", r.RemoteAddr, "err", err)
		if c.d.FailDelay > 0 {
			select {
			case <-time.After(c.d.FailDelay):
			case <-r.Context().Done():
			}
		}
		fail(w, http.StatusUnauthorized, "InvalidCredentials", msgBadKey)
		return
	}
	ss := c.sessions.open(f.AccessKeyID, who)
	c.d.Logger.Info("console sign-in", "access_key_id", f.AccessKeyID, "identity", who.Name, "remote", r.RemoteAddr)
	http.SetCookie(w, c.cookie(r, ss.id, int(ss.expires.Sub(ss.created)/time.Second)))
	writeJSON(w, http.StatusOK, map[string]any{"Name": who.Name, "Arn": who.ARN, "AccessKeyId": f.AccessKeyID, "Csrf": ss.csrf})
}

// errRefused is a sign-in refused for a wrong key pair.
var errRefused = errors.New("console: wrong access key id or secret")

// check checks a key pair against the server's keys, in constant time
// whether or not the id is known, and returns who it signs in.
func (c *Console) check(id, secret string) (Identity, error) {
	known, ok := "", false
	if id != "" && c.d.Lookup != nil {
		known, ok = c.d.Lookup(id)
	}
	if !ok {
		known = "\x00not a key\x00" // compared all the same, so an unknown id takes as long
	}
	match := subtle.ConstantTimeCompare([]byte(known), []byte(secret)) == 1
	if !ok || !match || secret == "" {
		return Identity{}, errRefused
	}
	if c.d.SignIn == nil {
		return Identity{}, errRefused
	}
	return c.d.SignIn(id)
}

// fail writes a console error: {"Code", "Message"}, marked with
// X-Console-Error so the page tells it from an AWS answer.
func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Console-Error", code)
	writeJSON(w, status, map[string]string{"Code": code, "Message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// drain reads what is left of a body, up to a bound, so a connection may
// be reused.
func drain(r io.Reader) { io.CopyN(io.Discard, r, 1<<20) }
