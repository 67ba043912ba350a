// Package route matches HTTP requests to route keys the way API Gateway
// HTTP APIs do. A route key is "$default" or "METHOD /path", where METHOD
// is GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY and each path
// segment is a literal, a parameter "{name}" or, as the last segment only,
// a greedy parameter "{name+}" that takes the rest of the path.
//
// The most specific route wins. Paths are compared segment by segment from
// the left: a literal beats a parameter, which beats a greedy parameter.
// Among routes with the same path, one for the request's method beats ANY.
// "$default" serves what no other route matches.
//
// A Table is built once per change with Add and is read-only afterwards:
// any number of goroutines may call Match at once, and Match allocates only
// to percent-decode segments that hold escapes.
package route

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultKey is the route key of the catch-all route.
const DefaultKey = "$default"

// AnyMethod is the method of a route that serves every method.
const AnyMethod = "ANY"

// methods are the methods a route key may name besides ANY, in the order
// of their index in a node's table.
var methodNames = [...]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// methodIndex returns the index of m in methodNames, or -1 for any other
// method (ANY included).
func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "POST":
		return 1
	case "PUT":
		return 2
	case "PATCH":
		return 3
	case "DELETE":
		return 4
	case "HEAD":
		return 5
	case "OPTIONS":
		return 6
	}
	return -1
}

// Key is a parsed route key.
type Key struct {
	Method   string    // one of methodNames or AnyMethod; empty for $default
	Path     string    // the path as written, e.g. /items/{id}
	Segments []Segment // the path's segments; none for "/" and $default
}

// Kind tells what a path segment matches.
type Kind uint8

// Segment kinds, from the most specific to the least.
const (
	KindLiteral Kind = iota // the segment's text exactly
	KindParam               // one non-empty segment
	KindGreedy              // the rest of the path, at least one character
)

// Segment is one segment of a route path.
type Segment struct {
	Kind Kind
	Text string // the literal, or the parameter's name
}

// IsDefault reports whether k is the $default route.
func (k Key) IsDefault() bool { return k.Method == "" }

// String returns the key as API Gateway writes it.
func (k Key) String() string {
	if k.IsDefault() {
		return DefaultKey
	}
	return k.Method + " " + k.Path
}

// ErrInvalidKey is wrapped by every error ParseKey returns.
var ErrInvalidKey = errors.New("invalid route key")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidKey, fmt.Sprintf(format, args...))
}

// ParseKey parses a route key such as "GET /items/{id}", "ANY /{proxy+}"
// or "$default".
func ParseKey(s string) (Key, error) {
	if s == DefaultKey {
		return Key{}, nil
	}
	method, path, ok := strings.Cut(s, " ")
	if !ok {
		return Key{}, invalid("%q: want \"$default\" or \"METHOD /path\"", s)
	}
	if method != AnyMethod && methodIndex(method) < 0 {
		return Key{}, invalid("%q: method %q is not one of ANY, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT", s, method)
	}
	segs, err := parsePath(path)
	if err != nil {
		return Key{}, invalid("%q: %v", s, err)
	}
	return Key{Method: method, Path: path, Segments: segs}, nil
}

// MaxPathLength bounds the path of a route key.
const MaxPathLength = 1024

func parsePath(p string) ([]Segment, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, errors.New("the path must start with /")
	}
	if len(p) > MaxPathLength {
		return nil, fmt.Errorf("the path is longer than %d characters", MaxPathLength)
	}
	if p == "/" {
		return nil, nil
	}
	parts := strings.Split(p[1:], "/")
	segs := make([]Segment, 0, len(parts))
	seen := map[string]bool{}
	for i, part := range parts {
		switch {
		case part == "":
			return nil, errors.New("the path has an empty segment")
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			name := part[1 : len(part)-1]
			kind := KindParam
			if strings.HasSuffix(name, "+") {
				kind, name = KindGreedy, name[:len(name)-1]
				if i != len(parts)-1 {
					return nil, fmt.Errorf("the greedy parameter {%s+} must be the last segment", name)
				}
			}
			if !validName(name) {
				return nil, fmt.Errorf("parameter name %q must be letters, digits, '_', '-' or '.'", name)
			}
			if seen[name] {
				return nil, fmt.Errorf("parameter {%s} appears twice", name)
			}
			seen[name] = true
			segs = append(segs, Segment{Kind: kind, Text: name})
		case strings.ContainsAny(part, "{}"):
			return nil, fmt.Errorf("segment %q: a parameter must be a whole segment", part)
		case !validLiteral(part):
			return nil, fmt.Errorf("segment %q has characters a path cannot hold", part)
		default:
			segs = append(segs, Segment{Kind: KindLiteral, Text: part})
		}
	}
	return segs, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validLiteral accepts what may appear in a path segment once decoded,
// except '/', '?' and '#', control characters and '%' (literals are
// written decoded).
func validLiteral(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '?' || c == '#' || c == '%' || c == ' ' {
			return false
		}
	}
	return true
}
