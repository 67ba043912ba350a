// Package iam keeps Aloft's identities and their permissions: IAM users
// with their access keys, roles with their trust policies, inline and
// managed policies, and the temporary credentials of STS sessions. It
// answers the two questions every request asks: who signed it
// (Resolve, from an access key id and a session token) and may they do
// it (Principal.Authorize).
//
// The state lives on the backbone, in the JetStream key-value bucket
// aloft_iam, one document per user, role, managed policy and access key.
// A watch on the bucket keeps an in-memory copy current on every node and
// publishes, at each change, a compiled view (keys by id, principals with
// their parsed policies) behind an atomic pointer, so a request reads no
// lock and waits on nothing, and a key deleted or deactivated on any node
// stops working within the watch's delay (milliseconds).
//
// Session credentials need no storage: the key id is random, its secret
// is derived from the id with a signing secret kept in the bucket, and
// the session token carries, under the same secret's MAC, who the
// session is and when it ends. A session lives no longer than its role
// or user: it resolves only while they exist.
package iam

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/policy"
)

const (
	bucket       = "aloft_iam"
	userPrefix   = "user."
	rolePrefix   = "role."
	groupPrefix  = "group."
	policyPrefix = "policy."
	keyPrefix    = "key."
	secretKey    = "signing-secret"
)

// Limits, as AWS's.
const (
	MaxKeysPerUser           = 2
	MaxAttachedPolicies      = 10
	MaxPolicyVersions        = 5
	MaxUserInlinePolicySize  = 2048  // characters other than white space, all of a user's inline policies
	MaxRoleInlinePolicySize  = 10240 // likewise, a role's
	MaxGroupInlinePolicySize = 5120  // likewise, a group's
	MaxManagedPolicySize     = 6144  // one managed policy version
	MaxTrustPolicySize       = 2048
	DefaultSessionDuration   = time.Hour
	MinSessionDuration       = 15 * time.Minute
	MaxSessionDurationLimit  = 12 * time.Hour
)

// Reason says why IAM refused a request, beyond its fault.Kind; the API
// words each as IAM does.
type Reason uint8

// The reasons.
const (
	InvalidInput       Reason = iota + 1 // a parameter is malformed or out of range
	NoSuchEntity                         // the named user, role, policy, key or version does not exist
	AlreadyExists                        // an entity of that name exists
	DeleteConflict                       // it still has what must go first (keys, policies, attachments)
	LimitExceeded                        // one more would break a limit
	MalformedPolicy                      // a policy document is not one
	InvalidToken                         // a session token is forged, foreign or not for this key
	ExpiredToken                         // a session has ended
	AccessDenied                         // the principal may not do this
	InvalidClientToken                   // the access key id is not known
)

// Error is a refusal: its kind, its reason and a message for the caller.
type Error struct {
	Kind    fault.Kind
	Reason  Reason
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// FaultKind returns e's kind.
func (e *Error) FaultKind() fault.Kind { return e.Kind }

func errorf(k fault.Kind, r Reason, format string, args ...any) *Error {
	return &Error{Kind: k, Reason: r, Message: fmt.Sprintf(format, args...)}
}

// Tag is a key and value attached to a user, role or policy.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// User is an IAM user.
type User struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Path     string            `json:"path"`
	ARN      string            `json:"arn"`
	Created  time.Time         `json:"created"`
	Tags     []Tag             `json:"tags,omitempty"`
	Inline   map[string]string `json:"inline,omitempty"`   // policy name → document
	Attached []string          `json:"attached,omitempty"` // managed policy ARNs
	Groups   []string          `json:"groups,omitempty"`   // names of the groups it belongs to
	revision uint64
}

// Group is an IAM group: its policies apply to each of its users.
type Group struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Path     string            `json:"path"`
	ARN      string            `json:"arn"`
	Created  time.Time         `json:"created"`
	Inline   map[string]string `json:"inline,omitempty"`
	Attached []string          `json:"attached,omitempty"`
	revision uint64
}

// Role is an IAM role.
type Role struct {
	Name               string            `json:"name"`
	ID                 string            `json:"id"`
	Path               string            `json:"path"`
	ARN                string            `json:"arn"`
	Description        string            `json:"description,omitempty"`
	Created            time.Time         `json:"created"`
	MaxSessionDuration int               `json:"maxSessionDuration"` // seconds
	TrustPolicy        string            `json:"trustPolicy"`
	Tags               []Tag             `json:"tags,omitempty"`
	Inline             map[string]string `json:"inline,omitempty"`
	Attached           []string          `json:"attached,omitempty"`
	revision           uint64
}

// PolicyVersion is one version of a managed policy's document.
type PolicyVersion struct {
	ID       string    `json:"id"` // v1, v2, ...
	Document string    `json:"document"`
	Created  time.Time `json:"created"`
}

// Policy is a managed policy.
type Policy struct {
	Name           string          `json:"name"`
	ID             string          `json:"id"`
	Path           string          `json:"path"`
	ARN            string          `json:"arn"`
	Description    string          `json:"description,omitempty"`
	Created        time.Time       `json:"created"`
	Updated        time.Time       `json:"updated"`
	DefaultVersion string          `json:"defaultVersion"`
	Versions       []PolicyVersion `json:"versions"`
	NextVersion    int             `json:"nextVersion"`
	Tags           []Tag           `json:"tags,omitempty"`
	revision       uint64
}

// Default returns the default version's document.
func (p *Policy) Default() string {
	for _, v := range p.Versions {
		if v.ID == p.DefaultVersion {
			return v.Document
		}
	}
	return ""
}

// AccessKey is a user's long-term access key.
type AccessKey struct {
	ID       string    `json:"id"`
	Secret   string    `json:"secret"`
	User     string    `json:"user"`
	Active   bool      `json:"active"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"lastUsed,omitzero"` // kept to within an hour
	revision uint64
}

// Status words the key's state as IAM does.
func (k *AccessKey) Status() string {
	if k.Active {
		return "Active"
	}
	return "Inactive"
}

// Store is the identities and their permissions. Create it with Open;
// its methods are safe for concurrent use.
type Store struct {
	kv     jetstream.KeyValue
	log    *slog.Logger
	now    func() time.Time
	secret []byte // signs session tokens and derives session secrets

	mu       sync.Mutex // guards the maps, and the order of published views
	users    map[string]*User
	groups   map[string]*Group
	roles    map[string]*Role
	policies map[string]*Policy // by ARN
	keys     map[string]*AccessKey
	view     atomic.Pointer[view]
	live     bool // guarded by mu: the replay is over; each change publishes

	lastUsed sync.Map // access key id → *keyUse, this node's

	follow *follow.Follower
}

// Open creates or opens the bucket, loads it and watches it for changes
// made by any node.
func Open(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("iam: open bucket: %w", err)
	}
	s := &Store{kv: kv, log: log, now: time.Now, users: map[string]*User{}, groups: map[string]*Group{}, roles: map[string]*Role{},
		policies: map[string]*Policy{}, keys: map[string]*AccessKey{}}
	if s.secret, err = follow.Secret(ctx, kv, secretKey); err != nil {
		return nil, err
	}
	s.follow, err = follow.KV(ctx, kv, func(e jetstream.KeyValueEntry) {
		s.mu.Lock()
		s.apply(e)
		if s.live {
			s.publish()
		}
		s.mu.Unlock()
	}, func() {
		s.mu.Lock()
		s.publish()
		s.live = true
		s.mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("iam: %w", err)
	}
	return s, nil
}

// Close stops the watch.
func (s *Store) Close() { s.follow.Stop() }

// apply folds one change of the bucket into the maps. s.mu is held.
func (s *Store) apply(e jetstream.KeyValueEntry) {
	k := e.Key()
	del := follow.Deleted(e)
	var err error
	switch {
	case strings.HasPrefix(k, userPrefix):
		err = applyDoc(s.users, unescape(strings.TrimPrefix(k, userPrefix)), e, del)
	case strings.HasPrefix(k, groupPrefix):
		err = applyDoc(s.groups, unescape(strings.TrimPrefix(k, groupPrefix)), e, del)
	case strings.HasPrefix(k, rolePrefix):
		err = applyDoc(s.roles, unescape(strings.TrimPrefix(k, rolePrefix)), e, del)
	case strings.HasPrefix(k, policyPrefix):
		err = applyDoc(s.policies, policyARN(unescape(strings.TrimPrefix(k, policyPrefix))), e, del)
	case strings.HasPrefix(k, keyPrefix):
		err = applyDoc(s.keys, strings.TrimPrefix(k, keyPrefix), e, del)
	}
	if err != nil {
		s.log.Error("iam: unreadable document", "key", k, "err", err)
	}
}

// doc is a stored document that remembers the revision it was read at.
type doc[T any] interface {
	*T
	setRevision(uint64)
}

func (u *User) setRevision(r uint64)      { u.revision = r }
func (g *Group) setRevision(r uint64)     { g.revision = r }
func (r *Role) setRevision(v uint64)      { r.revision = v }
func (p *Policy) setRevision(r uint64)    { p.revision = r }
func (k *AccessKey) setRevision(r uint64) { k.revision = r }

// applyDoc folds one change of a document into m, under id.
func applyDoc[T any, P doc[T]](m map[string]*T, id string, e jetstream.KeyValueEntry, del bool) error {
	if del {
		delete(m, id)
		return nil
	}
	d := new(T)
	P(d).setRevision(e.Revision())
	if err := json.Unmarshal(e.Value(), d); err != nil {
		return err
	}
	m[id] = d
	return nil
}

// policyARN is the ARN of the customer managed policy whose path and
// name, without the leading '/', are rest.
func policyARN(rest string) string {
	return "arn:aws:iam::" + awsproto.AccountID + ":policy/" + rest
}

// The bucket keys of each kind of document. Names may hold characters
// keys may not (+=,.@), which escape writes as =XX.
func userKey(name string) string  { return userPrefix + escape(name) }
func roleKey(name string) string  { return rolePrefix + escape(name) }
func groupKey(name string) string { return groupPrefix + escape(name) }
func policyKey(arn string) string {
	return policyPrefix + escape(strings.TrimPrefix(arn, "arn:aws:iam::"+awsproto.AccountID+":policy/"))
}

// escape writes s with every byte other than letters, digits, '-', '_'
// and '/' as =XX.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}

// unescape reverses escape.
func unescape(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '=' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// create stores a new document under key, failing with AlreadyExists.
func (s *Store) create(ctx context.Context, key string, v any, what string) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("iam: encode %s: %w", key, err)
	}
	rev, err := s.kv.Create(ctx, key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, errorf(fault.Conflict, AlreadyExists, "%s already exists.", what)
	}
	if err != nil {
		return 0, fmt.Errorf("iam: store %s: %w", key, err)
	}
	s.await(key, rev)
	return rev, nil
}

// update replaces the document under key if it is still at revision rev.
func (s *Store) update(ctx context.Context, key string, v any, rev uint64) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("iam: encode %s: %w", key, err)
	}
	nrev, err := s.kv.Update(ctx, key, b, rev)
	if err != nil {
		return fmt.Errorf("iam: store %s: %w", key, err)
	}
	s.await(key, nrev)
	return nil
}

// remove deletes the document under key if it is still at revision rev.
func (s *Store) remove(ctx context.Context, key string, rev uint64) error {
	if err := s.kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("iam: delete %s: %w", key, err)
	}
	// A delete's revision is not returned; read it back through the
	// watch by waiting for the key to leave the maps.
	s.awaitGone(key)
	return nil
}

// await waits, briefly, until the watch has applied revision rev of key
// on this node, so that a caller reads its own writes.
func (s *Store) await(key string, rev uint64) {
	for range 200 {
		s.mu.Lock()
		got := s.revisionOf(key)
		s.mu.Unlock()
		if got >= rev {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *Store) awaitGone(key string) {
	for range 200 {
		s.mu.Lock()
		got := s.revisionOf(key)
		s.mu.Unlock()
		if got == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// revisionOf returns the revision of key held, or 0. s.mu is held.
func (s *Store) revisionOf(key string) uint64 {
	switch {
	case strings.HasPrefix(key, userPrefix):
		if u := s.users[unescape(strings.TrimPrefix(key, userPrefix))]; u != nil {
			return u.revision
		}
	case strings.HasPrefix(key, rolePrefix):
		if r := s.roles[unescape(strings.TrimPrefix(key, rolePrefix))]; r != nil {
			return r.revision
		}
	case strings.HasPrefix(key, groupPrefix):
		if g := s.groups[unescape(strings.TrimPrefix(key, groupPrefix))]; g != nil {
			return g.revision
		}
	case strings.HasPrefix(key, policyPrefix):
		if p := s.policies[policyARN(unescape(strings.TrimPrefix(key, policyPrefix)))]; p != nil {
			return p.revision
		}
	case strings.HasPrefix(key, keyPrefix):
		if k := s.keys[strings.TrimPrefix(key, keyPrefix)]; k != nil {
			return k.revision
		}
	}
	return 0
}

// retry runs fn until it does not fail with a revision conflict (another
// node changed the same document meanwhile), a few times.
func retry(fn func() error) error {
	var err error
	for range 5 {
		if err = fn(); !isConflict(err) {
			return err
		}
	}
	return err
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// newID returns an IAM unique id: prefix and 17 random upper-case
// letters and digits.
func newID(prefix string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 17)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return prefix + string(b)
}

// parsePolicy checks a policy document for use as an identity policy and
// its size against limit (characters other than white space).
func parsePolicy(doc string, limit int) (*policy.Policy, error) {
	if n := len(doc) - strings.Count(doc, " ") - strings.Count(doc, "\n") - strings.Count(doc, "\t") - strings.Count(doc, "\r"); n > limit {
		return nil, errorf(fault.Conflict, LimitExceeded, "Cannot exceed quota for PolicySize: %d", limit)
	}
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		return nil, errorf(fault.Invalid, MalformedPolicy, "%s", strings.TrimPrefix(err.Error(), "iam: "))
	}
	return p, nil
}

// copyOf returns a shallow copy of v for a read-modify-write; maps and
// slices are copied too, so the held document is never changed.
func copyUser(u *User) *User {
	c := *u
	c.Inline = copyMap(u.Inline)
	c.Attached = append([]string(nil), u.Attached...)
	c.Tags = append([]Tag(nil), u.Tags...)
	c.Groups = append([]string(nil), u.Groups...)
	return &c
}

func copyRole(r *Role) *Role {
	c := *r
	c.Inline = copyMap(r.Inline)
	c.Attached = append([]string(nil), r.Attached...)
	c.Tags = append([]Tag(nil), r.Tags...)
	return &c
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// markerPrefix keys the markers of one-time steps (Once).
const markerPrefix = "once."

// Once reports whether this is the first call for step on the backbone:
// it records step so that every later call, on any node, answers false.
func (s *Store) Once(ctx context.Context, step string) (bool, error) {
	_, err := s.kv.Create(ctx, markerPrefix+escape(step), []byte(s.now().UTC().Format(time.RFC3339)))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("iam: record step %s: %w", step, err)
	}
	return true, nil
}
