package policy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	arnA     = "arn:aws:execute-api:us-east-1:000000000000:api1/$default/GET/a"
	arnB     = "arn:aws:execute-api:us-east-1:000000000000:api1/$default/GET/b"
	arnPostA = "arn:aws:execute-api:us-east-1:000000000000:api1/$default/POST/a"
	arnOrder = "arn:aws:execute-api:us-east-1:000000000000:api1/prod/GET/orders/42"
	arnAdmin = "arn:aws:execute-api:us-east-1:000000000000:api1/prod/GET/admin"
	arnOther = "arn:aws:execute-api:us-east-1:000000000000:api2/prod/GET/orders/42"
)

var arns = []string{arnA, arnB, arnPostA, arnOrder, arnAdmin, arnOther}

func TestAllows(t *testing.T) {
	cases := []struct {
		name   string
		policy string
		allow  []string // the ARNs of arns it allows; the rest it denies
	}{
		{"allow all", `{"Statement":{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}}`, arns},
		{"exact resource", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"` + arnA + `"}]}`, []string{arnA}},
		{"resource list", `{"Statement":[{"Effect":"Allow","Action":["execute-api:Invoke"],"Resource":["` + arnA + `","` + arnAdmin + `"]}]}`, []string{arnA, arnAdmin}},
		{"star in path", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:api1/*/GET/orders/*"}]}`, []string{arnOrder}},
		{"star in method", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:api1/$default/*/a"}]}`, []string{arnA, arnPostA}},
		{"question mark", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:api1/$default/GET/?"}]}`, []string{arnA, arnB}},
		{"question mark is one character", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:api1/$default/GET/??"}]}`, nil},
		{"whole api", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:api1/*"}]}`, []string{arnA, arnB, arnPostA, arnOrder, arnAdmin}},
		{"resources are case-sensitive", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:000000000000:api1/$default/get/a"}]}`, nil},
		{"actions are not", `{"Statement":[{"Effect":"Allow","Action":"EXECUTE-API:invoke","Resource":"*"}]}`, arns},
		{"action wildcard", `{"Statement":[{"Effect":"Allow","Action":"execute-api:*","Resource":"*"}]}`, arns},
		{"any action", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, arns},
		{"another action", `{"Statement":[{"Effect":"Allow","Action":"execute-api:ManageConnections","Resource":"*"}]}`, nil},
		{"another service", `{"Statement":[{"Effect":"Allow","Action":"lambda:Invoke*","Resource":"*"}]}`, nil},
		{"action list", `{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","execute-api:Invoke"],"Resource":"*"}]}`, arns},
		{"deny wins", `{"Statement":[
			{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"},
			{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:*/GET/admin"}]}`, []string{arnA, arnB, arnPostA, arnOrder, arnOther}},
		{"deny wins whatever the order", `{"Statement":[
			{"Effect":"Deny","Action":"execute-api:*","Resource":["` + arnA + `"]},
			{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"` + arnA + `"}]}`, nil},
		{"deny of another action", `{"Statement":[
			{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"},
			{"Effect":"Deny","Action":"execute-api:ManageConnections","Resource":"*"}]}`, arns},
		{"deny alone", `{"Statement":[{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"` + arnA + `"}]}`, nil},
		{"no statements", `{"Version":"2012-10-17","Statement":[]}`, nil},
		{"empty resource list", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":[]}]}`, nil},
		{"not action", `{"Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"` + arnB + `"}]}`, []string{arnB}},
		{"not action excludes", `{"Statement":[{"Effect":"Allow","NotAction":"execute-api:*","Resource":"*"}]}`, nil},
		{"not resource", `{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","NotResource":["arn:aws:execute-api:*:*:api1/*"]}]}`, []string{arnOther}},
		{"deny with not resource", `{"Statement":[
			{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"},
			{"Effect":"Deny","Action":"execute-api:Invoke","NotResource":"*/GET/orders/*"}]}`, []string{arnOrder, arnOther}},
		{"empty condition", `{"Statement":[{"Sid":"1","Effect":"Allow","Action":"execute-api:Invoke","Resource":"*","Condition":{}}]}`, arns},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.policy))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, arn := range arns {
				want := false
				for _, a := range tc.allow {
					want = want || a == arn
				}
				if got := p.Allows(InvokeAction, arn); got != want {
					t.Errorf("Allows(%s) = %v, want %v", arn, got, want)
				}
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	cases := []struct{ name, policy, want string }{
		{"unknown condition operator", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAdress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`, "IpAdress"},
		{"condition value of the wrong type", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}}`, "ten"},
		{"bad address", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0/33"}}}}`, "10.0.0/33"},
		{"malformed condition", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":"yes"}]}`, "Condition"},
		{"principal", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`, "Principal"},
		{"unknown element", `{"Statement":[{"Effect":"Allow","Actions":"*","Resource":"*"}]}`, "Actions"},
		{"action and not action", `{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}]}`, "both Action and NotAction"},
		{"no action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, "neither Action nor NotAction"},
		{"null action", `{"Statement":[{"Effect":"Allow","Action":null,"Resource":"*"}]}`, "neither Action nor NotAction"},
		{"no resource", `{"Statement":[{"Effect":"Allow","Action":"*"}]}`, "neither Resource nor NotResource"},
		{"resource and not resource", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","NotResource":"x"}]}`, "both Resource"},
		{"effect", `{"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`, "Effect"},
		{"no effect", `{"Statement":[{"Action":"*","Resource":"*"}]}`, "Effect"},
		{"action not a string", `{"Statement":[{"Effect":"Allow","Action":7,"Resource":"*"}]}`, "statement 0"},
		{"resource list of numbers", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":[1]}]}`, "statement 0"},
		{"second statement", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*"}]}`, "statement 1"},
		{"no statement", `{"Version":"2012-10-17"}`, "Statement"},
		{"null statement", `{"Statement":null}`, "Statement"},
		{"statement string", `{"Statement":"Allow"}`, "Statement"},
		{"not an object", `[]`, "policy document"},
		{"unknown document element", `{"Statement":[],"Extra":1}`, "Extra"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.policy))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		p, s string
		fold bool
		want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "anything/at:all", false, true},
		{"?", "", false, false},
		{"?", "€", false, true}, // one character, three bytes
		{"??", "€", false, false},
		{"a*b*c", "abc", false, true},
		{"a*b*c", "aXbYbZc", false, true},
		{"a*b*c", "aXbYbZcd", false, false},
		{"a*?", "a", false, false},
		{"a*?", "ab", false, true},
		{"*a", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", false, false},
		{"**", "x", false, true},
		{"ABC", "abc", false, false},
		{"ABC", "abc", true, true},
		{"a?C", "Abc", true, true},
		{"É", "é", true, false}, // only ASCII folds
	}
	for _, tc := range cases {
		if got := Match(tc.p, tc.s, tc.fold); got != tc.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", tc.p, tc.s, tc.fold, got, tc.want)
		}
	}
}

func TestMatchAllocates(t *testing.T) {
	p, err := Parse([]byte(`{"Statement":[{"Effect":"Allow","Action":"execute-api:*","Resource":"arn:aws:execute-api:*:*:api1/*/GET/orders/*"},
		{"Effect":"Deny","Action":"*","Resource":"*/admin"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { p.Allows(InvokeAction, arnOrder) }); n != 0 {
		t.Fatalf("Allows allocates %v times, want 0", n)
	}
}

// FuzzMatch checks Match against the regular expression the pattern
// stands for.
func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{{"a*b?c", "aXXbYc"}, {"*", ""}, {"?*?", "ab"}, {"arn:*:x/*", "arn:aws:x/y/z"}, {"*€?", "x€y"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if !utf8.ValidString(p) {
			t.Skip() // the expression below would read U+FFFD where p has a byte
		}
		var re strings.Builder
		re.WriteString(`(?s)\A`)
		for _, r := range p {
			switch r {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString(`\z`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := Match(p, s, false); got != want {
			t.Fatalf("Match(%q, %q) = %v, regexp %s says %v", p, s, got, re.String(), want)
		}
	})
}

// TestTrustPolicy evaluates resource-based policies: a role's trust
// policy naming a service, a user and an account, and a NotPrincipal.
func TestTrustPolicy(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"},
		{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:user/alice","111122223333"]},"Action":"sts:AssumeRole"},
		{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"sts:TagSession"}]}`
	p, err := ParseResource([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::000000000000:role/r"
	for _, tc := range []struct {
		name   string
		caller Caller
		action string
		want   Decision
	}{
		{"the service", Caller{Service: "lambda.amazonaws.com"}, "sts:AssumeRole", Allow},
		{"another service", Caller{Service: "s3.amazonaws.com"}, "sts:AssumeRole", NotApplicable},
		{"the user", Caller{ARNs: []string{"arn:aws:iam::000000000000:user/alice", "arn:aws:iam::000000000000:root"}}, "sts:AssumeRole", Allow},
		{"another user", Caller{ARNs: []string{"arn:aws:iam::000000000000:user/bob", "arn:aws:iam::000000000000:root"}}, "sts:AssumeRole", NotApplicable},
		{"the account", Caller{ARNs: []string{"arn:aws:iam::111122223333:user/x", "arn:aws:iam::111122223333:root"}}, "sts:AssumeRole", Allow},
		{"not the named principal", Caller{ARNs: []string{"arn:aws:iam::000000000000:user/bob"}}, "sts:TagSession", Deny},
		{"the named principal", Caller{ARNs: []string{"arn:aws:iam::000000000000:user/alice"}}, "sts:TagSession", NotApplicable},
	} {
		if got := p.DecideFor(&tc.caller, tc.action, role, nil); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{
		`{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"sts:AssumeRole"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"everyone","Action":"sts:AssumeRole"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"Federated":"x"},"Action":"sts:AssumeRole"}}`,
	} {
		if _, err := ParseResource([]byte(bad)); err == nil {
			t.Errorf("ParseResource accepted %s", bad)
		}
	}
	if _, err := Parse([]byte(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}`)); err == nil {
		t.Error("an identity-based policy with a Principal was accepted")
	}
}
