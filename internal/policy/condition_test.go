package policy

import (
	"strings"
	"testing"
)

// keys is a request context from a map; names are matched in lower case.
type keys map[string][]string

func (k keys) Values(key string) ([]string, bool) {
	v, ok := k[strings.ToLower(key)]
	return v, ok
}

// TestConditions evaluates one Allow statement with each condition
// operator against requests that should and should not satisfy it, as
// AWS's documentation of the operators describes them.
func TestConditions(t *testing.T) {
	alice := keys{"aws:username": {"alice"}, "aws:sourceip": {"203.0.113.7"}, "aws:currenttime": {"2026-06-01T12:00:00Z"},
		"aws:securetransport": {"true"}, "s3:prefix": {"home/alice/"}, "s3:max-keys": {"10"},
		"aws:principalarn": {"arn:aws:iam::000000000000:user/alice"}, "s3:delimiter": {"team", "cost"}}
	bob := keys{"aws:username": {"bob"}, "aws:sourceip": {"198.51.100.9"}, "aws:currenttime": {"2027-01-01T00:00:00Z"},
		"aws:securetransport": {"false"}, "s3:prefix": {"home/bob/"}, "s3:max-keys": {"1000"},
		"aws:principalarn": {"arn:aws:iam::000000000000:role/ops"}, "s3:delimiter": {"team", "secret"}}
	none := keys{}
	for _, tc := range []struct {
		name      string
		condition string
		yes, no   Context
	}{
		{"StringEquals", `{"StringEquals":{"aws:username":["carol","alice"]}}`, alice, bob},
		{"StringNotEquals", `{"StringNotEquals":{"aws:username":"bob"}}`, alice, bob},
		{"StringNotEquals of a missing key holds", `{"StringNotEquals":{"aws:username":"bob"}}`, none, bob},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, alice, bob},
		{"StringLike", `{"StringLike":{"s3:prefix":["home/a*/","docs/?"]}}`, alice, bob},
		{"StringNotLike", `{"StringNotLike":{"s3:prefix":"home/b*"}}`, alice, bob},
		{"policy variable", `{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}`, alice, keys{"aws:username": {"alice"}, "s3:prefix": {"home/bob/"}}},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, alice, bob},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"s3:max-keys":100}}`, bob, alice},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"}}`, alice, bob},
		{"DateGreaterThanEquals epoch", `{"DateGreaterThanEquals":{"aws:CurrentTime":"1798761600"}}`, bob, alice},
		{"Bool", `{"Bool":{"aws:SecureTransport":"true"}}`, alice, bob},
		{"Bool of a missing key fails", `{"Bool":{"aws:SecureTransport":true}}`, alice, none},
		{"IpAddress", `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`, alice, bob},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, bob, alice},
		{"ArnLike", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, alice, bob},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::000000000000:role/ops"}}`, alice, bob},
		{"Null true: the key is absent", `{"Null":{"aws:username":"true"}}`, none, alice},
		{"Null false: the key is present", `{"Null":{"aws:username":"false"}}`, alice, none},
		{"IfExists holds without the key", `{"StringEqualsIfExists":{"aws:username":"alice"}}`, none, bob},
		{"ForAllValues", `{"ForAllValues:StringEquals":{"s3:delimiter":["team","cost","owner"]}}`, alice, bob},
		{"ForAllValues of no values holds", `{"ForAllValues:StringEquals":{"s3:delimiter":["team"]}}`, none, bob},
		{"ForAnyValue", `{"ForAnyValue:StringEquals":{"s3:delimiter":"secret"}}`, bob, alice},
		{"two operators must both hold", `{"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"true"}}`, alice,
			keys{"aws:username": {"alice"}, "aws:securetransport": {"false"}}},
	} {
		p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":` + tc.condition + `}}`))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := p.Decide("s3:ListBucket", "arn:aws:s3:::b", tc.yes); got != Allow {
			t.Errorf("%s: a request that satisfies it got %v", tc.name, got)
		}
		if got := p.Decide("s3:ListBucket", "arn:aws:s3:::b", tc.no); got != NotApplicable {
			t.Errorf("%s: a request that does not satisfy it got %v", tc.name, got)
		}
	}
}

// TestResourceVariables checks AWS's example of a policy variable in a
// resource: each user may reach only their own home prefix.
func TestResourceVariables(t *testing.T) {
	p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:*Object","Resource":"arn:aws:s3:::home/${aws:username}/*"},
		{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::home/${aws:username, 'nobody'}/keep/*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	alice := keys{"aws:username": {"alice"}}
	if p.Decide("s3:GetObject", "arn:aws:s3:::home/alice/a.txt", alice) != Allow {
		t.Error("alice may not read her own home")
	}
	if p.Decide("s3:GetObject", "arn:aws:s3:::home/bob/a.txt", alice) != NotApplicable {
		t.Error("alice may read bob's home")
	}
	if p.Decide("s3:GetObject", "arn:aws:s3:::home/alice/a.txt", nil) != NotApplicable {
		t.Error("a request without a user name reads a home")
	}
	if p.Decide("s3:DeleteObject", "arn:aws:s3:::home/alice/keep/x", alice) != Deny {
		t.Error("the deny with a variable did not apply")
	}
	if p.Decide("s3:DeleteObject", "arn:aws:s3:::home/nobody/keep/x", nil) != Deny {
		t.Error("a variable's default was not used")
	}
}

// FuzzParse feeds the parser arbitrary documents: it must refuse or
// accept without panicking, and a policy it accepts must evaluate.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}/*","Condition":{"ForAnyValue:StringLikeIfExists":{"s3:prefix":["a*","${aws:userid}"]},"Null":{"x":"true"}}}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","NotAction":"iam:*","NotResource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}`))
	ctx := keys{"aws:username": {"u"}, "s3:prefix": {"a1"}, "aws:sourceip": {"10.1.2.3"}}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if p, err := Parse(doc); err == nil {
			p.Decide("s3:GetObject", "arn:aws:s3:::u/k", ctx)
			p.Decide("s3:GetObject", "arn:aws:s3:::u/k", nil)
		}
		if p, err := ParseResource(doc); err == nil {
			p.DecideFor(&Caller{ARNs: []string{"arn:aws:iam::000000000000:user/u"}}, "sts:AssumeRole", "arn:aws:iam::000000000000:role/r", ctx)
		}
	})
}

// TestUnknownConditionKeys checks that a condition on a key this server
// never gives is refused, rather than left to make a Deny never apply.
func TestUnknownConditionKeys(t *testing.T) {
	deny := `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/protected":"true"}}}}`
	if _, err := Parse([]byte(deny)); err == nil || !strings.Contains(err.Error(), "aws:ResourceTag/protected is not supported") {
		t.Errorf("Parse = %v", err)
	}
	grant := `{"Statement":{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"*","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}}`
	if _, err := ParseResource([]byte(grant)); err != nil {
		t.Errorf("a resource policy with AWS:SourceArn: %v", err)
	}
	if _, err := Parse([]byte(strings.Replace(grant, `"Principal":{"Service":"s3.amazonaws.com"},`, "", 1))); err == nil {
		t.Error("an identity policy with AWS:SourceArn was accepted")
	}
}
