// Package policy evaluates IAM policy documents: whether a policy allows
// an action on a resource. The gateway uses it for the policies Lambda
// authorizers answer with, as API Gateway does for the execute-api:Invoke
// action on a route ARN.
//
// A statement applies to a request when its Action (or, with NotAction,
// none of its patterns) matches the action and its Resource (or, with
// NotResource, none of its patterns) matches the resource. A Deny that
// applies wins; otherwise the request is allowed only when an Allow
// applies. Patterns use IAM wildcards: '*' matches any run of characters,
// '?' exactly one. Actions match without regard to ASCII case, resources
// exactly.
//
// What this package cannot evaluate makes the policy malformed rather
// than being skipped: a statement with a non-empty Condition, or with an
// element it does not know (Principal, NotPrincipal, misspellings).
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// InvokeAction is the action a request to a route asks for.
const InvokeAction = "execute-api:Invoke"

// Policy is a parsed policy document. The zero Policy allows nothing.
type Policy struct {
	statements []statement
}

// statement is one parsed statement. With notAction (notResource) set,
// the statement applies to every action (resource) that none of actions
// (resources) matches.
type statement struct {
	deny        bool
	notAction   bool
	notResource bool
	actions     []string
	resources   []string
}

// document is a policy document as written.
type document struct {
	Version   string          `json:"Version"`
	ID        string          `json:"Id"`
	Statement json.RawMessage `json:"Statement"`
}

// rawStatement is a statement as written. Pointers tell an absent element
// from an empty one.
type rawStatement struct {
	Sid         string          `json:"Sid"`
	Effect      string          `json:"Effect"`
	Action      *patterns       `json:"Action"`
	NotAction   *patterns       `json:"NotAction"`
	Resource    *patterns       `json:"Resource"`
	NotResource *patterns       `json:"NotResource"`
	Condition   json.RawMessage `json:"Condition"`
}

// patterns is an element that holds one string or a list of strings.
type patterns []string

// UnmarshalJSON reads a string or a list of strings.
func (p *patterns) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = patterns{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*p = list
	return nil
}

// Parse reads a policy document: {"Version": ..., "Statement": ...},
// where Statement is one statement or a list of them. It fails on
// anything it could not evaluate faithfully.
func Parse(doc []byte) (*Policy, error) {
	var d document
	if err := strictUnmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("iam: policy document: %v", err)
	}
	var raws []rawStatement
	switch s := bytes.TrimSpace(d.Statement); {
	case len(s) > 0 && s[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(s, &list); err != nil {
			return nil, fmt.Errorf("iam: Statement: %v", err)
		}
		raws = make([]rawStatement, len(list))
		for i, b := range list {
			if err := strictUnmarshal(b, &raws[i]); err != nil {
				return nil, fmt.Errorf("iam: statement %d: %v", i, err)
			}
		}
	case len(s) > 0 && s[0] == '{':
		raws = make([]rawStatement, 1)
		if err := strictUnmarshal(s, &raws[0]); err != nil {
			return nil, fmt.Errorf("iam: statement 0: %v", err)
		}
	default:
		return nil, errors.New("iam: Statement must be an object or a list")
	}
	p := &Policy{statements: make([]statement, len(raws))}
	for i := range raws {
		if err := compile(&raws[i], &p.statements[i]); err != nil {
			return nil, fmt.Errorf("iam: statement %d: %v", i, err)
		}
	}
	return p, nil
}

// strictUnmarshal decodes one JSON value into v, refusing fields v does
// not have.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// compile checks r and fills s.
func compile(r *rawStatement, s *statement) error {
	switch r.Effect {
	case "Allow":
	case "Deny":
		s.deny = true
	default:
		return fmt.Errorf("Effect must be Allow or Deny, not %q", r.Effect)
	}
	if c := bytes.TrimSpace(r.Condition); len(c) > 0 && !bytes.Equal(c, []byte("null")) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c, &m); err != nil {
			return fmt.Errorf("Condition: %v", err)
		}
		if len(m) > 0 {
			return errors.New("Condition is not supported")
		}
	}
	var err error
	if s.actions, s.notAction, err = either(r.Action, r.NotAction, "Action"); err != nil {
		return err
	}
	s.resources, s.notResource, err = either(r.Resource, r.NotResource, "Resource")
	return err
}

// either returns the one of an element and its Not form that is set.
func either(is, not *patterns, name string) (list []string, negated bool, err error) {
	switch {
	case is != nil && not != nil:
		return nil, false, fmt.Errorf("both %s and Not%s", name, name)
	case is != nil:
		return *is, false, nil
	case not != nil:
		return *not, true, nil
	}
	return nil, false, fmt.Errorf("neither %s nor Not%s", name, name)
}

// Allows reports whether p allows action on resource: no Deny statement
// applies and some Allow statement does.
func (p *Policy) Allows(action, resource string) bool {
	allowed := false
	for i := range p.statements {
		s := &p.statements[i]
		if !s.applies(action, resource) {
			continue
		}
		if s.deny {
			return false
		}
		allowed = true
	}
	return allowed
}

// applies reports whether s covers action on resource.
func (s *statement) applies(action, resource string) bool {
	return anyMatch(s.actions, action, true) != s.notAction &&
		anyMatch(s.resources, resource, false) != s.notResource
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if Match(p, s, fold) {
			return true
		}
	}
	return false
}

// Match reports whether s matches the IAM pattern p as a whole: '*'
// matches any run of characters, none included, and '?' exactly one
// character (a UTF-8 sequence, or one byte that is not valid UTF-8). With
// fold set, ASCII letters match either case. It runs in O(len(p)*len(s))
// time at worst and never allocates.
func Match(p, s string, fold bool) bool {
	var px, sx int
	// Where to resume after a mismatch: the last '*' seen, and the place
	// in s it will next try to absorb up to.
	starPx, starSx := -1, 0
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			default:
				if sx < len(s) && same(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		// Mismatch: let the last '*' absorb one more character of s.
		if starPx < 0 || starSx >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSx:])
		starSx += n
		px, sx = starPx+1, starSx
	}
	return true
}

// same compares two bytes, ASCII letters without regard to case when fold
// is set.
func same(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lower(a) == lower(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
