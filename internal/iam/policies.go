package iam

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
)

// CreatePolicy creates a customer managed policy with doc as its first,
// default version.
func (s *Store) CreatePolicy(ctx context.Context, name, path, description, doc string, tags []Tag) (*Policy, error) {
	if err := validName("policy", name, 128); err != nil {
		return nil, err
	}
	path, err := validPath(path)
	if err != nil {
		return nil, err
	}
	if _, err := parsePolicy(doc, MaxManagedPolicySize); err != nil {
		return nil, err
	}
	if err := validTags(tags); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	p := &Policy{Name: name, ID: newID("ANPA"), Path: path, ARN: "arn:aws:iam::" + awsproto.AccountID + ":policy" + path + name,
		Description: description, Created: now, Updated: now, DefaultVersion: "v1",
		Versions: []PolicyVersion{{ID: "v1", Document: doc, Created: now}}, NextVersion: 2, Tags: tags}
	if _, err := s.create(ctx, policyKey(p.ARN), p, "A policy called "+name); err != nil {
		return nil, err
	}
	return p, nil
}

// Policy returns the managed policy with ARN arn.
func (s *Store) Policy(arn string) (*Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.policies[arn]
	if p == nil {
		return nil, errorf(fault.NotFound, NoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
	}
	return p, nil
}

// Policies returns the managed policies whose path starts with prefix,
// by name, with the number of identities each is attached to.
func (s *Store) Policies(prefix string) ([]*Policy, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Policy, 0, len(s.policies))
	for _, p := range s.policies {
		if strings.HasPrefix(p.Path, prefix) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Policy) int { return strings.Compare(a.Name, b.Name) })
	return out, s.attachments()
}

// Attachments returns how many users and roles each policy is attached to.
func (s *Store) Attachments(arn string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attachments()[arn]
}

// attachments counts by policy ARN. s.mu is held.
func (s *Store) attachments() map[string]int {
	n := map[string]int{}
	for _, u := range s.users {
		for _, a := range u.Attached {
			n[a]++
		}
	}
	for _, r := range s.roles {
		for _, a := range r.Attached {
			n[a]++
		}
	}
	for _, g := range s.groups {
		for _, a := range g.Attached {
			n[a]++
		}
	}
	return n
}

func (s *Store) changePolicy(ctx context.Context, arn string, change func(p *Policy) error) (*Policy, error) {
	var out *Policy
	err := retry(func() error {
		p, err := s.Policy(arn)
		if err != nil {
			return err
		}
		c := *p
		c.Versions = append([]PolicyVersion(nil), p.Versions...)
		if err := change(&c); err != nil {
			return err
		}
		out = &c
		return s.update(ctx, policyKey(arn), &c, p.revision)
	})
	return out, err
}

// CreatePolicyVersion adds a version, making it the default when asked;
// a policy has at most five.
func (s *Store) CreatePolicyVersion(ctx context.Context, arn, doc string, setDefault bool) (*PolicyVersion, error) {
	if _, err := parsePolicy(doc, MaxManagedPolicySize); err != nil {
		return nil, err
	}
	var v PolicyVersion
	_, err := s.changePolicy(ctx, arn, func(p *Policy) error {
		if len(p.Versions) >= MaxPolicyVersions {
			return errorf(fault.Conflict, LimitExceeded, "A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", MaxPolicyVersions)
		}
		now := s.now().UTC().Truncate(time.Second)
		v = PolicyVersion{ID: "v" + strconv.Itoa(p.NextVersion), Document: doc, Created: now}
		p.NextVersion++
		p.Versions = append(p.Versions, v)
		p.Updated = now
		if setDefault {
			p.DefaultVersion = v.ID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// SetDefaultPolicyVersion makes version id the default.
func (s *Store) SetDefaultPolicyVersion(ctx context.Context, arn, id string) error {
	_, err := s.changePolicy(ctx, arn, func(p *Policy) error {
		if !slices.ContainsFunc(p.Versions, func(v PolicyVersion) bool { return v.ID == id }) {
			return noSuchVersion(arn, id)
		}
		p.DefaultVersion = id
		return nil
	})
	return err
}

func noSuchVersion(arn, id string) error {
	return errorf(fault.NotFound, NoSuchEntity, "Policy %s version %s does not exist.", arn, id)
}

// PolicyVersion returns one version of a policy.
func (s *Store) PolicyVersion(arn, id string) (*PolicyVersion, bool, error) {
	p, err := s.Policy(arn)
	if err != nil {
		return nil, false, err
	}
	for _, v := range p.Versions {
		if v.ID == id {
			return &v, id == p.DefaultVersion, nil
		}
	}
	return nil, false, noSuchVersion(arn, id)
}

// DeletePolicyVersion deletes a version that is not the default.
func (s *Store) DeletePolicyVersion(ctx context.Context, arn, id string) error {
	_, err := s.changePolicy(ctx, arn, func(p *Policy) error {
		i := slices.IndexFunc(p.Versions, func(v PolicyVersion) bool { return v.ID == id })
		if i < 0 {
			return noSuchVersion(arn, id)
		}
		if id == p.DefaultVersion {
			return errorf(fault.Conflict, DeleteConflict, "Cannot delete the default version of a policy.")
		}
		p.Versions = slices.Delete(p.Versions, i, i+1)
		return nil
	})
	return err
}

// DeletePolicy deletes a policy attached to nobody whose only version is
// its default.
func (s *Store) DeletePolicy(ctx context.Context, arn string) error {
	return retry(func() error {
		p, err := s.Policy(arn)
		if err != nil {
			return err
		}
		if s.Attachments(arn) > 0 {
			return errorf(fault.Conflict, DeleteConflict, "Cannot delete a policy attached to entities.")
		}
		if len(p.Versions) > 1 {
			return errorf(fault.Conflict, DeleteConflict, "Cannot delete a policy with versions other than the default; delete them first.")
		}
		return s.remove(ctx, policyKey(arn), p.revision)
	})
}

// attach adds or (detach) removes arn from a list of attached policies.
func attach(list *[]string, arn string, detach bool) error {
	i := slices.Index(*list, arn)
	switch {
	case detach && i < 0:
		return errorf(fault.NotFound, NoSuchEntity, "Policy %s was not found.", arn)
	case detach:
		*list = slices.Delete(*list, i, i+1)
	case i >= 0:
	case len(*list) >= MaxAttachedPolicies:
		return errorf(fault.Conflict, LimitExceeded, "Cannot exceed quota for PoliciesPerUser: %d", MaxAttachedPolicies)
	default:
		*list = append(*list, arn)
	}
	return nil
}

// AttachUserPolicy attaches (or, with detach, detaches) a managed policy
// to a user.
func (s *Store) AttachUserPolicy(ctx context.Context, user, arn string, detach bool) error {
	if _, err := s.Policy(arn); err != nil && !detach {
		return err
	}
	_, err := s.changeUser(ctx, user, func(u *User) error { return attach(&u.Attached, arn, detach) })
	return err
}

// AttachRolePolicy attaches (or, with detach, detaches) a managed policy
// to a role.
func (s *Store) AttachRolePolicy(ctx context.Context, role, arn string, detach bool) error {
	if _, err := s.Policy(arn); err != nil && !detach {
		return err
	}
	_, err := s.changeRole(ctx, role, func(r *Role) error { return attach(&r.Attached, arn, detach) })
	return err
}

// AttachGroupPolicy attaches (or, with detach, detaches) a managed
// policy to a group.
func (s *Store) AttachGroupPolicy(ctx context.Context, group, arn string, detach bool) error {
	if _, err := s.Policy(arn); err != nil && !detach {
		return err
	}
	_, err := s.changeGroup(ctx, group, func(g *Group) error { return attach(&g.Attached, arn, detach) })
	return err
}
