// Package cors applies a cross-origin resource sharing configuration the
// way API Gateway HTTP APIs and Lambda function URLs do. The gateway
// answers preflight requests itself, whatever routes exist, and adds the
// CORS headers to every response for an allowed origin, replacing any
// Access-Control-* headers the function returned.
//
// A Config is what users write (the shape of API Gateway's and Lambda's
// Cors objects); Compile checks it and turns it into a Policy, which is
// read-only and safe for concurrent use.
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Config is a CORS configuration.
type Config struct {
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           *int     `json:"maxAge,omitempty"` // seconds; nil or -1 sends no Access-Control-Max-Age
}

// Limits of a Config.
const (
	MaxAgeLimit = 86400 // the largest MaxAge
	maxItems    = 100   // entries in one list
)

// Policy is a compiled Config.
type Policy struct {
	anyOrigin    bool
	origins      map[string]bool // lower-cased
	wildcards    []wildcard      // "scheme://*.domain" origins
	anyMethod    bool
	methods      []string // for Access-Control-Allow-Methods
	anyHeader    bool
	headers      []string // for Access-Control-Allow-Headers
	expose       []string // for Access-Control-Expose-Headers
	maxAge       []string // for Access-Control-Max-Age; nil for none
	credentials  bool
	allowAnyStar bool // answer "*" rather than the origin
}

type wildcard struct{ scheme, suffix string } // suffix starts with '.'

// Compile checks c and returns its policy. A nil Config gives a nil
// Policy, which allows nothing and adds no headers.
func Compile(c *Config) (*Policy, error) {
	if c == nil {
		return nil, nil
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"allowHeaders", c.AllowHeaders}, {"allowMethods", c.AllowMethods}, {"allowOrigins", c.AllowOrigins}, {"exposeHeaders", c.ExposeHeaders}} {
		if len(l.list) > maxItems {
			return nil, fmt.Errorf("cors: %s has more than %d entries", l.name, maxItems)
		}
	}
	p := &Policy{origins: map[string]bool{}, credentials: c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		switch {
		case o == "*":
			if c.AllowCredentials {
				return nil, errors.New("cors: allowOrigins cannot be * when allowCredentials is true")
			}
			p.anyOrigin = true
		case strings.Contains(o, "://*."):
			scheme, host, _ := strings.Cut(strings.ToLower(o), "://*.")
			if scheme == "" || !validHost(host) {
				return nil, fmt.Errorf("cors: origin %q: want scheme://host[:port], scheme://*.domain or *", o)
			}
			p.wildcards = append(p.wildcards, wildcard{scheme: scheme + "://", suffix: "." + host})
		default:
			scheme, host, ok := strings.Cut(o, "://")
			if !ok || scheme == "" || !validHost(host) {
				return nil, fmt.Errorf("cors: origin %q: want scheme://host[:port], scheme://*.domain or *", o)
			}
			p.origins[strings.ToLower(o)] = true
		}
	}
	p.allowAnyStar = p.anyOrigin && !c.AllowCredentials
	for _, m := range c.AllowMethods {
		if m == "*" {
			p.anyMethod = true
			continue
		}
		if !token(m) {
			return nil, fmt.Errorf("cors: %q is not an HTTP method", m)
		}
		p.methods = append(p.methods, strings.ToUpper(m))
	}
	for _, h := range c.AllowHeaders {
		if h == "*" {
			p.anyHeader = true
			continue
		}
		if !token(h) {
			return nil, fmt.Errorf("cors: %q is not a header name", h)
		}
		p.headers = append(p.headers, strings.ToLower(h))
	}
	for _, h := range c.ExposeHeaders {
		if h != "*" && !token(h) {
			return nil, fmt.Errorf("cors: %q is not a header name", h)
		}
		p.expose = append(p.expose, strings.ToLower(h))
	}
	if c.MaxAge != nil {
		switch a := *c.MaxAge; {
		case a < -1 || a > MaxAgeLimit:
			return nil, fmt.Errorf("cors: maxAge %d is outside -1 to %d", a, MaxAgeLimit)
		case a >= 0:
			p.maxAge = []string{strconv.Itoa(a)}
		}
	}
	return p, nil
}

func validHost(h string) bool {
	if h == "" || strings.ContainsAny(h, "/?#*@ ") {
		return false
	}
	return true
}

// token reports whether s is an HTTP token (a method or header name).
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// Allowed reports whether the origin may read responses.
func (p *Policy) Allowed(origin string) bool {
	if p == nil || origin == "" {
		return false
	}
	if p.anyOrigin {
		return true
	}
	o := origin
	if hasUpper(o) {
		o = strings.ToLower(o)
	}
	if p.origins[o] {
		return true
	}
	for _, w := range p.wildcards {
		if strings.HasPrefix(o, w.scheme) && len(o) > len(w.scheme)+len(w.suffix) &&
			strings.HasSuffix(o, w.suffix) && !strings.Contains(o[len(w.scheme):len(o)-len(w.suffix)], "/") {
			return true
		}
	}
	return false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// IsPreflight reports whether r is a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

var (
	trueValue  = []string{"true"}
	starValue  = []string{"*"}
	varyOrigin = []string{"Origin"}
)

// Preflight writes the headers of the answer to the preflight request r
// into h. The answer's status is 204 whether or not the origin is allowed;
// a browser reads a refusal from the missing headers.
func (p *Policy) Preflight(r *http.Request, h http.Header) {
	origin := r.Header.Get("Origin")
	if !p.Allowed(origin) {
		return
	}
	p.allowOrigin(origin, h)
	switch {
	case p.anyMethod:
		h["Access-Control-Allow-Methods"] = []string{r.Header.Get("Access-Control-Request-Method")}
	case len(p.methods) > 0:
		h["Access-Control-Allow-Methods"] = []string{strings.Join(p.methods, ",")}
	}
	switch req := r.Header.Get("Access-Control-Request-Headers"); {
	case p.anyHeader && req != "":
		h["Access-Control-Allow-Headers"] = []string{req}
	case len(p.headers) > 0:
		h["Access-Control-Allow-Headers"] = []string{strings.Join(p.headers, ",")}
	}
	if p.maxAge != nil {
		h["Access-Control-Max-Age"] = p.maxAge
	}
}

// Apply sets the CORS headers of a response to a request from origin,
// after removing any Access-Control-* headers already in h.
func (p *Policy) Apply(origin string, h http.Header) {
	if p == nil {
		return
	}
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	if !p.Allowed(origin) {
		return
	}
	p.allowOrigin(origin, h)
	if len(p.expose) > 0 {
		h["Access-Control-Expose-Headers"] = []string{strings.Join(p.expose, ",")}
	}
}

func (p *Policy) allowOrigin(origin string, h http.Header) {
	if p.allowAnyStar {
		h["Access-Control-Allow-Origin"] = starValue
	} else {
		h["Access-Control-Allow-Origin"] = []string{origin}
		h["Vary"] = append(h["Vary"], varyOrigin...)
	}
	if p.credentials {
		h["Access-Control-Allow-Credentials"] = trueValue
	}
}
