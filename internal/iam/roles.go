package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/policy"
)

// RoleInput is what CreateRole takes.
type RoleInput struct {
	Name               string
	Path               string
	TrustPolicy        string
	Description        string
	MaxSessionDuration int // seconds; 0 means an hour
	Tags               []Tag
}

// checkTrust checks a trust policy.
func checkTrust(doc string) error {
	if n := len(doc) - strings.Count(doc, " ") - strings.Count(doc, "\n") - strings.Count(doc, "\t") - strings.Count(doc, "\r"); n > MaxTrustPolicySize {
		return errorf(fault.Conflict, LimitExceeded, "Cannot exceed quota for ACLSizePerRole: %d", MaxTrustPolicySize)
	}
	if _, err := policy.ParseResource([]byte(doc)); err != nil {
		return errorf(fault.Invalid, MalformedPolicy, "%s", strings.TrimPrefix(err.Error(), "iam: "))
	}
	return nil
}

func checkSessionDuration(sec int) error {
	if sec < 3600 || sec > 43200 {
		return errorf(fault.Invalid, InvalidInput, "1 validation error detected: Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200", sec)
	}
	return nil
}

// CreateRole creates a role.
func (s *Store) CreateRole(ctx context.Context, in RoleInput) (*Role, error) {
	if err := validName("role", in.Name, 64); err != nil {
		return nil, err
	}
	path, err := validPath(in.Path)
	if err != nil {
		return nil, err
	}
	if err := checkTrust(in.TrustPolicy); err != nil {
		return nil, err
	}
	if in.MaxSessionDuration == 0 {
		in.MaxSessionDuration = 3600
	}
	if err := checkSessionDuration(in.MaxSessionDuration); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	r := &Role{Name: in.Name, ID: newID("AROA"), Path: path, ARN: RoleARN(path, in.Name), Description: in.Description,
		Created: s.now().UTC().Truncate(time.Second), MaxSessionDuration: in.MaxSessionDuration, TrustPolicy: in.TrustPolicy, Tags: in.Tags}
	if _, err := s.create(ctx, roleKey(in.Name), r, "Role with name "+in.Name); err != nil {
		return nil, err
	}
	return r, nil
}

// RoleARN is the ARN of the role name at path.
func RoleARN(path, name string) string {
	return "arn:aws:iam::" + awsproto.AccountID + ":role" + path + name
}

// Role returns the named role.
func (s *Store) Role(name string) (*Role, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roles[name]
	if r == nil {
		return nil, errorf(fault.NotFound, NoSuchEntity, "The role with name %s cannot be found.", name)
	}
	return r, nil
}

// Roles returns the roles whose path starts with prefix, by name.
func (s *Store) Roles(prefix string) []*Role {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Role, 0, len(s.roles))
	for _, r := range s.roles {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *Role) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Store) changeRole(ctx context.Context, name string, change func(r *Role) error) (*Role, error) {
	var out *Role
	err := retry(func() error {
		r, err := s.Role(name)
		if err != nil {
			return err
		}
		c := copyRole(r)
		if err := change(c); err != nil {
			return err
		}
		out = c
		return s.update(ctx, roleKey(name), c, r.revision)
	})
	return out, err
}

// UpdateRole changes a role's description and maximum session duration
// (nil leaves each as it is).
func (s *Store) UpdateRole(ctx context.Context, name string, description *string, maxSession *int) error {
	if maxSession != nil {
		if err := checkSessionDuration(*maxSession); err != nil {
			return err
		}
	}
	_, err := s.changeRole(ctx, name, func(r *Role) error {
		if description != nil {
			r.Description = *description
		}
		if maxSession != nil {
			r.MaxSessionDuration = *maxSession
		}
		return nil
	})
	return err
}

// UpdateTrustPolicy replaces a role's trust policy.
func (s *Store) UpdateTrustPolicy(ctx context.Context, name, doc string) error {
	if err := checkTrust(doc); err != nil {
		return err
	}
	_, err := s.changeRole(ctx, name, func(r *Role) error {
		r.TrustPolicy = doc
		return nil
	})
	return err
}

// DeleteRole deletes a role with no policies left. Sessions of the role
// stop resolving at once; functions whose execution role it was fail to
// start new instances.
func (s *Store) DeleteRole(ctx context.Context, name string) error {
	return retry(func() error {
		r, err := s.Role(name)
		if err != nil {
			return err
		}
		if len(r.Inline) > 0 || len(r.Attached) > 0 {
			return errorf(fault.Conflict, DeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		return s.remove(ctx, roleKey(name), r.revision)
	})
}

// PutRolePolicy sets a role's inline policy name to doc.
func (s *Store) PutRolePolicy(ctx context.Context, role, name, doc string) error {
	if err := validName("policy", name, 128); err != nil {
		return err
	}
	if _, err := parsePolicy(doc, MaxRoleInlinePolicySize); err != nil {
		return err
	}
	_, err := s.changeRole(ctx, role, func(r *Role) error {
		r.Inline[name] = doc
		return inlineSize(r.Inline, MaxRoleInlinePolicySize)
	})
	return err
}

// DeleteRolePolicy removes a role's inline policy.
func (s *Store) DeleteRolePolicy(ctx context.Context, role, name string) error {
	_, err := s.changeRole(ctx, role, func(r *Role) error {
		if _, ok := r.Inline[name]; !ok {
			return noSuchInline(name, "role", role)
		}
		delete(r.Inline, name)
		return nil
	})
	return err
}

// DefaultRoleName is the execution role the server creates at its first
// start and gives functions created without one: it trusts Lambda and
// allows writing logs only, as Lambda's basic execution role.
const DefaultRoleName = "aloft"

// basicExecution is the default role's policy.
const basicExecution = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`

// lambdaTrust lets Lambda assume a role.
const lambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// EnsureDefaultRole creates the default execution role unless it exists;
// one that exists is left as its owner made it.
func (s *Store) EnsureDefaultRole(ctx context.Context) error {
	if _, err := s.Role(DefaultRoleName); err == nil {
		return nil
	}
	_, err := s.CreateRole(ctx, RoleInput{Name: DefaultRoleName, TrustPolicy: lambdaTrust,
		Description: "The execution role of functions created without one: writes logs, nothing else."})
	if err != nil && reasonOf(err) != AlreadyExists {
		return fmt.Errorf("iam: create the default execution role: %w", err)
	}
	if err == nil {
		if err := s.PutRolePolicy(ctx, DefaultRoleName, "basic-execution", basicExecution); err != nil {
			return fmt.Errorf("iam: the default execution role's policy: %w", err)
		}
	}
	return nil
}

// RoleExists reports whether roleARN names a role.
func (s *Store) RoleExists(roleARN string) bool {
	name, ok := roleNameOf(roleARN)
	if !ok {
		return false
	}
	r, err := s.Role(name)
	return err == nil && r.ARN == roleARN
}

// CheckExecutionRole says whether Lambda may assume roleARN: it exists
// and trusts lambda.amazonaws.com.
func (s *Store) CheckExecutionRole(roleARN string) error {
	name, ok := roleNameOf(roleARN)
	r := s.view.Load().roles[name]
	if !ok || r == nil || r.role.ARN != roleARN || !s.mayAssume(Platform, r, roleARN) {
		return errorf(fault.Invalid, InvalidInput, "The role defined for the function cannot be assumed by Lambda.")
	}
	return nil
}

func reasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

// TagRole adds or replaces tags of a role.
func (s *Store) TagRole(ctx context.Context, name string, tags []Tag) error {
	_, err := s.changeRole(ctx, name, func(r *Role) error {
		r.Tags = mergeTags(r.Tags, tags)
		return validTags(r.Tags)
	})
	return err
}

// UntagRole removes tags of a role by key.
func (s *Store) UntagRole(ctx context.Context, name string, keys []string) error {
	_, err := s.changeRole(ctx, name, func(r *Role) error {
		r.Tags = dropTags(r.Tags, keys)
		return nil
	})
	return err
}
