package policy

import (
	"strings"
	"testing"
)

func TestIsPublic(t *testing.T) {
	// stmt is a bucket policy of one statement: principal and condition
	// are JSON ("" leaves the condition out).
	stmt := func(effect, principal, condition string) string {
		s := `{"Version":"2012-10-17","Statement":[{"Effect":"` + effect + `","Principal":` + principal +
			`,"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"`
		if condition != "" {
			s += `,"Condition":` + condition
		}
		return s + `}]}`
	}
	const account = `{"AWS":"arn:aws:iam::000000000000:root"}`
	cases := []struct {
		name   string
		doc    string
		public bool
	}{
		{"star", stmt("Allow", `"*"`, ""), true},
		{"AWS star", stmt("Allow", `{"AWS":"*"}`, ""), true},
		{"AWS star in a list", stmt("Allow", `{"AWS":["arn:aws:iam::000000000000:root","*"]}`, ""), true},
		{"account root", stmt("Allow", account, ""), false},
		{"account id", stmt("Allow", `{"AWS":"000000000000"}`, ""), false},
		{"user ARN", stmt("Allow", `{"AWS":"arn:aws:iam::000000000000:user/alice"}`, ""), false},
		{"wildcard in an ARN", stmt("Allow", `{"AWS":"arn:aws:iam::000000000000:user/*"}`, ""), true},
		{"service", stmt("Allow", `{"Service":"lambda.amazonaws.com"}`, ""), false},
		{"not principal", `{"Statement":[{"Effect":"Allow","NotPrincipal":` + account + `,"Action":"s3:GetObject","Resource":"*"}]}`, true},
		{"deny to everyone", stmt("Deny", `"*"`, ""), false},
		{"source account", stmt("Allow", `"*"`, `{"StringEquals":{"aws:SourceAccount":"000000000000"}}`), false},
		{"source account, key in any case", stmt("Allow", `"*"`, `{"StringEquals":{"AWS:sourceaccount":"000000000000"}}`), false},
		{"source account list", stmt("Allow", `"*"`, `{"StringEquals":{"aws:SourceAccount":["000000000000","111111111111"]}}`), false},
		{"source account wildcard", stmt("Allow", `"*"`, `{"StringLike":{"aws:SourceAccount":"0000*"}}`), true},
		{"source account like, fixed", stmt("Allow", `"*"`, `{"StringLike":{"aws:SourceAccount":"000000000000"}}`), false},
		{"source account one wildcard of two", stmt("Allow", `"*"`, `{"StringLike":{"aws:SourceAccount":["000000000000","1?"]}}`), true},
		{"source account not equals", stmt("Allow", `"*"`, `{"StringNotEquals":{"aws:SourceAccount":"000000000000"}}`), true},
		{"source account if exists", stmt("Allow", `"*"`, `{"StringEqualsIfExists":{"aws:SourceAccount":"000000000000"}}`), true},
		{"source account for all values", stmt("Allow", `"*"`, `{"ForAllValues:StringEquals":{"aws:SourceAccount":"000000000000"}}`), true},
		{"source account for any value", stmt("Allow", `"*"`, `{"ForAnyValue:StringEquals":{"aws:SourceAccount":"000000000000"}}`), false},
		{"source account null", stmt("Allow", `"*"`, `{"Null":{"aws:SourceAccount":"false"}}`), true},
		{"source account variable", stmt("Allow", `"*"`, `{"StringEquals":{"aws:SourceAccount":"${aws:PrincipalAccount}"}}`), true},
		{"source ARN", stmt("Allow", `"*"`, `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:000000000000:t"}}`), false},
		{"source ARN like, wildcard", stmt("Allow", `"*"`, `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-1:*:t"}}`), true},
		{"source owner", stmt("Allow", `"*"`, `{"StringEquals":{"aws:SourceOwner":"000000000000"}}`), false},
		{"principal account", stmt("Allow", `"*"`, `{"StringEquals":{"aws:PrincipalAccount":"000000000000"}}`), false},
		{"user id", stmt("Allow", `"*"`, `{"StringEquals":{"aws:userid":"AIDAEXAMPLE"}}`), false},
		{"user id of any session of a role", stmt("Allow", `"*"`, `{"StringLike":{"aws:userid":"AROAEXAMPLE:*"}}`), true},
		{"source IP address", stmt("Allow", `"*"`, `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`), false},
		{"source IP range", stmt("Allow", `"*"`, `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`), false},
		{"source IP everywhere", stmt("Allow", `"*"`, `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`), true},
		{"source IP everywhere, v6", stmt("Allow", `"*"`, `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","::/0"]}}`), true},
		{"not source IP", stmt("Allow", `"*"`, `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), true},
		{"source IP as a string", stmt("Allow", `"*"`, `{"StringEquals":{"aws:SourceIp":"203.0.113.7"}}`), true},
		{"a key that makes nothing non-public", stmt("Allow", `"*"`, `{"StringEquals":{"s3:prefix":"public/"}}`), true},
		{"secure transport", stmt("Allow", `"*"`, `{"Bool":{"aws:SecureTransport":"true"}}`), true},
		{"one restricting condition of two", stmt("Allow", `"*"`, `{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:SourceAccount":"000000000000"}}`), false},
		{"public beside private", `{"Statement":[
			{"Effect":"Allow","Principal":` + account + `,"Action":"s3:*","Resource":"*"},
			{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, true},
		{"restricted beside private", `{"Statement":[
			{"Effect":"Allow","Principal":` + account + `,"Action":"s3:*","Resource":"*"},
			{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
			{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, false},
		{"no statements", `{"Statement":[]}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseResource([]byte(c.doc))
			if err != nil {
				t.Fatalf("ParseResource: %v", err)
			}
			if got := p.IsPublic(); got != c.public {
				t.Errorf("IsPublic = %v, want %v\n%s", got, c.public, c.doc)
			}
		})
	}
}

func TestIsPublicKnowsTheKeysItNames(t *testing.T) {
	// Every non-public-making key is lower case, so that the comparison
	// without regard to case finds it.
	for _, k := range nonPublicKeys {
		if k != strings.ToLower(k) {
			t.Errorf("key %q is not lower case", k)
		}
	}
}

func TestIsPublicAllocatesNothing(t *testing.T) {
	p, err := ParseResource([]byte(`{"Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"s3:*","Resource":"*"},
		{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { p.IsPublic() }); n != 0 {
		t.Errorf("IsPublic allocates %v times", n)
	}
}
