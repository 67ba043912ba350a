package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// executionRole creates a role that Lambda may assume, with policy as its
// inline policy, the way AWS's tutorials do (create-role with a trust
// policy for lambda.amazonaws.com, then put-role-policy), and returns
// its ARN.
func executionRole(t *testing.T, srv *alofttest.Server, name, policy string) string {
	t.Helper()
	c := clientsFor(srv, srv.Config().Credentials).iam
	out, err := c.CreateRole(ctxT(t), &iam.CreateRoleInput{RoleName: aws.String(name),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRolePolicy(ctxT(t), &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(name),
		PolicyDocument: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Role.Arn)
}

// sdkAnswer is what e2e/functions/sdkfn answers.
type sdkAnswer struct {
	OK        bool     `json:"ok"`
	Code      string   `json:"code"`
	Functions []string `json:"functions"`
	Body      string   `json:"body"`
	Caller    string   `json:"caller"`
}

func trySDK(t *testing.T, c *lambda.Client, fn string, event map[string]string) sdkAnswer {
	t.Helper()
	b, _ := json.Marshal(event)
	_, out := invoke(t, c, fn, string(b))
	if out.FunctionError != nil {
		t.Fatalf("%s %v: function failed: %s", fn, event, out.Payload)
	}
	var a sdkAnswer
	if err := json.Unmarshal(out.Payload, &a); err != nil {
		t.Fatalf("%s: answer %s: %v", fn, out.Payload, err)
	}
	return a
}

// TestSDKInsideFunction checks that an AWS SDK inside a function reaches
// Aloft's APIs with the endpoint and the credentials of its execution
// role the platform gives it, and may do exactly what the role allows:
// a role that allows only s3:GetObject on one bucket reads it and is
// denied writing it, listing buckets, reading another function's
// configuration, invoking another function and deleting anything; a
// function with the default role may write logs only.
func TestSDKInsideFunction(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	ctx := ctxT(t)
	s3c := srv.S3()
	for _, b := range []string{"readable", "other"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("contents of " + b)}); err != nil {
			t.Fatal(err)
		}
	}
	rc := runtimeCases()[0]
	code := alofttest.GoFunction(t, "e2e/functions/sdkfn", "v1")
	lister := executionRole(t, srv, "lister", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}}`)
	create(t, c, "inside", rc, code, func(in *lambda.CreateFunctionInput) { in.Role = aws.String(lister) })
	if a := trySDK(t, c, "inside", map[string]string{"op": "list-functions"}); !a.OK || len(a.Functions) != 1 || a.Functions[0] != "inside" {
		t.Fatalf("the function listed %+v", a)
	}
	if a := trySDK(t, c, "inside", map[string]string{"op": "whoami"}); a.Caller != "arn:aws:sts::000000000000:assumed-role/lister/inside" {
		t.Errorf("the function's caller identity is %+v", a)
	}

	reader := executionRole(t, srv, "reader", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::readable/*"}}`)
	create(t, c, "reads", rc, code, func(in *lambda.CreateFunctionInput) { in.Role = aws.String(reader) })
	if a := trySDK(t, c, "reads", map[string]string{"op": "get-object", "bucket": "readable", "key": "k"}); !a.OK || a.Body != "contents of readable" {
		t.Errorf("reading the allowed bucket: %+v", a)
	}
	for _, ev := range []map[string]string{
		{"op": "put-object", "bucket": "readable", "key": "new"},
		{"op": "get-object", "bucket": "other", "key": "k"},
		{"op": "list-buckets"},
		{"op": "delete-object", "bucket": "readable", "key": "k"},
		{"op": "get-configuration", "function": "inside"},
		{"op": "invoke", "function": "inside"},
		{"op": "delete-function", "function": "inside"},
		{"op": "list-functions"},
	} {
		a := trySDK(t, c, "reads", ev)
		if a.OK || (a.Code != "AccessDenied" && a.Code != "AccessDeniedException") {
			t.Errorf("%v by a role that may only read one bucket: %+v, want AccessDenied", ev, a)
		}
	}

	// The default role writes logs, nothing else.
	create(t, c, "default", rc, code)
	if a := trySDK(t, c, "default", map[string]string{"op": "list-functions"}); a.OK || a.Code != "AccessDeniedException" {
		t.Errorf("ListFunctions with the default role: %+v", a)
	}

	// Deleting a role in use is allowed, as on AWS: the running instances'
	// credentials stop working at once, and no new instance can start.
	iamc := clientsFor(srv, srv.Config().Credentials).iam
	iamc.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("lister"), PolicyName: aws.String("lister")})
	if _, err := iamc.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("lister")}); err != nil {
		t.Fatal(err)
	}
	if a := trySDK(t, c, "inside", map[string]string{"op": "list-functions"}); a.OK || a.Code != "UnrecognizedClientException" {
		t.Errorf("a warm instance of a function whose role was deleted: %+v", a)
	}
	srv.Restart() // no warm instance left
	c = srv.Lambda()
	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("inside"), Payload: []byte(`{"op":"whoami"}`)})
	apiErr(t, err, "InvalidParameterValueException", 400)

	// A role that does not trust Lambda, or does not exist, is refused.
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("norole"), Runtime: "provided.al2023",
		Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/missing"), Code: &ltypes.FunctionCode{ZipFile: code}})
	if msg := apiErr(t, err, "InvalidParameterValueException", 400); msg != "The role defined for the function cannot be assumed by Lambda." {
		t.Errorf("message %q", msg)
	}
}
