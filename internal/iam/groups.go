package iam

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
)

// CreateGroup creates a group.
func (s *Store) CreateGroup(ctx context.Context, name, path string) (*Group, error) {
	if err := validName("group", name, 128); err != nil {
		return nil, err
	}
	path, err := validPath(path)
	if err != nil {
		return nil, err
	}
	g := &Group{Name: name, ID: newID("AGPA"), Path: path, ARN: "arn:aws:iam::" + awsproto.AccountID + ":group" + path + name,
		Created: s.now().UTC().Truncate(time.Second)}
	if _, err := s.create(ctx, groupKey(name), g, "Group with name "+name); err != nil {
		return nil, err
	}
	return g, nil
}

// Group returns the named group.
func (s *Store) Group(name string) (*Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		return nil, errorf(fault.NotFound, NoSuchEntity, "The group with name %s cannot be found.", name)
	}
	return g, nil
}

// Groups returns the groups whose path starts with prefix, by name.
func (s *Store) Groups(prefix string) []*Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Group, 0, len(s.groups))
	for _, g := range s.groups {
		if strings.HasPrefix(g.Path, prefix) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *Group) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Members returns the users of a group, by name.
func (s *Store) Members(group string) []*User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*User
	for _, u := range s.users {
		if slices.Contains(u.Groups, group) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *User) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Store) changeGroup(ctx context.Context, name string, change func(g *Group) error) (*Group, error) {
	var out *Group
	err := retry(func() error {
		g, err := s.Group(name)
		if err != nil {
			return err
		}
		c := *g
		c.Inline = copyMap(g.Inline)
		c.Attached = append([]string(nil), g.Attached...)
		if err := change(&c); err != nil {
			return err
		}
		out = &c
		return s.update(ctx, groupKey(name), &c, g.revision)
	})
	return out, err
}

// DeleteGroup deletes a group with no users and no policies left.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	return retry(func() error {
		g, err := s.Group(name)
		if err != nil {
			return err
		}
		if len(s.Members(name)) > 0 {
			return errorf(fault.Conflict, DeleteConflict, "Cannot delete entity, must remove users from group first.")
		}
		if len(g.Inline) > 0 || len(g.Attached) > 0 {
			return errorf(fault.Conflict, DeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		return s.remove(ctx, groupKey(name), g.revision)
	})
}

// AddUserToGroup makes a user a member of a group (or, with remove,
// takes it out).
func (s *Store) AddUserToGroup(ctx context.Context, group, user string, remove bool) error {
	if _, err := s.Group(group); err != nil {
		return err
	}
	_, err := s.changeUser(ctx, user, func(u *User) error {
		i := slices.Index(u.Groups, group)
		switch {
		case remove && i < 0:
			return errorf(fault.NotFound, NoSuchEntity, "The user %s is not in the group %s.", user, group)
		case remove:
			u.Groups = slices.Delete(u.Groups, i, i+1)
		case i < 0:
			if len(u.Groups) >= 10 {
				return errorf(fault.Conflict, LimitExceeded, "Cannot exceed quota for GroupsPerUser: 10")
			}
			u.Groups = append(u.Groups, group)
		}
		return nil
	})
	return err
}

// PutGroupPolicy sets a group's inline policy name to doc.
func (s *Store) PutGroupPolicy(ctx context.Context, group, name, doc string) error {
	if err := validName("policy", name, 128); err != nil {
		return err
	}
	if _, err := parsePolicy(doc, MaxGroupInlinePolicySize); err != nil {
		return err
	}
	_, err := s.changeGroup(ctx, group, func(g *Group) error {
		g.Inline[name] = doc
		return inlineSize(g.Inline, MaxGroupInlinePolicySize)
	})
	return err
}

// DeleteGroupPolicy removes a group's inline policy.
func (s *Store) DeleteGroupPolicy(ctx context.Context, group, name string) error {
	_, err := s.changeGroup(ctx, group, func(g *Group) error {
		if _, ok := g.Inline[name]; !ok {
			return noSuchInline(name, "group", group)
		}
		delete(g.Inline, name)
		return nil
	})
	return err
}
