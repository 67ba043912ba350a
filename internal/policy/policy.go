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
// A statement's Condition holds when every operator's every key does:
// the String, Numeric, Date, Bool, BinaryEquals, IpAddress, Arn and Null
// operators, their IfExists forms and the ForAnyValue and ForAllValues
// set operators, as AWS documents them, against the request's condition
// keys (Context). Policy variables (${aws:username}) in resources and
// condition values take the request's values.
//
// What this package cannot evaluate makes the policy malformed rather
// than being skipped: an unknown condition operator, a value its
// operator cannot compare, an element it does not know (misspellings),
// or a Principal in an identity-based policy.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	vars        bool        // resources hold policy variables (${aws:username})
	conds       []condition // all must hold
	who         *principals // a resource policy's Principal or NotPrincipal
}

// principals is the Principal (or NotPrincipal) of a resource policy's
// statement.
type principals struct {
	not      bool
	anyone   bool     // "*", or {"AWS": "*"}
	aws      []string // ARNs; an account id is written as its root ARN
	services []string // e.g. lambda.amazonaws.com
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
	Sid          string          `json:"Sid"`
	Effect       string          `json:"Effect"`
	Action       *patterns       `json:"Action"`
	NotAction    *patterns       `json:"NotAction"`
	Resource     *patterns       `json:"Resource"`
	NotResource  *patterns       `json:"NotResource"`
	Condition    json.RawMessage `json:"Condition"`
	Principal    json.RawMessage `json:"Principal"`
	NotPrincipal json.RawMessage `json:"NotPrincipal"`
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

// Parse reads an identity-based policy document: {"Version": ...,
// "Statement": ...}, where Statement is one statement or a list of them.
// It fails on anything it could not evaluate faithfully, and on a
// Principal, which only resource-based policies have.
func Parse(doc []byte) (*Policy, error) { return parse(doc, false) }

// ParseResource reads a resource-based policy document (a role's trust
// policy, a bucket policy, a function's policy): every statement names
// its Principal or NotPrincipal. Evaluate it with DecideFor.
func ParseResource(doc []byte) (*Policy, error) { return parse(doc, true) }

func parse(doc []byte, resource bool) (*Policy, error) {
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
		if err := compile(&raws[i], &p.statements[i], resource); err != nil {
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
func compile(r *rawStatement, s *statement, resource bool) error {
	switch r.Effect {
	case "Allow":
	case "Deny":
		s.deny = true
	default:
		return fmt.Errorf("Effect must be Allow or Deny, not %q", r.Effect)
	}
	if c := bytes.TrimSpace(r.Condition); len(c) > 0 && !bytes.Equal(c, []byte("null")) {
		conds, err := parseConditions(c, resource)
		if err != nil {
			return err
		}
		s.conds = conds
	}
	var err error
	if s.actions, s.notAction, err = either(r.Action, r.NotAction, "Action"); err != nil {
		return err
	}
	hasP, hasNotP := len(r.Principal) > 0, len(r.NotPrincipal) > 0
	switch {
	case !resource && (hasP || hasNotP):
		return errors.New("Principal is not allowed in an identity-based policy")
	case resource && hasP && hasNotP:
		return errors.New("both Principal and NotPrincipal")
	case resource && !hasP && !hasNotP:
		return errors.New("a resource-based policy's statement needs a Principal")
	case resource:
		raw := r.Principal
		if hasNotP {
			raw = r.NotPrincipal
		}
		if s.who, err = parsePrincipals(raw); err != nil {
			return err
		}
		s.who.not = hasNotP
		if r.Resource == nil && r.NotResource == nil {
			// A trust policy names no resource: it is the role itself.
			s.resources = []string{"*"}
			return nil
		}
	}
	s.resources, s.notResource, err = either(r.Resource, r.NotResource, "Resource")
	for _, res := range s.resources {
		if strings.Contains(res, "${") {
			s.vars = true
		}
	}
	return err
}

// parsePrincipals reads a Principal element: "*", or an object of
// principal types (AWS, Service) to one name or a list.
func parsePrincipals(raw json.RawMessage) (*principals, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, fmt.Errorf("Principal %q: want \"*\" or an object", star)
		}
		return &principals{anyone: true}, nil
	}
	var m map[string]patterns
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("Principal: %v", err)
	}
	p := &principals{}
	for typ, names := range m {
		for _, n := range names {
			switch typ {
			case "AWS":
				switch {
				case n == "*":
					p.anyone = true
				case len(n) == 12 && strings.Trim(n, "0123456789") == "":
					p.aws = append(p.aws, "arn:aws:iam::"+n+":root")
				case strings.HasPrefix(n, "arn:"):
					p.aws = append(p.aws, n)
				default:
					return nil, fmt.Errorf("Invalid principal in policy: \"AWS\":\"%s\"", n)
				}
			case "Service":
				p.services = append(p.services, n)
			default:
				return nil, fmt.Errorf("Principal type %q is not supported", typ)
			}
		}
	}
	return p, nil
}

// Caller is who asks, as a resource policy's Principal can name them:
// the ARNs of an AWS principal (its own, and for a principal of an
// account, that account's root ARN), or the service that asks.
type Caller struct {
	ARNs    []string
	Service string
}

func (w *principals) match(c *Caller) bool {
	m := w.anyone
	for _, a := range w.aws {
		for _, b := range c.ARNs {
			if a == b {
				m = true
			}
		}
	}
	for _, s := range w.services {
		if c.Service != "" && s == c.Service {
			m = true
		}
	}
	return m != w.not
}

// DecideFor says whether the resource-based policy p allows or denies
// caller action on resource, or has nothing to say about it; ctx gives
// the request's condition keys (nil: it has none).
func (p *Policy) DecideFor(caller *Caller, action, resource string, ctx Context) Decision {
	d := NotApplicable
	for i := range p.statements {
		s := &p.statements[i]
		if s.who == nil || !s.who.match(caller) || !s.applies(action, resource, ctx) {
			continue
		}
		if s.deny {
			return Deny
		}
		d = Allow
	}
	return d
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

// Actions returns the action patterns p's statements name, in their
// Action or NotAction elements, each once.
func (p *Policy) Actions() []string {
	var out []string
	for i := range p.statements {
		for _, a := range p.statements[i].actions {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// Conditional reports whether a statement of p has a Condition.
func (p *Policy) Conditional() bool {
	for i := range p.statements {
		if len(p.statements[i].conds) > 0 {
			return true
		}
	}
	return false
}

// Decision is what a policy says of a request.
type Decision uint8

// The decisions, in the order in which several policies' combine: an
// explicit Deny in any wins over an Allow in any, which wins over no
// statement applying.
const (
	NotApplicable Decision = iota // no statement applies: denied unless another policy allows
	Allow                         // an Allow applies and no Deny does
	Deny                          // a Deny applies
)

// Decide says whether p allows or denies action on resource, or has
// nothing to say about it; ctx gives the request's condition keys and
// policy variables (nil: it has none).
func (p *Policy) Decide(action, resource string, ctx Context) Decision {
	d := NotApplicable
	for i := range p.statements {
		s := &p.statements[i]
		if !s.applies(action, resource, ctx) {
			continue
		}
		if s.deny {
			return Deny
		}
		d = Allow
	}
	return d
}

// Allows reports whether p allows action on resource: no Deny statement
// applies and some Allow statement does.
func (p *Policy) Allows(action, resource string) bool {
	return p.Decide(action, resource, nil) == Allow
}

// applies reports whether s covers action on resource.
func (s *statement) applies(action, resource string, ctx Context) bool {
	if anyMatch(s.actions, action, true) == s.notAction {
		return false
	}
	matched := false
	if s.vars {
		for _, p := range s.resources {
			if strings.Contains(p, "${") {
				p = substitute(p, ctx)
			}
			if Match(p, resource, false) {
				matched = true
				break
			}
		}
	} else {
		matched = anyMatch(s.resources, resource, false)
	}
	if matched == s.notResource {
		return false
	}
	for i := range s.conds {
		if !s.conds[i].holds(ctx) {
			return false
		}
	}
	return true
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
