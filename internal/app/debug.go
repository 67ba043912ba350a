package app

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/sigv4"
)

// startDebug serves Go's profiler on the address in ALOFT_DEBUG_PPROF, when
// set. It is an unstable knob for diagnosing the server, not part of the
// contract. The address must be a loopback one, and every request must
// carry the root credentials (see debugAuth). When the profiler cannot
// start it logs why and the server runs without it. The returned function
// stops it.
func startDebug(log *slog.Logger, root Keys) func() {
	addr := os.Getenv("ALOFT_DEBUG_PPROF")
	if addr == "" {
		return func() {}
	}
	d, err := listenDebug(addr, root)
	if err != nil {
		log.Warn("debug profiler not started", "addr", addr, "err", err)
		return func() {}
	}
	log.Warn("debug profiler listening; requests need the root credentials", "addr", d.ln.Addr().String())
	return d.close
}

// debugServer is the running profiler.
type debugServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve has returned
}

// listenDebug binds addr, which must be a loopback address, and serves
// the profiler there to holders of the root keys.
func listenDebug(addr string, root Keys) (*debugServer, error) {
	if root.AccessKeyID == "" || root.SecretAccessKey == "" {
		return nil, errors.New("app: debug profiler: no root credentials")
	}
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("app: debug profiler: %w", err)
	}
	// "localhost" is resolved by the system: check what was bound.
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("app: debug profiler: %s resolved to %s, not a loopback address", addr, ln.Addr())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	auth := &debugAuth{root: root, verifier: &sigv4.Verifier{Lookup: func(id string) (string, bool) {
		if id != root.AccessKeyID {
			return "", false
		}
		return root.SecretAccessKey, true
	}}, next: mux}
	d := &debugServer{srv: &http.Server{Handler: auth, ReadHeaderTimeout: 10 * time.Second}, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.srv.Serve(ln) // returns http.ErrServerClosed once close is called
	}()
	return d, nil
}

// close stops the profiler and waits for it.
func (d *debugServer) close() {
	d.srv.Close()
	<-d.done
}

// checkLoopback accepts host:port addresses whose host is a loopback IP
// or "localhost"; an empty host (every interface) is refused.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("app: debug profiler address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("app: debug profiler address %q is not a loopback address: use 127.0.0.1, [::1] or localhost", addr)
	}
	return nil
}

// debugAuth lets through requests that carry the root credentials, either
// as HTTP basic auth (user: the access key id, password: the secret; what
// curl -u and go tool pprof with http://KEY:SECRET@host send) or as an
// AWS Signature V4 Authorization header made with the root keys. Presigned
// (query-string) signatures are refused, as on the API listener.
// Requests without credentials get 401 and a basic-auth challenge; wrong
// basic credentials get 401, a bad or non-root signature 403.
type debugAuth struct {
	root     Keys
	verifier *sigv4.Verifier // knows the root key only
	next     http.Handler
}

// maxDebugBody bounds the body read to check a signature's payload hash.
const maxDebugBody = 1 << 20

func (a *debugAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := r.Header.Get("Authorization"); len(h) >= 6 && strings.EqualFold(h[:6], "Basic ") {
		id, secret, ok := r.BasicAuth()
		if !ok || !a.rootBasic(id, secret) {
			challenge(w, "invalid credentials")
			return
		}
		a.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDebugBody+1))
	if err != nil {
		http.Error(w, "could not read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxDebugBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	id, err := a.verifier.Verify(r, sigv4.PayloadHash(body))
	var se *sigv4.Error
	switch {
	case errors.As(err, &se) && se.Kind == sigv4.Missing:
		challenge(w, "the debug profiler needs the root credentials")
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	case id.Presigned:
		http.Error(w, "presigned requests are not accepted; use basic auth or an Authorization header", http.StatusForbidden)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	a.next.ServeHTTP(w, r)
}

// rootBasic compares basic-auth credentials with the root keys in constant
// time: both parts are always compared, as digests so that their lengths
// do not matter either.
func (a *debugAuth) rootBasic(id, secret string) bool {
	return equalDigest(id, a.root.AccessKeyID)&equalDigest(secret, a.root.SecretAccessKey) == 1
}

// equalDigest returns 1 if a and b are equal, 0 otherwise, in time that
// depends on neither.
func equalDigest(a, b string) int {
	da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(da[:], db[:])
}

// challenge answers 401 with a basic-auth challenge.
func challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="aloft debug", charset="UTF-8"`)
	http.Error(w, msg, http.StatusUnauthorized)
}
