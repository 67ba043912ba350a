package iamapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/iam"
)

// The XML shapes of IAM's answers.
type (
	userXML struct {
		Path       string
		UserName   string
		UserId     string
		Arn        string
		CreateDate string
		Tags       *tagsXML `xml:",omitempty"`
	}
	tagsXML struct {
		Member []iam.Tag `xml:"member"`
	}
	roleXML struct {
		Path                     string
		RoleName                 string
		RoleId                   string
		Arn                      string
		CreateDate               string
		AssumeRolePolicyDocument string
		Description              string `xml:",omitempty"`
		MaxSessionDuration       int
		Tags                     *tagsXML `xml:",omitempty"`
	}
	policyXML struct {
		PolicyName       string
		PolicyId         string
		Arn              string
		Path             string
		DefaultVersionId string
		AttachmentCount  int
		IsAttachable     bool
		Description      string `xml:",omitempty"`
		CreateDate       string
		UpdateDate       string
	}
	versionXML struct {
		Document         string `xml:",omitempty"`
		VersionId        string
		IsDefaultVersion bool
		CreateDate       string
	}
	keyXML struct {
		UserName        string
		AccessKeyId     string
		Status          string
		SecretAccessKey string `xml:",omitempty"`
		CreateDate      string
	}
	groupXML struct {
		Path       string
		GroupName  string
		GroupId    string
		Arn        string
		CreateDate string
	}
	attachedXML struct {
		PolicyName string
		PolicyArn  string
	}
	members[T any] struct {
		Member []T `xml:"member"`
	}
)

func userOut(u *iam.User) userXML {
	out := userXML{Path: u.Path, UserName: u.Name, UserId: u.ID, Arn: u.ARN, CreateDate: u.Created.Format(timeFormat)}
	if len(u.Tags) > 0 {
		out.Tags = &tagsXML{u.Tags}
	}
	return out
}

func groupOut(g *iam.Group) groupXML {
	return groupXML{Path: g.Path, GroupName: g.Name, GroupId: g.ID, Arn: g.ARN, CreateDate: g.Created.Format(timeFormat)}
}

func roleOut(r *iam.Role) roleXML {
	out := roleXML{Path: r.Path, RoleName: r.Name, RoleId: r.ID, Arn: r.ARN, CreateDate: r.Created.Format(timeFormat),
		AssumeRolePolicyDocument: policyDoc(r.TrustPolicy), Description: r.Description, MaxSessionDuration: r.MaxSessionDuration}
	if len(r.Tags) > 0 {
		out.Tags = &tagsXML{r.Tags}
	}
	return out
}

func policyOut(p *iam.Policy, attachments int) policyXML {
	return policyXML{PolicyName: p.Name, PolicyId: p.ID, Arn: p.ARN, Path: p.Path, DefaultVersionId: p.DefaultVersion,
		AttachmentCount: attachments, IsAttachable: true, Description: p.Description,
		CreateDate: p.Created.Format(timeFormat), UpdateDate: p.Updated.Format(timeFormat)}
}

func keyOut(k *iam.AccessKey, secret bool) keyXML {
	out := keyXML{UserName: k.User, AccessKeyId: k.ID, Status: k.Status(), CreateDate: k.Created.Format(timeFormat)}
	if secret {
		out.SecretAccessKey = k.Secret
	}
	return out
}

// userName is the request's UserName, or the calling user's.
func userName(ctx context.Context, p url.Values) (string, error) {
	if n := p.Get("UserName"); n != "" {
		return n, nil
	}
	c := caller(ctx)
	if c.Kind != iam.UserPrincipal {
		return "", awsproto.Errorf(http.StatusBadRequest, "ValidationError", "Must specify userName when calling with non-User credentials")
	}
	return c.Name, nil
}

// NewIAM returns the IAM API over s.
func NewIAM(s *iam.Store, log *slog.Logger) http.Handler {
	a := &awsproto.QueryAPI{Version: IAMVersion, Namespace: iamNS, Errors: wireError, Log: log}
	q := a.HandleQuery

	// Users.
	q("CreateUser", func(ctx context.Context, p url.Values) (any, error) {
		if err := unsupported(p, "PermissionsBoundary"); err != nil {
			return nil, err
		}
		name, err := required(p, "UserName")
		if err != nil {
			return nil, err
		}
		u, err := s.CreateUser(ctx, name, p.Get("Path"), tags(p))
		if err != nil {
			return nil, err
		}
		return struct{ User userXML }{userOut(u)}, nil
	})
	q("GetUser", func(ctx context.Context, p url.Values) (any, error) {
		name, err := userName(ctx, p)
		if err != nil {
			return nil, err
		}
		u, err := s.User(name)
		if err != nil {
			return nil, err
		}
		return struct{ User userXML }{userOut(u)}, nil
	})
	q("ListUsers", func(ctx context.Context, p url.Values) (any, error) {
		all := s.Users(pathPrefix(p))
		pg, next, err := page(p, all, func(u *iam.User) string { return u.Name })
		if err != nil {
			return nil, err
		}
		out := make([]userXML, len(pg))
		for i, u := range pg {
			out[i] = userOut(u)
		}
		return namedList[userXML]{Name: "Users", Items: members[userXML]{out}, IsTruncated: next != "", Marker: next}, nil
	})
	q("UpdateUser", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "UserName")
		if err != nil {
			return nil, err
		}
		return nil, s.UpdateUser(ctx, name, p.Get("NewUserName"), p.Get("NewPath"))
	})
	q("DeleteUser", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "UserName")
		if err != nil {
			return nil, err
		}
		return nil, s.DeleteUser(ctx, name)
	})

	// Access keys.
	q("CreateAccessKey", func(ctx context.Context, p url.Values) (any, error) {
		name, err := userName(ctx, p)
		if err != nil {
			return nil, err
		}
		k, err := s.CreateAccessKey(ctx, name)
		if err != nil {
			return nil, err
		}
		return struct{ AccessKey keyXML }{keyOut(k, true)}, nil
	})
	q("ListAccessKeys", func(ctx context.Context, p url.Values) (any, error) {
		name, err := userName(ctx, p)
		if err != nil {
			return nil, err
		}
		if _, err := s.User(name); err != nil {
			return nil, err
		}
		var out []keyXML
		for _, k := range s.AccessKeys(name) {
			out = append(out, keyOut(k, false))
		}
		return struct {
			AccessKeyMetadata members[keyXML]
			IsTruncated       bool
		}{members[keyXML]{out}, false}, nil
	})
	q("UpdateAccessKey", func(ctx context.Context, p url.Values) (any, error) {
		id, err := required(p, "AccessKeyId")
		if err != nil {
			return nil, err
		}
		st := p.Get("Status")
		if st != "Active" && st != "Inactive" {
			return nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", st)
		}
		name, err := userName(ctx, p)
		if err != nil {
			return nil, err
		}
		return nil, s.UpdateAccessKey(ctx, name, id, st == "Active")
	})
	q("DeleteAccessKey", func(ctx context.Context, p url.Values) (any, error) {
		id, err := required(p, "AccessKeyId")
		if err != nil {
			return nil, err
		}
		name, err := userName(ctx, p)
		if err != nil {
			return nil, err
		}
		return nil, s.DeleteAccessKey(ctx, name, id)
	})
	q("GetAccessKeyLastUsed", func(ctx context.Context, p url.Values) (any, error) {
		id, err := required(p, "AccessKeyId")
		if err != nil {
			return nil, err
		}
		u, err := s.LastUsed(id)
		if err != nil {
			return nil, err
		}
		type lastUsed struct {
			LastUsedDate string `xml:",omitempty"`
			ServiceName  string
			Region       string
		}
		lu := lastUsed{ServiceName: "N/A", Region: "N/A"}
		if !u.When.IsZero() {
			lu.LastUsedDate = u.When.Format(timeFormat)
		}
		return struct {
			UserName          string
			AccessKeyLastUsed lastUsed
		}{u.User, lu}, nil
	})

	// Roles.
	q("CreateRole", func(ctx context.Context, p url.Values) (any, error) {
		if err := unsupported(p, "PermissionsBoundary"); err != nil {
			return nil, err
		}
		name, err := required(p, "RoleName")
		if err != nil {
			return nil, err
		}
		doc, err := required(p, "AssumeRolePolicyDocument")
		if err != nil {
			return nil, err
		}
		maxSession := 0
		if v := p.Get("MaxSessionDuration"); v != "" {
			if maxSession, err = strconv.Atoi(v); err != nil {
				return nil, invalid("Invalid MaxSessionDuration %q", v)
			}
		}
		r, err := s.CreateRole(ctx, iam.RoleInput{Name: name, Path: p.Get("Path"), TrustPolicy: doc,
			Description: p.Get("Description"), MaxSessionDuration: maxSession, Tags: tags(p)})
		if err != nil {
			return nil, err
		}
		return struct{ Role roleXML }{roleOut(r)}, nil
	})
	q("GetRole", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "RoleName")
		if err != nil {
			return nil, err
		}
		r, err := s.Role(name)
		if err != nil {
			return nil, err
		}
		return struct{ Role roleXML }{roleOut(r)}, nil
	})
	q("ListRoles", func(ctx context.Context, p url.Values) (any, error) {
		pg, next, err := page(p, s.Roles(pathPrefix(p)), func(r *iam.Role) string { return r.Name })
		if err != nil {
			return nil, err
		}
		out := make([]roleXML, len(pg))
		for i, r := range pg {
			out[i] = roleOut(r)
		}
		return namedList[roleXML]{Name: "Roles", Items: members[roleXML]{out}, IsTruncated: next != "", Marker: next}, nil
	})
	q("UpdateRole", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "RoleName")
		if err != nil {
			return nil, err
		}
		var desc *string
		if _, ok := p["Description"]; ok {
			d := p.Get("Description")
			desc = &d
		}
		var maxSession *int
		if v := p.Get("MaxSessionDuration"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, invalid("Invalid MaxSessionDuration %q", v)
			}
			maxSession = &n
		}
		return struct{}{}, s.UpdateRole(ctx, name, desc, maxSession)
	})
	q("UpdateAssumeRolePolicy", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "RoleName")
		if err != nil {
			return nil, err
		}
		doc, err := required(p, "PolicyDocument")
		if err != nil {
			return nil, err
		}
		return nil, s.UpdateTrustPolicy(ctx, name, doc)
	})
	q("DeleteRole", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "RoleName")
		if err != nil {
			return nil, err
		}
		return nil, s.DeleteRole(ctx, name)
	})

	tagOps(a, "User", func(n string) ([]iam.Tag, error) {
		u, err := s.User(n)
		if err != nil {
			return nil, err
		}
		return u.Tags, nil
	}, s.TagUser, s.UntagUser)
	tagOps(a, "Role", func(n string) ([]iam.Tag, error) {
		r, err := s.Role(n)
		if err != nil {
			return nil, err
		}
		return r.Tags, nil
	}, s.TagRole, s.UntagRole)
	inlineOps(a, "User", func(n string) (map[string]string, error) {
		u, err := s.User(n)
		if err != nil {
			return nil, err
		}
		return u.Inline, nil
	}, s.PutUserPolicy, s.DeleteUserPolicy)
	groupOps(a, s)
	inlineOps(a, "Group", func(n string) (map[string]string, error) {
		g, err := s.Group(n)
		if err != nil {
			return nil, err
		}
		return g.Inline, nil
	}, s.PutGroupPolicy, s.DeleteGroupPolicy)
	inlineOps(a, "Role", func(n string) (map[string]string, error) {
		r, err := s.Role(n)
		if err != nil {
			return nil, err
		}
		return r.Inline, nil
	}, s.PutRolePolicy, s.DeleteRolePolicy)
	managedOps(a, s)
	return a
}

// pathPrefix is the request's PathPrefix, / when absent.
func pathPrefix(p url.Values) string {
	if v := p.Get("PathPrefix"); v != "" {
		return v
	}
	return "/"
}

// groupOps adds the groups' actions and their membership.
func groupOps(a *awsproto.QueryAPI, s *iam.Store) {
	q := a.HandleQuery
	q("CreateGroup", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "GroupName")
		if err != nil {
			return nil, err
		}
		g, err := s.CreateGroup(ctx, name, p.Get("Path"))
		if err != nil {
			return nil, err
		}
		return struct{ Group groupXML }{groupOut(g)}, nil
	})
	q("GetGroup", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "GroupName")
		if err != nil {
			return nil, err
		}
		g, err := s.Group(name)
		if err != nil {
			return nil, err
		}
		var users []userXML
		for _, u := range s.Members(name) {
			users = append(users, userOut(u))
		}
		return struct {
			Group       groupXML
			Users       members[userXML]
			IsTruncated bool
		}{groupOut(g), members[userXML]{users}, false}, nil
	})
	q("ListGroups", func(ctx context.Context, p url.Values) (any, error) {
		pg, next, err := page(p, s.Groups(pathPrefix(p)), func(g *iam.Group) string { return g.Name })
		if err != nil {
			return nil, err
		}
		out := make([]groupXML, len(pg))
		for i, g := range pg {
			out[i] = groupOut(g)
		}
		return namedList[groupXML]{Name: "Groups", Items: members[groupXML]{out}, IsTruncated: next != "", Marker: next}, nil
	})
	q("DeleteGroup", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "GroupName")
		if err != nil {
			return nil, err
		}
		return nil, s.DeleteGroup(ctx, name)
	})
	for _, remove := range []bool{false, true} {
		action := "AddUserToGroup"
		if remove {
			action = "RemoveUserFromGroup"
		}
		q(action, func(ctx context.Context, p url.Values) (any, error) {
			group, err := required(p, "GroupName")
			if err != nil {
				return nil, err
			}
			user, err := required(p, "UserName")
			if err != nil {
				return nil, err
			}
			return nil, s.AddUserToGroup(ctx, group, user, remove)
		})
	}
	q("ListGroupsForUser", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "UserName")
		if err != nil {
			return nil, err
		}
		u, err := s.User(name)
		if err != nil {
			return nil, err
		}
		var out []groupXML
		for _, gn := range u.Groups {
			if g, err := s.Group(gn); err == nil {
				out = append(out, groupOut(g))
			}
		}
		return namedList[groupXML]{Name: "Groups", Items: members[groupXML]{out}}, nil
	})
}

// tagOps adds Tag<Kind>, Untag<Kind> and List<Kind>Tags.
func tagOps(a *awsproto.QueryAPI, kind string, get func(owner string) ([]iam.Tag, error),
	tag func(ctx context.Context, owner string, tags []iam.Tag) error, untag func(ctx context.Context, owner string, keys []string) error) {
	ownerParam := kind + "Name"
	a.HandleQuery("Tag"+kind, func(ctx context.Context, p url.Values) (any, error) {
		owner, err := required(p, ownerParam)
		if err != nil {
			return nil, err
		}
		t := tags(p)
		if len(t) == 0 {
			return nil, awsproto.Errorf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
		}
		return nil, tag(ctx, owner, t)
	})
	a.HandleQuery("Untag"+kind, func(ctx context.Context, p url.Values) (any, error) {
		owner, err := required(p, ownerParam)
		if err != nil {
			return nil, err
		}
		var keys []string
		for i := 1; p.Get("TagKeys.member."+strconv.Itoa(i)) != ""; i++ {
			keys = append(keys, p.Get("TagKeys.member."+strconv.Itoa(i)))
		}
		return nil, untag(ctx, owner, keys)
	})
	a.HandleQuery("List"+kind+"Tags", func(ctx context.Context, p url.Values) (any, error) {
		owner, err := required(p, ownerParam)
		if err != nil {
			return nil, err
		}
		t, err := get(owner)
		if err != nil {
			return nil, err
		}
		return namedList[iam.Tag]{Name: "Tags", Items: members[iam.Tag]{t}}, nil
	})
}

// inlineOps adds Put/Get/List/Delete<Kind>Policy.
func inlineOps(a *awsproto.QueryAPI, kind string, inline func(owner string) (map[string]string, error),
	put func(ctx context.Context, owner, name, doc string) error, del func(ctx context.Context, owner, name string) error) {
	ownerParam := kind + "Name"
	a.HandleQuery("Put"+kind+"Policy", func(ctx context.Context, p url.Values) (any, error) {
		owner, err := required(p, ownerParam)
		if err != nil {
			return nil, err
		}
		name, err := required(p, "PolicyName")
		if err != nil {
			return nil, err
		}
		doc, err := required(p, "PolicyDocument")
		if err != nil {
			return nil, err
		}
		return nil, put(ctx, owner, name, doc)
	})
	a.HandleQuery("Get"+kind+"Policy", func(ctx context.Context, p url.Values) (any, error) {
		owner, err := required(p, ownerParam)
		if err != nil {
			return nil, err
		}
		name, err := required(p, "PolicyName")
		if err != nil {
			return nil, err
		}
		m, err := inline(owner)
		if err != nil {
			return nil, err
		}
		doc, ok := m[name]
		if !ok {
			return nil, awsproto.Errorf(http.StatusNotFound, "NoSuchEntity", "The %s policy with name %s cannot be found.", lowerFirst(kind), name)
		}
		return inlineXML{OwnerTag: ownerParam, Owner: owner, PolicyName: name, PolicyDocument: policyDoc(doc)}, nil
	})
	a.HandleQuery("List"+kind+"Policies", func(ctx context.Context, p url.Values) (any, error) {
		owner, err := required(p, ownerParam)
		if err != nil {
			return nil, err
		}
		m, err := inline(owner)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		slices.Sort(names)
		pg, next, err := page(p, names, func(s string) string { return s })
		if err != nil {
			return nil, err
		}
		return namedList[string]{Name: "PolicyNames", Items: members[string]{pg}, IsTruncated: next != "", Marker: next}, nil
	})
	a.HandleQuery("Delete"+kind+"Policy", func(ctx context.Context, p url.Values) (any, error) {
		owner, err := required(p, ownerParam)
		if err != nil {
			return nil, err
		}
		name, err := required(p, "PolicyName")
		if err != nil {
			return nil, err
		}
		return nil, del(ctx, owner, name)
	})
}

// managedOps adds the managed policies' actions.
func managedOps(a *awsproto.QueryAPI, s *iam.Store) {
	q := a.HandleQuery
	q("CreatePolicy", func(ctx context.Context, p url.Values) (any, error) {
		name, err := required(p, "PolicyName")
		if err != nil {
			return nil, err
		}
		doc, err := required(p, "PolicyDocument")
		if err != nil {
			return nil, err
		}
		mp, err := s.CreatePolicy(ctx, name, p.Get("Path"), p.Get("Description"), doc, tags(p))
		if err != nil {
			return nil, err
		}
		return struct{ Policy policyXML }{policyOut(mp, 0)}, nil
	})
	q("GetPolicy", func(ctx context.Context, p url.Values) (any, error) {
		arn, err := required(p, "PolicyArn")
		if err != nil {
			return nil, err
		}
		mp, err := s.Policy(arn)
		if err != nil {
			return nil, err
		}
		return struct{ Policy policyXML }{policyOut(mp, s.Attachments(arn))}, nil
	})
	q("ListPolicies", func(ctx context.Context, p url.Values) (any, error) {
		if err := unsupported(p, "PolicyUsageFilter"); err != nil {
			return nil, err
		}
		all, counts := s.Policies(pathPrefix(p))
		if p.Get("Scope") == "AWS" {
			all = nil // no AWS managed policies here
		}
		if p.Get("OnlyAttached") == "true" {
			all = slices.DeleteFunc(all, func(mp *iam.Policy) bool { return counts[mp.ARN] == 0 })
		}
		pg, next, err := page(p, all, func(mp *iam.Policy) string { return mp.Name })
		if err != nil {
			return nil, err
		}
		out := make([]policyXML, len(pg))
		for i, mp := range pg {
			out[i] = policyOut(mp, counts[mp.ARN])
		}
		return namedList[policyXML]{Name: "Policies", Items: members[policyXML]{out}, IsTruncated: next != "", Marker: next}, nil
	})
	q("DeletePolicy", func(ctx context.Context, p url.Values) (any, error) {
		arn, err := required(p, "PolicyArn")
		if err != nil {
			return nil, err
		}
		return nil, s.DeletePolicy(ctx, arn)
	})
	q("CreatePolicyVersion", func(ctx context.Context, p url.Values) (any, error) {
		arn, err := required(p, "PolicyArn")
		if err != nil {
			return nil, err
		}
		doc, err := required(p, "PolicyDocument")
		if err != nil {
			return nil, err
		}
		def := p.Get("SetAsDefault") == "true"
		v, err := s.CreatePolicyVersion(ctx, arn, doc, def)
		if err != nil {
			return nil, err
		}
		return struct{ PolicyVersion versionXML }{versionXML{VersionId: v.ID, IsDefaultVersion: def, CreateDate: v.Created.Format(timeFormat)}}, nil
	})
	q("GetPolicyVersion", func(ctx context.Context, p url.Values) (any, error) {
		arn, err := required(p, "PolicyArn")
		if err != nil {
			return nil, err
		}
		id, err := required(p, "VersionId")
		if err != nil {
			return nil, err
		}
		v, def, err := s.PolicyVersion(arn, id)
		if err != nil {
			return nil, err
		}
		return struct{ PolicyVersion versionXML }{versionXML{Document: policyDoc(v.Document), VersionId: v.ID, IsDefaultVersion: def, CreateDate: v.Created.Format(timeFormat)}}, nil
	})
	q("ListPolicyVersions", func(ctx context.Context, p url.Values) (any, error) {
		arn, err := required(p, "PolicyArn")
		if err != nil {
			return nil, err
		}
		mp, err := s.Policy(arn)
		if err != nil {
			return nil, err
		}
		out := make([]versionXML, len(mp.Versions))
		for i, v := range mp.Versions {
			out[i] = versionXML{VersionId: v.ID, IsDefaultVersion: v.ID == mp.DefaultVersion, CreateDate: v.Created.Format(timeFormat)}
		}
		return namedList[versionXML]{Name: "Versions", Items: members[versionXML]{out}}, nil
	})
	q("DeletePolicyVersion", func(ctx context.Context, p url.Values) (any, error) {
		arn, err := required(p, "PolicyArn")
		if err != nil {
			return nil, err
		}
		id, err := required(p, "VersionId")
		if err != nil {
			return nil, err
		}
		return nil, s.DeletePolicyVersion(ctx, arn, id)
	})
	q("SetDefaultPolicyVersion", func(ctx context.Context, p url.Values) (any, error) {
		arn, err := required(p, "PolicyArn")
		if err != nil {
			return nil, err
		}
		id, err := required(p, "VersionId")
		if err != nil {
			return nil, err
		}
		return nil, s.SetDefaultPolicyVersion(ctx, arn, id)
	})
	for _, kind := range []string{"User", "Role", "Group"} {
		ownerParam := kind + "Name"
		attach := s.AttachUserPolicy
		attached := func(n string) ([]string, error) {
			u, err := s.User(n)
			if err != nil {
				return nil, err
			}
			return u.Attached, nil
		}
		switch kind {
		case "Role":
			attach = s.AttachRolePolicy
			attached = func(n string) ([]string, error) {
				r, err := s.Role(n)
				if err != nil {
					return nil, err
				}
				return r.Attached, nil
			}
		case "Group":
			attach = s.AttachGroupPolicy
			attached = func(n string) ([]string, error) {
				g, err := s.Group(n)
				if err != nil {
					return nil, err
				}
				return g.Attached, nil
			}
		}
		for _, detach := range []bool{false, true} {
			verb := "Attach"
			if detach {
				verb = "Detach"
			}
			q(verb+kind+"Policy", func(ctx context.Context, p url.Values) (any, error) {
				owner, err := required(p, ownerParam)
				if err != nil {
					return nil, err
				}
				arn, err := required(p, "PolicyArn")
				if err != nil {
					return nil, err
				}
				return nil, attach(ctx, owner, arn, detach)
			})
		}
		q("ListAttached"+kind+"Policies", func(ctx context.Context, p url.Values) (any, error) {
			owner, err := required(p, ownerParam)
			if err != nil {
				return nil, err
			}
			arns, err := attached(owner)
			if err != nil {
				return nil, err
			}
			var out []attachedXML
			for _, arn := range arns {
				if mp, err := s.Policy(arn); err == nil {
					out = append(out, attachedXML{PolicyName: mp.Name, PolicyArn: arn})
				}
			}
			slices.SortFunc(out, func(a, b attachedXML) int { return strings.Compare(a.PolicyArn, b.PolicyArn) })
			pg, next, err := page(p, out, func(a attachedXML) string { return a.PolicyArn })
			if err != nil {
				return nil, err
			}
			return namedList[attachedXML]{Name: "AttachedPolicies", Items: members[attachedXML]{pg}, IsTruncated: next != "", Marker: next}, nil
		})
	}
}
