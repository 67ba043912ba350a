package iam

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/policy"
)

// BenchmarkAuthorize is the authorization decision of a warm invoke: a
// user with three policies of ten statements each, the allowing
// statement the last of the last policy.
func BenchmarkAuthorize(b *testing.B) {
	var pols []*policy.Policy
	for p := range 3 {
		var st []string
		for s := range 10 {
			st = append(st, fmt.Sprintf(`{"Effect":"Allow","Action":["lambda:Get*","s3:GetObject"],"Resource":"arn:aws:lambda:*:*:function:team%d-fn%d-*"}`, p, s))
		}
		if p == 2 {
			st[9] = `{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:orders*"}`
		}
		pol, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(st, ",") + `]}`))
		if err != nil {
			b.Fatal(err)
		}
		pols = append(pols, pol)
	}
	p := &Principal{Kind: UserPrincipal, ARN: "arn:aws:iam::000000000000:user/u", policies: pols}
	const res = "arn:aws:lambda:us-east-1:000000000000:function:orders-api"
	if err := p.Authorize("lambda:InvokeFunction", res); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if p.Authorize("lambda:InvokeFunction", res) != nil {
			b.Fatal("denied")
		}
	}
}
