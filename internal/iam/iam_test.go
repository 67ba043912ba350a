package iam

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/store"
)

func open(t *testing.T) (*Store, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := Open(context.Background(), st.JetStream(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, st
}

func reason(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

// TestUserKeysAndPolicies walks a user's life: a key that signs, policies
// that allow and deny, limits, and a deactivated key that stops working.
func TestUserKeysAndPolicies(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "alice@example.com", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "alice@example.com", "", nil); reason(err) != AlreadyExists {
		t.Fatalf("second CreateUser: %v, want AlreadyExists", err)
	}
	k, err := s.CreateAccessKey(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if sec, ok := s.Lookup(k.ID); !ok || sec != k.Secret {
		t.Fatalf("Lookup of a new key: %q %v", sec, ok)
	}
	p, err := s.Resolve(k.ID, "")
	if err != nil || p.ARN != "arn:aws:iam::000000000000:user/alice@example.com" {
		t.Fatalf("Resolve: %+v %v", p, err)
	}
	if err := p.Authorize("lambda:GetFunction", "arn:aws:lambda:us-east-1:000000000000:function:f"); reason(err) != AccessDenied ||
		!strings.Contains(err.Error(), "is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:f") {
		t.Fatalf("a user without policies: %v", err)
	}
	if err := s.PutUserPolicy(ctx, "alice@example.com", "read", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"lambda:Get*","Resource":"*"},
		{"Effect":"Deny","Action":"lambda:GetFunction","Resource":"arn:aws:lambda:*:*:function:secret"}]}`); err != nil {
		t.Fatal(err)
	}
	p, _ = s.Resolve(k.ID, "")
	if err := p.Authorize("lambda:GetFunction", "arn:aws:lambda:us-east-1:000000000000:function:f"); err != nil {
		t.Errorf("allowed action: %v", err)
	}
	if err := p.Authorize("lambda:GetFunction", "arn:aws:lambda:us-east-1:000000000000:function:secret"); err == nil || !strings.Contains(err.Error(), "explicit deny") {
		t.Errorf("denied resource: %v", err)
	}
	if err := s.PutUserPolicy(ctx, "alice@example.com", "bad", `{"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}`); reason(err) != MalformedPolicy {
		t.Errorf("malformed policy: %v", err)
	}
	if _, err := s.CreateAccessKey(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccessKey(ctx, "alice@example.com"); reason(err) != LimitExceeded {
		t.Errorf("third key: %v, want LimitExceeded", err)
	}
	if err := s.DeleteUser(ctx, "alice@example.com"); reason(err) != DeleteConflict {
		t.Errorf("deleting a user with keys: %v, want DeleteConflict", err)
	}
	if err := s.UpdateAccessKey(ctx, "alice@example.com", k.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(k.ID); ok {
		t.Error("a deactivated key still looks up")
	}
	if _, err := s.Resolve(k.ID, ""); reason(err) != InvalidClientToken {
		t.Errorf("Resolve of a deactivated key: %v", err)
	}
}

// TestManagedPolicies attaches a managed policy, moves its default
// version, and checks what deleting it needs.
func TestManagedPolicies(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	s.CreateUser(ctx, "bob", "/team/", nil)
	k, _ := s.CreateAccessKey(ctx, "bob")
	mp, err := s.CreatePolicy(ctx, "logs+read", "/", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"logs:*","Resource":"*"}}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AttachUserPolicy(ctx, "bob", mp.ARN, false); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Resolve(k.ID, "")
	if err := p.Authorize("logs:FilterLogEvents", "arn:aws:logs:us-east-1:000000000000:log-group:g"); err != nil {
		t.Fatalf("attached policy: %v", err)
	}
	v, err := s.CreatePolicyVersion(ctx, mp.ARN, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"logs:Describe*","Resource":"*"}}`, true)
	if err != nil || v.ID != "v2" {
		t.Fatalf("CreatePolicyVersion: %v %v", v, err)
	}
	p, _ = s.Resolve(k.ID, "")
	if p.Authorize("logs:FilterLogEvents", "arn:aws:logs:us-east-1:000000000000:log-group:g") == nil {
		t.Error("the old default version still applies")
	}
	if err := s.DeletePolicy(ctx, mp.ARN); reason(err) != DeleteConflict {
		t.Errorf("deleting an attached policy: %v", err)
	}
	if err := s.DeletePolicyVersion(ctx, mp.ARN, "v2"); reason(err) != DeleteConflict {
		t.Errorf("deleting the default version: %v", err)
	}
	s.AttachUserPolicy(ctx, "bob", mp.ARN, true)
	s.DeletePolicyVersion(ctx, mp.ARN, "v1")
	if err := s.DeletePolicy(ctx, mp.ARN); err != nil {
		t.Errorf("DeletePolicy: %v", err)
	}
	if got := s.Users("/team/"); len(got) != 1 || got[0].ARN != "arn:aws:iam::000000000000:user/team/bob" {
		t.Errorf("Users(/team/) = %v", got)
	}
}

// TestSessions assumes a role and takes a user's session token, and
// checks that forged, foreign, expired and orphaned tokens are refused.
func TestSessions(t *testing.T) {
	s, st := open(t)
	ctx := context.Background()
	now := time.Now()
	s.now = func() time.Time { return now }
	s.CreateUser(ctx, "carol", "", nil)
	k, _ := s.CreateAccessKey(ctx, "carol")
	carol, _ := s.Resolve(k.ID, "")
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/carol"},"Action":"sts:AssumeRole"}}`
	r, err := s.CreateRole(ctx, RoleInput{Name: "reader", TrustPolicy: trust})
	if err != nil {
		t.Fatal(err)
	}
	s.PutRolePolicy(ctx, "reader", "s3", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`)
	creds, who, err := s.AssumeRole(carol, r.ARN, "job-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if who.ARN != "arn:aws:sts::000000000000:assumed-role/reader/job-1" || !strings.HasPrefix(creds.AccessKeyID, "ASIA") {
		t.Fatalf("AssumeRole: %+v %+v", who, creds)
	}
	if sec, ok := s.Lookup(creds.AccessKeyID); !ok || sec != creds.SecretAccessKey {
		t.Fatal("a session key does not look up to its secret")
	}
	p, err := s.Resolve(creds.AccessKeyID, creds.SessionToken)
	if err != nil || p.ARN != who.ARN {
		t.Fatalf("Resolve session: %+v %v", p, err)
	}
	if p.Authorize("s3:GetObject", "arn:aws:s3:::b/k") != nil || p.Authorize("s3:PutObject", "arn:aws:s3:::b/k") == nil {
		t.Error("the session does not have exactly the role's permissions")
	}
	// Another node, sharing the backbone, resolves the same session.
	other, err := Open(ctx, st.JetStream(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Resolve(creds.AccessKeyID, creds.SessionToken); err != nil {
		t.Errorf("another node: %v", err)
	}
	// Forged and foreign tokens.
	forged := creds.SessionToken[:len(creds.SessionToken)-2] + "AA"
	if _, err := s.Resolve(creds.AccessKeyID, forged); reason(err) != InvalidToken {
		t.Errorf("forged token: %v", err)
	}
	creds2, _, _ := s.AssumeRole(carol, r.ARN, "job-2", 0)
	if _, err := s.Resolve(creds.AccessKeyID, creds2.SessionToken); reason(err) != InvalidToken {
		t.Errorf("another session's token: %v", err)
	}
	// Trust: bob is not named.
	s.CreateUser(ctx, "bob", "", nil)
	kb, _ := s.CreateAccessKey(ctx, "bob")
	bob, _ := s.Resolve(kb.ID, "")
	if _, _, err := s.AssumeRole(bob, r.ARN, "x1", 0); reason(err) != AccessDenied {
		t.Errorf("AssumeRole by an untrusted user: %v", err)
	}
	// Lambda may not assume it; a role trusting Lambda gives execution
	// credentials.
	if _, err := s.ExecutionCredentials(r.ARN, "fn", time.Hour); reason(err) != InvalidInput {
		t.Errorf("execution credentials of a role that does not trust Lambda: %v", err)
	}
	exec, _ := s.CreateRole(ctx, RoleInput{Name: "exec", TrustPolicy: lambdaTrust})
	if _, err := s.ExecutionCredentials(exec.ARN, "fn", time.Hour); err != nil {
		t.Errorf("execution credentials: %v", err)
	}
	// Expiry, then a deleted role.
	now = now.Add(2 * time.Hour)
	if _, err := s.Resolve(creds.AccessKeyID, creds.SessionToken); reason(err) != ExpiredToken {
		t.Errorf("an expired session: %v", err)
	}
	now = now.Add(-2 * time.Hour)
	s.DeleteRolePolicy(ctx, "reader", "s3")
	if err := s.DeleteRole(ctx, "reader"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(creds.AccessKeyID, creds.SessionToken); reason(err) != InvalidToken {
		t.Errorf("a session of a deleted role: %v", err)
	}
	// A user's own session.
	sc, err := s.SessionToken(carol, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Resolve(sc.AccessKeyID, sc.SessionToken); err != nil || p.ARN != carol.ARN {
		t.Errorf("user session: %+v %v", p, err)
	}
}

func TestEscape(t *testing.T) {
	for _, s := range []string{"plain", "a+b=c,d.e@f", "path/name", "=41"} {
		if got := unescape(escape(s)); got != s {
			t.Errorf("unescape(escape(%q)) = %q", s, got)
		}
	}
}

// TestKeyLastUsed checks that a key's last use reaches the backbone, so
// that another node answers GetAccessKeyLastUsed too.
func TestKeyLastUsed(t *testing.T) {
	s, st := open(t)
	ctx := context.Background()
	s.CreateUser(ctx, "u", "", nil)
	k, _ := s.CreateAccessKey(ctx, "u")
	other, err := Open(ctx, st.JetStream(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if u, err := other.LastUsed(k.ID); err != nil || !u.When.IsZero() || u.User != "u" {
		t.Fatalf("LastUsed of an unused key: %+v %v", u, err)
	}
	if _, err := s.Resolve(k.ID, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		u, _ := other.LastUsed(k.ID)
		if !u.When.IsZero() {
			if time.Since(u.When) > time.Minute {
				t.Errorf("last used %v", u.When)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last use never reached the other node")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The key still works, and deactivating it is not lost to the write.
	if err := s.UpdateAccessKey(ctx, "u", k.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(k.ID); ok {
		t.Error("a deactivated key still looks up")
	}
}
