package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
)

// validName checks a user, role, policy or group name: 1 to max of
// letters, digits and +=,.@_-.
func validName(kind, name string, max int) error {
	if len(name) < 1 || len(name) > max {
		return errorf(fault.Invalid, InvalidInput, "1 validation error detected: Value '%s' at '%sName' failed to satisfy constraint: Member must have length between 1 and %d", name, kind, max)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+=,.@_-", c)) {
			return errorf(fault.Invalid, InvalidInput, "1 validation error detected: Value '%s' at '%sName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name, kind)
		}
	}
	return nil
}

// validPath checks an IAM path: / alone, or /.../ .
func validPath(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if len(p) > 512 || p[0] != '/' || p[len(p)-1] != '/' || strings.Contains(p, "//") {
		return "", errorf(fault.Invalid, InvalidInput, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return p, nil
}

// CreateUser creates a user.
func (s *Store) CreateUser(ctx context.Context, name, path string, tags []Tag) (*User, error) {
	if err := validName("user", name, 64); err != nil {
		return nil, err
	}
	path, err := validPath(path)
	if err != nil {
		return nil, err
	}
	if err := validTags(tags); err != nil {
		return nil, err
	}
	u := &User{Name: name, ID: newID("AIDA"), Path: path, ARN: "arn:aws:iam::" + awsproto.AccountID + ":user" + path + name,
		Created: s.now().UTC().Truncate(time.Second), Tags: tags}
	if _, err := s.create(ctx, userKey(name), u, "User with name "+name); err != nil {
		return nil, err
	}
	return u, nil
}

// User returns the named user.
func (s *Store) User(name string) (*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[name]
	if u == nil {
		return nil, noSuchUser(name)
	}
	return u, nil
}

func noSuchUser(name string) error {
	return errorf(fault.NotFound, NoSuchEntity, "The user with name %s cannot be found.", name)
}

// Users returns the users whose path starts with prefix, by name.
func (s *Store) Users(prefix string) []*User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*User, 0, len(s.users))
	for _, u := range s.users {
		if strings.HasPrefix(u.Path, prefix) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *User) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// changeUser applies change to a copy of the named user and stores it.
func (s *Store) changeUser(ctx context.Context, name string, change func(u *User) error) (*User, error) {
	var out *User
	err := retry(func() error {
		u, err := s.User(name)
		if err != nil {
			return err
		}
		c := copyUser(u)
		if err := change(c); err != nil {
			return err
		}
		out = c
		return s.update(ctx, userKey(name), c, u.revision)
	})
	return out, err
}

// UpdateUser renames a user or moves it to another path.
func (s *Store) UpdateUser(ctx context.Context, name, newName, newPath string) error {
	if newName != "" && newName != name {
		return errorf(fault.Invalid, InvalidInput, "Renaming a user is not supported; create a user of the new name.")
	}
	_, err := s.changeUser(ctx, name, func(u *User) error {
		if newPath != "" {
			p, err := validPath(newPath)
			if err != nil {
				return err
			}
			u.Path, u.ARN = p, "arn:aws:iam::"+awsproto.AccountID+":user"+p+u.Name
		}
		return nil
	})
	return err
}

// DeleteUser deletes a user that has no access keys and no policies
// left, as IAM requires.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return retry(func() error {
		u, err := s.User(name)
		if err != nil {
			return err
		}
		if len(u.Inline) > 0 || len(u.Attached) > 0 || len(s.AccessKeys(name)) > 0 {
			return errorf(fault.Conflict, DeleteConflict, "Cannot delete entity, must delete policies and access keys first.")
		}
		if len(u.Groups) > 0 {
			return errorf(fault.Conflict, DeleteConflict, "Cannot delete entity, must remove users from group first.")
		}
		return s.remove(ctx, userKey(name), u.revision)
	})
}

// CreateAccessKey gives a user a new active key; a user has at most two.
func (s *Store) CreateAccessKey(ctx context.Context, user string) (*AccessKey, error) {
	if _, err := s.User(user); err != nil {
		return nil, err
	}
	if len(s.AccessKeys(user)) >= MaxKeysPerUser {
		return nil, errorf(fault.Conflict, LimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", MaxKeysPerUser)
	}
	secret := make([]byte, 30)
	rand.Read(secret) // crypto/rand.Read never fails
	k := &AccessKey{ID: newID("AKIA")[:20], Secret: base64.StdEncoding.EncodeToString(secret), User: user, Active: true,
		Created: s.now().UTC().Truncate(time.Second)}
	if _, err := s.create(ctx, keyPrefix+k.ID, k, "Access key "+k.ID); err != nil {
		return nil, err
	}
	return k, nil
}

// AccessKeys returns a user's keys, oldest first.
func (s *Store) AccessKeys(user string) []*AccessKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*AccessKey
	for _, k := range s.keys {
		if k.User == user {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b *AccessKey) int { return a.Created.Compare(b.Created) })
	return out
}

// accessKey returns a user's key by id.
func (s *Store) accessKey(user, id string) (*AccessKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[id]
	if k == nil || (user != "" && k.User != user) {
		return nil, errorf(fault.NotFound, NoSuchEntity, "The Access Key with id %s cannot be found.", id)
	}
	return k, nil
}

// UpdateAccessKey activates or deactivates a key.
func (s *Store) UpdateAccessKey(ctx context.Context, user, id string, active bool) error {
	return retry(func() error {
		k, err := s.accessKey(user, id)
		if err != nil {
			return err
		}
		c := *k
		c.Active = active
		return s.update(ctx, keyPrefix+id, &c, k.revision)
	})
}

// DeleteAccessKey deletes a key.
func (s *Store) DeleteAccessKey(ctx context.Context, user, id string) error {
	return retry(func() error {
		k, err := s.accessKey(user, id)
		if err != nil {
			return err
		}
		return s.remove(ctx, keyPrefix+id, k.revision)
	})
}

// KeyUse is when and where a key was last used, as this node saw it.
type KeyUse struct {
	User string
	When time.Time // zero when never
}

type keyUse struct {
	unix    atomic.Int64 // last use seen on this node
	saved   atomic.Int64 // last use written to the backbone
	writing atomic.Bool  // a write is under way
}

// lastUsedGrain is how stale the last use kept on the backbone may be:
// a key's document is written at most this often, not on every request.
const lastUsedGrain = time.Hour

// used records that key id signed a request now: in memory at once, and
// on the backbone (for every node, and past restarts) when what is kept
// there is older than lastUsedGrain, by a write in the background.
func (s *Store) used(id string) {
	now := s.now().Unix()
	u, ok := s.lastUsed.Load(id)
	if !ok {
		ku := &keyUse{}
		if k, err := s.accessKey("", id); err == nil && !k.LastUsed.IsZero() {
			ku.saved.Store(k.LastUsed.Unix())
		}
		u, _ = s.lastUsed.LoadOrStore(id, ku)
	}
	ku := u.(*keyUse)
	if ku.unix.Load() != now {
		ku.unix.Store(now)
	}
	if now-ku.saved.Load() < int64(lastUsedGrain/time.Second) || !ku.writing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer ku.writing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := retry(func() error {
			k, err := s.accessKey("", id)
			if err != nil {
				return err
			}
			c := *k
			c.LastUsed = time.Unix(now, 0).UTC()
			return s.update(ctx, keyPrefix+id, &c, k.revision)
		})
		if err == nil {
			ku.saved.Store(now)
		}
	}()
}

// LastUsed returns when key id last signed a request: on this node, or
// as the backbone keeps it (to within an hour) for the others.
func (s *Store) LastUsed(id string) (*KeyUse, error) {
	k, err := s.accessKey("", id)
	if err != nil {
		return nil, err
	}
	out := &KeyUse{User: k.User, When: k.LastUsed}
	if u, ok := s.lastUsed.Load(id); ok {
		if t := time.Unix(u.(*keyUse).unix.Load(), 0).UTC(); t.After(out.When) {
			out.When = t
		}
	}
	return out, nil
}

// PutUserPolicy sets a user's inline policy name to doc.
func (s *Store) PutUserPolicy(ctx context.Context, user, name, doc string) error {
	if err := validName("policy", name, 128); err != nil {
		return err
	}
	if _, err := parsePolicy(doc, MaxUserInlinePolicySize); err != nil {
		return err
	}
	_, err := s.changeUser(ctx, user, func(u *User) error {
		u.Inline[name] = doc
		return inlineSize(u.Inline, MaxUserInlinePolicySize)
	})
	return err
}

// DeleteUserPolicy removes a user's inline policy.
func (s *Store) DeleteUserPolicy(ctx context.Context, user, name string) error {
	_, err := s.changeUser(ctx, user, func(u *User) error {
		if _, ok := u.Inline[name]; !ok {
			return noSuchInline(name, "user", user)
		}
		delete(u.Inline, name)
		return nil
	})
	return err
}

func noSuchInline(name, kind, owner string) error {
	return errorf(fault.NotFound, NoSuchEntity, "The %s policy with name %s cannot be found.", kind, name)
}

// inlineSize checks the size of all inline policies of one identity.
func inlineSize(m map[string]string, limit int) error {
	n := 0
	for _, doc := range m {
		n += len(doc) - strings.Count(doc, " ") - strings.Count(doc, "\n") - strings.Count(doc, "\t") - strings.Count(doc, "\r")
	}
	if n > limit {
		return errorf(fault.Conflict, LimitExceeded, "Maximum policy size of %d bytes exceeded for the identity's inline policies.", limit)
	}
	return nil
}

func validTags(tags []Tag) error {
	if len(tags) > 50 {
		return errorf(fault.Conflict, LimitExceeded, "Cannot exceed quota for TagsPerEntity: 50")
	}
	for _, t := range tags {
		if len(t.Key) < 1 || len(t.Key) > 128 || len(t.Value) > 256 {
			return errorf(fault.Invalid, InvalidInput, "1 validation error detected: a tag's key must be 1 to 128 characters and its value at most 256.")
		}
	}
	return nil
}

// TagUser adds or replaces tags of a user.
func (s *Store) TagUser(ctx context.Context, name string, tags []Tag) error {
	_, err := s.changeUser(ctx, name, func(u *User) error {
		u.Tags = mergeTags(u.Tags, tags)
		return validTags(u.Tags)
	})
	return err
}

// UntagUser removes tags of a user by key.
func (s *Store) UntagUser(ctx context.Context, name string, keys []string) error {
	_, err := s.changeUser(ctx, name, func(u *User) error {
		u.Tags = dropTags(u.Tags, keys)
		return nil
	})
	return err
}

// mergeTags returns have with add's tags set, replacing those of the
// same key.
func mergeTags(have, add []Tag) []Tag {
	out := slices.Clone(have)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(o Tag) bool { return o.Key == t.Key }); i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	return out
}

// dropTags returns have without the tags of keys.
func dropTags(have []Tag, keys []string) []Tag {
	return slices.DeleteFunc(slices.Clone(have), func(t Tag) bool { return slices.Contains(keys, t.Key) })
}
