package iam

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/policy"
)

// PrincipalKind is what kind of identity signed a request.
type PrincipalKind uint8

// The kinds.
const (
	RootPrincipal    PrincipalKind = iota + 1 // the account's root keys: everything is allowed
	UserPrincipal                             // an IAM user, with a long-term key or a session of its own
	RolePrincipal                             // a session of an assumed role
	ServicePrincipal                          // the platform acting for itself (event sources)
)

// Principal is who signed a request, with the identity-based policies in
// effect for them. Principals are compiled when identities change and
// shared by every request; they are never modified.
type Principal struct {
	Kind    PrincipalKind
	ARN     string // arn:aws:iam::ACCOUNT:user/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, ...
	UserID  string // AIDA..., or AROA...:SESSION for a role session
	Name    string // the user's or the role's name
	Session string // a role session's name
	Expires time.Time

	policies []*policy.Policy
	keys     principalKeys
}

// Root is the account's root principal.
var Root = (&Principal{Kind: RootPrincipal, ARN: "arn:aws:iam::" + awsproto.AccountID + ":root", UserID: awsproto.AccountID, Name: "root"}).withKeys()

// Platform is the platform acting for itself: event sources invoking
// functions.
var Platform = (&Principal{Kind: ServicePrincipal, ARN: "arn:aws:iam::" + awsproto.AccountID + ":root", UserID: awsproto.AccountID, Name: "aloft"}).withKeys()

// Authorize returns nil when p may perform action on resource, and
// otherwise an AccessDenied error worded as AWS's: who, what, on which
// resource, and why. Conditions see only the keys of the principal.
func (p *Principal) Authorize(action, resource string) error {
	return p.authorize(action, resource, p)
}

// AuthorizeRequest is Authorize with the request's condition keys too,
// and the resource's own policy (a function's, a bucket's; nil for
// none), which within the account allows as the caller's own policies
// do: an explicit deny in either wins, then an allow in either. It uses
// r, which must not be shared by concurrent calls.
func (p *Principal) AuthorizeRequest(action, resource string, r *Request, resourcePolicy *policy.Policy) error {
	r.p = p
	if p.Kind == RootPrincipal || p.Kind == ServicePrincipal {
		return nil
	}
	d := p.decide(action, resource, r)
	if d != policy.Deny && resourcePolicy != nil {
		switch resourcePolicy.DecideFor(p.caller(), action, resource, r) {
		case policy.Deny:
			return p.denied(action, resource, "with an explicit deny in a resource-based policy")
		case policy.Allow:
			if d == policy.NotApplicable {
				d = policy.Allow
			}
		}
	}
	return p.verdict(d, action, resource)
}

// DeniedBy reports a resource policy's explicit deny of p, whatever
// its kind: the account's root is otherwise allowed everything, but S3
// holds it to a bucket policy's Deny (save for the policy's own
// operations, which its caller keeps open to the root).
func (p *Principal) DeniedBy(resourcePolicy *policy.Policy, action, resource string, r *Request) error {
	r.p = p
	if resourcePolicy != nil && resourcePolicy.DecideFor(p.caller(), action, resource, r) == policy.Deny {
		return p.denied(action, resource, "with an explicit deny in a resource-based policy")
	}
	return nil
}

func (p *Principal) authorize(action, resource string, ctx policy.Context) error {
	if p.Kind == RootPrincipal || p.Kind == ServicePrincipal {
		return nil
	}
	return p.verdict(p.decide(action, resource, ctx), action, resource)
}

// decide combines the principal's identity-based policies.
func (p *Principal) decide(action, resource string, ctx policy.Context) policy.Decision {
	d := policy.NotApplicable
	for _, pol := range p.policies {
		switch pol.Decide(action, resource, ctx) {
		case policy.Deny:
			return policy.Deny
		case policy.Allow:
			d = policy.Allow
		}
	}
	return d
}

func (p *Principal) verdict(d policy.Decision, action, resource string) error {
	switch d {
	case policy.Allow:
		return nil
	case policy.Deny:
		return p.denied(action, resource, "with an explicit deny in an identity-based policy")
	}
	return p.denied(action, resource, "because no identity-based policy allows the "+action+" action")
}

func (p *Principal) denied(action, resource, why string) error {
	return &Error{Kind: fault.Denied, Reason: AccessDenied,
		Message: "User: " + p.ARN + " is not authorized to perform: " + action + " on resource: " + resource + " " + why}
}

// caller is p as a resource policy's Principal names it.
func (p *Principal) caller() *policy.Caller {
	arns := []string{p.ARN, "arn:aws:iam::" + awsproto.AccountID + ":root"}
	if p.Kind == RolePrincipal {
		arns = append(arns, "arn:aws:iam::"+awsproto.AccountID+":role/"+p.Name)
	}
	return &policy.Caller{ARNs: arns}
}

// view is the compiled state requests read: keys and principals.
type view struct {
	keys  map[string]keyEntry     // long-term keys, by id
	users map[string]*Principal   // by user name
	roles map[string]*rolePrivate // by role name
}

type keyEntry struct {
	secret    string
	active    bool
	principal *Principal
}

// rolePrivate is a role's compiled state: what its sessions may do, and
// who may assume it.
type rolePrivate struct {
	role     *Role
	policies []*policy.Policy
	trust    *policy.Policy
}

// publish compiles the maps into a new view. s.mu is held.
func (s *Store) publish() {
	parsed := map[string]*policy.Policy{}
	compile := func(doc string) *policy.Policy {
		if p, ok := parsed[doc]; ok {
			return p
		}
		p, err := policy.Parse([]byte(doc))
		if err != nil {
			s.log.Error("iam: stored policy cannot be evaluated; it allows nothing", "err", err)
			p = &policy.Policy{}
		}
		parsed[doc] = p
		return p
	}
	policiesOf := func(inline map[string]string, attached []string) []*policy.Policy {
		out := make([]*policy.Policy, 0, len(inline)+len(attached))
		for _, doc := range inline {
			out = append(out, compile(doc))
		}
		for _, arn := range attached {
			if mp := s.policies[arn]; mp != nil {
				out = append(out, compile(mp.Default()))
			}
		}
		return out
	}
	v := &view{keys: make(map[string]keyEntry, len(s.keys)), users: make(map[string]*Principal, len(s.users)),
		roles: make(map[string]*rolePrivate, len(s.roles))}
	for name, u := range s.users {
		pols := policiesOf(u.Inline, u.Attached)
		for _, gn := range u.Groups {
			if g := s.groups[gn]; g != nil {
				pols = append(pols, policiesOf(g.Inline, g.Attached)...)
			}
		}
		v.users[name] = (&Principal{Kind: UserPrincipal, ARN: u.ARN, UserID: u.ID, Name: name, policies: pols}).withKeys()
	}
	for name, r := range s.roles {
		trust, err := policy.ParseResource([]byte(r.TrustPolicy))
		if err != nil {
			s.log.Error("iam: stored trust policy cannot be evaluated; nobody may assume the role", "role", name, "err", err)
			trust = &policy.Policy{}
		}
		v.roles[name] = &rolePrivate{role: r, policies: policiesOf(r.Inline, r.Attached), trust: trust}
	}
	for id, k := range s.keys {
		if p := v.users[k.User]; p != nil {
			v.keys[id] = keyEntry{secret: k.Secret, active: k.Active, principal: p}
		}
	}
	s.view.Store(v)
}

// Lookup returns the secret of an access key id that IAM issued: a
// user's active key, or a session's; ok is false for any other id.
func (s *Store) Lookup(id string) (secret string, ok bool) {
	if strings.HasPrefix(id, sessionKeyPrefix) {
		return s.sessionSecret(id), true
	}
	k, ok := s.view.Load().keys[id]
	if !ok || !k.active {
		return "", false
	}
	return k.secret, true
}

// Resolve returns who signed with access key id, given the session token
// the request carried (empty for long-term keys). It fails with
// InvalidToken, ExpiredToken or InvalidClientToken.
func (s *Store) Resolve(id, token string) (*Principal, error) {
	v := s.view.Load()
	if !strings.HasPrefix(id, sessionKeyPrefix) {
		k, ok := v.keys[id]
		if !ok || !k.active {
			return nil, errorf(fault.Denied, InvalidClientToken, "The security token included in the request is invalid.")
		}
		if token != "" {
			return nil, errorf(fault.Denied, InvalidToken, "The security token included in the request is invalid.")
		}
		s.used(id)
		return k.principal, nil
	}
	t, err := s.openToken(token)
	if err != nil {
		return nil, err
	}
	if t.Key != id {
		return nil, errorf(fault.Denied, InvalidToken, "The security token included in the request is invalid.")
	}
	exp := time.Unix(t.Expires, 0)
	if !s.now().Before(exp) {
		return nil, errorf(fault.Denied, ExpiredToken, "The security token included in the request is expired")
	}
	switch t.Kind {
	case "role":
		r := v.roles[t.Name]
		if r == nil || r.role.ID != t.ID {
			return nil, errorf(fault.Denied, InvalidToken, "The security token included in the request is invalid: its role no longer exists.")
		}
		return (&Principal{Kind: RolePrincipal, ARN: assumedRoleARN(t.Name, t.Session), UserID: t.ID + ":" + t.Session,
			Name: t.Name, Session: t.Session, Expires: exp, policies: r.policies}).withKeys(), nil
	case "user":
		u := v.users[t.Name]
		if u == nil || u.UserID != t.ID {
			return nil, errorf(fault.Denied, InvalidToken, "The security token included in the request is invalid: its user no longer exists.")
		}
		c := *u
		c.Expires = exp
		return &c, nil
	}
	return nil, errorf(fault.Denied, InvalidToken, "The security token included in the request is invalid.")
}

func assumedRoleARN(role, session string) string {
	return "arn:aws:sts::" + awsproto.AccountID + ":assumed-role/" + role + "/" + session
}

// sessionKeyPrefix starts the key ids of temporary credentials, as AWS's.
const sessionKeyPrefix = "ASIA"

// token is what a session token says, under the signing secret's MAC.
type token struct {
	Key     string `json:"k"`
	Kind    string `json:"t"` // role or user
	Name    string `json:"n"` // the role's or user's name
	ID      string `json:"i"` // its unique id, so a namesake created later is not it
	Session string `json:"s,omitempty"`
	Expires int64  `json:"x"`
}

// sealToken returns t as a session token.
func (s *Store) sealToken(t *token) string {
	b, _ := json.Marshal(t) // a struct of strings and numbers always encodes
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("token:"))
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// openToken checks a session token's MAC and reads it.
func (s *Store) openToken(tok string) (*token, error) {
	invalid := errorf(fault.Denied, InvalidToken, "The security token included in the request is invalid.")
	body, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, invalid
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return nil, invalid
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("token:"))
	m.Write(b)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return nil, invalid
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, invalid
	}
	return &t, nil
}

// sessionSecret derives the secret of session key id.
func (s *Store) sessionSecret(id string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("secret:"))
	m.Write([]byte(id))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))[:40]
}

// Credentials are temporary credentials of a session.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// AssumedRole names a role session.
type AssumedRole struct {
	ARN string // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
	ID  string // ROLEID:SESSION
}

// AssumeRole gives caller temporary credentials of the role with ARN
// roleARN, for duration (0 means an hour), if the role's trust policy
// lets them: naming the caller allows it outright; naming the account
// (or its root) also needs the caller's own policies to allow
// sts:AssumeRole on the role.
func (s *Store) AssumeRole(caller *Principal, roleARN, session string, duration time.Duration) (*Credentials, *AssumedRole, error) {
	if !validSessionName(session) {
		return nil, nil, errorf(fault.Invalid, InvalidInput, "1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	name, ok := roleNameOf(roleARN)
	v := s.view.Load()
	r := v.roles[name]
	if !ok || r == nil || r.role.ARN != roleARN {
		return nil, nil, caller.denied("sts:AssumeRole", roleARN, "because the role does not exist")
	}
	if duration == 0 {
		duration = DefaultSessionDuration
	}
	if duration < MinSessionDuration || duration > time.Duration(r.role.MaxSessionDuration)*time.Second {
		return nil, nil, errorf(fault.Invalid, InvalidInput, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	if caller.Kind == RolePrincipal && duration > time.Hour {
		return nil, nil, errorf(fault.Invalid, InvalidInput, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if !s.mayAssume(caller, r, roleARN) {
		return nil, nil, caller.denied("sts:AssumeRole", roleARN, "because the role's trust policy does not allow it")
	}
	creds := s.newSession(&token{Kind: "role", Name: name, ID: r.role.ID, Session: session}, duration)
	return creds, &AssumedRole{ARN: assumedRoleARN(name, session), ID: r.role.ID + ":" + session}, nil
}

// mayAssume applies the trust policy, and the caller's policies when the
// trust policy names only the account.
func (s *Store) mayAssume(caller *Principal, r *rolePrivate, roleARN string) bool {
	if caller.Kind == ServicePrincipal {
		return r.trust.DecideFor(&policy.Caller{Service: "lambda.amazonaws.com"}, "sts:AssumeRole", roleARN, nil) == policy.Allow
	}
	named := &policy.Caller{ARNs: []string{caller.ARN}}
	if caller.Kind == RolePrincipal {
		named.ARNs = append(named.ARNs, "arn:aws:iam::"+awsproto.AccountID+":role/"+caller.Name)
	}
	switch r.trust.DecideFor(named, "sts:AssumeRole", roleARN, caller) {
	case policy.Deny:
		return false
	case policy.Allow:
		return r.trust.DecideFor(caller.caller(), "sts:AssumeRole", roleARN, caller) != policy.Deny
	}
	if r.trust.DecideFor(caller.caller(), "sts:AssumeRole", roleARN, caller) != policy.Allow {
		return false
	}
	return caller.Authorize("sts:AssumeRole", roleARN) == nil
}

// ExecutionCredentials gives a function's instances temporary
// credentials of its execution role roleARN, for duration, if the role
// exists and trusts Lambda; session names the function.
func (s *Store) ExecutionCredentials(roleARN, session string, duration time.Duration) (*Credentials, error) {
	if err := s.CheckExecutionRole(roleARN); err != nil {
		return nil, err
	}
	name, _ := roleNameOf(roleARN)
	r := s.view.Load().roles[name]
	return s.newSession(&token{Kind: "role", Name: name, ID: r.role.ID, Session: session}, duration), nil
}

// SessionToken gives a user temporary credentials of their own, for
// duration (0 means 12 hours), as STS's GetSessionToken does.
func (s *Store) SessionToken(caller *Principal, duration time.Duration) (*Credentials, error) {
	if caller.Kind != UserPrincipal || caller.Expires != (time.Time{}) {
		return nil, errorf(fault.Denied, AccessDenied, "Cannot call GetSessionToken with session credentials")
	}
	if duration == 0 {
		duration = 12 * time.Hour
	}
	if duration < MinSessionDuration || duration > 36*time.Hour {
		return nil, errorf(fault.Invalid, InvalidInput, "The requested DurationSeconds is out of range: 900 to 129600.")
	}
	return s.newSession(&token{Kind: "user", Name: caller.Name, ID: caller.UserID}, duration), nil
}

func (s *Store) newSession(t *token, duration time.Duration) *Credentials {
	t.Key = newID(sessionKeyPrefix)[:20]
	exp := s.now().Add(duration).Truncate(time.Second)
	t.Expires = exp.Unix()
	return &Credentials{AccessKeyID: t.Key, SecretAccessKey: s.sessionSecret(t.Key), SessionToken: s.sealToken(t), Expiration: exp}
}

// roleNameOf reads the name from a role ARN (arn:aws:iam::ACCOUNT:role/PATH/NAME).
func roleNameOf(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::"+awsproto.AccountID+":role/")
	if !ok || rest == "" {
		return "", false
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		rest = rest[i+1:]
	}
	return rest, rest != ""
}

func validSessionName(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+=,.@-", c)) {
			return false
		}
	}
	return true
}
