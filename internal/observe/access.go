package observe

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Access is who may read /metrics.
type Access string

// Access modes.
const (
	// Open serves /metrics to anyone who reaches the listener: the
	// default when the API listener is on a loopback address.
	Open Access = "open"
	// Token serves it to requests carrying the bearer token
	// (Authorization: Bearer TOKEN): the default otherwise.
	Token Access = "token"
	// Off answers /metrics 404.
	Off Access = "off"
)

// ParseAccess reads an --metrics-access value; "" is "auto", the
// default for the listener (DefaultAccess).
func ParseAccess(s string) (Access, error) {
	switch a := Access(s); a {
	case Open, Token, Off:
		return a, nil
	case "", "auto":
		return "", nil
	}
	return "", fmt.Errorf("observe: --metrics-access %q: use open, token, off or auto", s)
}

// DefaultAccess is the access for an API listener at listen (host:port):
// Open on a loopback address, Token otherwise (a wildcard address, a
// name, another interface).
func DefaultAccess(listen string) Access {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return Token
	}
	if host == "localhost" {
		return Open
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return Open
	}
	return Token
}

// LoadToken returns the bearer token kept in file, creating the file with
// a new random token (mode 0600) when it does not exist. A token file
// must hold at least 16 characters.
func LoadToken(file string) (string, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		var raw [24]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", fmt.Errorf("observe: metrics token: %w", err)
		}
		tok := hex.EncodeToString(raw[:])
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return "", fmt.Errorf("observe: metrics token: %w", err)
		}
		if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("observe: metrics token: %w", err)
		}
		return tok, nil
	}
	if err != nil {
		return "", fmt.Errorf("observe: metrics token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", fmt.Errorf("observe: metrics token in %s is shorter than 16 characters", file)
	}
	return tok, nil
}

// Guard serves h as access says: to anyone (Open), to requests carrying
// token as a bearer token (Token; others get 401), or to no one (Off:
// 404). Only GET and HEAD are served.
func Guard(h http.Handler, access Access, token string) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case access == Off:
			http.NotFound(w, r)
			return
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		case access == Token:
			got := []byte(r.Header.Get("Authorization"))
			if token == "" || subtle.ConstantTimeCompare(got, want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="aloft metrics"`)
				http.Error(w, "metrics need the bearer token (--metrics-token-file)", http.StatusUnauthorized)
				return
			}
		case access != Open:
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
