// Package itemexpr reads and applies DynamoDB's expressions over items
// (package item): condition and filter expressions, key condition
// expressions, projection expressions and update expressions, with
// #name and :value placeholders, document paths (a.b[2].c), every
// comparator and function, and DynamoDB's validation messages.
package itemexpr

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed reserved.txt
var reservedText string

// reserved are DynamoDB's reserved words, upper case: an attribute name
// that is one must be given through a #placeholder.
var reserved = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(reservedText) {
		m[strings.ToUpper(w)] = true
	}
	return m
}()

// token is one lexical token of an expression.
type token struct {
	kind string // "name", "#", ":", "num", "op", "(", ")", "[", "]", ",", ".", "eof"
	text string
	pos  int
}

// lex splits an expression into tokens.
func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxError(s, i, string(c))
			}
			out = append(out, token{string(c), s[i:j], i})
			i = j
		case isNameStart(c):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			out = append(out, token{"name", s[i:j], i})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, token{"num", s[i:j], i})
			i = j
		case c == '<' || c == '>':
			if i+1 < len(s) && (s[i+1] == '=' || (c == '<' && s[i+1] == '>')) {
				out = append(out, token{"op", s[i : i+2], i})
				i += 2
			} else {
				out = append(out, token{"op", s[i : i+1], i})
				i++
			}
		case c == '=' || c == '+' || c == '-':
			out = append(out, token{"op", string(c), i})
			i++
		case strings.IndexByte("()[],.", c) >= 0:
			out = append(out, token{string(c), string(c), i})
			i++
		default:
			return nil, &Error{fmt.Sprintf("Syntax error; token: %q, near: %q", string(c), near(s, i))}
		}
	}
	out = append(out, token{"eof", "<EOF>", len(s)})
	return out, nil
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameChar(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' }

// near is the text around position i, as DynamoDB quotes it.
func near(s string, i int) string {
	start := max(i-10, 0)
	return strings.TrimSpace(s[start:min(i+10, len(s))])
}

// Error is an expression's refusal, worded as DynamoDB's
// ValidationException after "Invalid <Kind>Expression: ".
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func syntaxError(s string, i int, tok string) *Error {
	return &Error{fmt.Sprintf("Syntax error; token: %q, near: %q", tok, near(s, i))}
}
