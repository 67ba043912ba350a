package awsproto

import "testing"

func TestLambdaFunction(t *testing.T) {
	for _, tc := range []struct {
		in, name, qualifier string
		ok                  bool
	}{
		{"arn:aws:lambda:us-east-1:000000000000:function:hello", "hello", "", true},
		{"arn:aws:lambda:eu-west-1:123456789012:function:hello:prod", "hello", "prod", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST", "hello", "$LATEST", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:hello:1:2", "", "", false},
		{"arn:aws:lambda:us-east-1:000000000000:layer:hello", "", "", false},
		{"arn:aws:lambda:us-east-1:000000000000:function:", "", "", false},
		{"arn:aws:s3:::bucket", "", "", false},
		{"hello", "", "", false},
		{"arn:aws:lambda:us-east-1", "", "", false},
	} {
		name, qualifier, ok := LambdaFunction(tc.in)
		if name != tc.name || qualifier != tc.qualifier || ok != tc.ok {
			t.Errorf("LambdaFunction(%q) = %q, %q, %v; want %q, %q, %v", tc.in, name, qualifier, ok, tc.name, tc.qualifier, tc.ok)
		}
	}
}
