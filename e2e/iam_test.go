package e2e

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// clients are one set of credentials' clients of every service.
type clients struct {
	iam    *iam.Client
	sts    *sts.Client
	lambda *lambda.Client
	s3     *s3.Client
	logs   *cloudwatchlogs.Client
}

func clientsFor(srv *alofttest.Server, creds aws.CredentialsProvider) clients {
	cfg := srv.Config()
	cfg.Credentials = creds
	ep := aws.String(srv.URL)
	return clients{
		iam:    iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = ep }),
		sts:    sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = ep }),
		lambda: lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = ep }),
		s3:     s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = ep, true }),
		logs:   cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = ep }),
	}
}

// userWithPolicy creates, as root, the IAM user name with an access key
// and the inline policy doc, and returns clients signing as that user.
func userWithPolicy(ctx context.Context, t *testing.T, srv *alofttest.Server, root clients, name, doc string) clients {
	t.Helper()
	if _, err := root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(name),
		PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	return clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
}

// waitFor retries fn for up to a second: IAM changes reach every
// request within the watch's delay.
func waitFor(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIAMUserPermissions creates a user with the IAM API, gives it a key
// and a policy that allows reading one function and one bucket, and
// checks with that key that each allowed call succeeds and every other
// is refused with the service's own AccessDenied; then that a
// deactivated key stops working at once.
func TestIAMUserPermissions(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)

	rc := runtimeCases()[1] // python
	create(t, root.lambda, "readable", rc, rc.code(t, "v1"))
	create(t, root.lambda, "private", rc, rc.code(t, "v1"))
	for _, b := range []string{"open", "closed"} {
		if _, err := root.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
		if _, err := root.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader("data")}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	_, err := root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")})
	apiErr(t, err, "EntityAlreadyExists", 409)
	if _, err := root.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("dev"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("web")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := root.iam.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("dev")})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "web" {
		t.Fatalf("ListUserTags: %+v %v", tags, err)
	}
	users, err := root.iam.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil || len(users.Users) != 1 || aws.ToString(users.Users[0].Arn) != "arn:aws:iam::000000000000:user/dev" {
		t.Fatalf("ListUsers: %+v %v", users, err)
	}
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = root.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("bad"),
		PolicyDocument: aws.String(`{"Statement":{"Effect":"Perhaps","Action":"*","Resource":"*"}}`)})
	apiErr(t, err, "MalformedPolicyDocument", 400)
	if _, err := root.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["lambda:GetFunction","lambda:InvokeFunction"],"Resource":"arn:aws:lambda:*:*:function:readable"},
			{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::open/*"},
			{"Effect":"Allow","Action":"logs:DescribeLogGroups","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := root.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("read")})
	if err != nil || !strings.Contains(aws.ToString(got.PolicyDocument), "lambda%3AGetFunction") && !strings.Contains(aws.ToString(got.PolicyDocument), "lambda:GetFunction") {
		t.Fatalf("GetUserPolicy: %v %v", got, err)
	}

	dev := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	who, err := dev.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:iam::000000000000:user/dev" || aws.ToString(who.Account) != "000000000000" {
		t.Fatalf("GetCallerIdentity: %+v %v", who, err)
	}

	// Allowed.
	if _, err := dev.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("readable")}); err != nil {
		t.Errorf("GetFunction of the readable function: %v", err)
	}
	if _, err := dev.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("readable"), Payload: []byte(`{}`)}); err != nil {
		t.Errorf("Invoke of the readable function: %v", err)
	}
	if _, err := dev.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("open"), Key: aws.String("k")}); err != nil {
		t.Errorf("GetObject of the open bucket: %v", err)
	}
	if _, err := dev.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil {
		t.Errorf("DescribeLogGroups: %v", err)
	}

	// Refused, each in its service's shape.
	_, err = dev.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("private")})
	msg := apiErr(t, err, "AccessDeniedException", 403)
	if want := "User: arn:aws:iam::000000000000:user/dev is not authorized to perform: lambda:GetFunctionConfiguration on resource: arn:aws:lambda:us-east-1:000000000000:function:private"; !strings.HasPrefix(msg, want) {
		t.Errorf("denial message %q, want it to start %q", msg, want)
	}
	_, err = dev.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("readable")})
	apiErr(t, err, "AccessDeniedException", 403)
	_, err = dev.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("private")})
	apiErr(t, err, "AccessDeniedException", 403)
	_, err = dev.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("closed"), Key: aws.String("k")})
	apiErr(t, err, "AccessDenied", 403)
	_, err = dev.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("open"), Key: aws.String("k2"), Body: bytes.NewReader([]byte("x"))})
	apiErr(t, err, "AccessDenied", 403)
	_, err = dev.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	apiErr(t, err, "AccessDenied", 403)
	_, err = dev.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/private")})
	apiErr(t, err, "AccessDeniedException", 403)
	_, err = dev.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("escalate")})
	apiErr(t, err, "AccessDenied", 403)
	_, err = dev.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)})
	apiErr(t, err, "AccessDenied", 403)

	// A deactivated key stops working.
	if _, err := root.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("dev"), AccessKeyId: key.AccessKey.AccessKeyId, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a deactivated key is refused", func() error {
		_, err := dev.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("readable")})
		if err == nil {
			return errorString("still accepted")
		}
		return nil
	})
	_, err = dev.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("readable")})
	apiErr(t, err, "UnrecognizedClientException", 403)

	// Deleting the user needs its key and policy gone first.
	_, err = root.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("dev")})
	apiErr(t, err, "DeleteConflict", 409)
	root.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("dev"), AccessKeyId: key.AccessKey.AccessKeyId})
	root.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("read")})
	if _, err := root.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestAssumeRole creates a role that a user may assume and a managed
// policy attached to it, assumes it with STS, and uses the temporary
// credentials: allowed exactly what the role allows, with the caller
// identity of the session, and refused once the role is gone.
func TestAssumeRole(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	for _, b := range []string{"reports", "other"} {
		if _, err := root.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci")})
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci")})
	if err != nil {
		t.Fatal(err)
	}
	role, err := root.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("uploader"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/ci"},"Action":"sts:AssumeRole"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := root.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("put-reports"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::reports/*"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("uploader"), PolicyArn: pol.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	attached, err := root.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("uploader")})
	if err != nil || len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyArn) != aws.ToString(pol.Policy.Arn) {
		t.Fatalf("ListAttachedRolePolicies: %+v %v", attached, err)
	}

	ci := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	out, err := ci.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("build-42"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	if until := time.Until(aws.ToTime(out.Credentials.Expiration)); until < 14*time.Minute || until > 16*time.Minute {
		t.Errorf("the session ends in %v, want 15 minutes", until)
	}
	session := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken)))
	who, err := session.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:sts::000000000000:assumed-role/uploader/build-42" {
		t.Fatalf("GetCallerIdentity of the session: %+v %v", who, err)
	}
	if _, err := session.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("r.txt"), Body: strings.NewReader("r")}); err != nil {
		t.Errorf("PutObject allowed by the role: %v", err)
	}
	_, err = session.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("other"), Key: aws.String("r.txt"), Body: strings.NewReader("r")})
	apiErr(t, err, "AccessDenied", 403)
	_, err = session.lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	apiErr(t, err, "AccessDeniedException", 403)

	// A forged session token, then a user the trust policy does not name.
	forged := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken)+"x"))
	_, err = forged.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	apiErr(t, err, "InvalidClientTokenId", 403)
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("intruder")})
	ikey, _ := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("intruder")})
	intruder := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(ikey.AccessKey.AccessKeyId), aws.ToString(ikey.AccessKey.SecretAccessKey), ""))
	_, err = intruder.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("x1")})
	apiErr(t, err, "AccessDenied", 403)

	// The role goes; its sessions stop.
	root.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("uploader"), PolicyArn: pol.Policy.Arn})
	if _, err := root.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("uploader")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a session of a deleted role is refused", func() error {
		if _, err := session.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
			return errorString("still accepted")
		}
		return nil
	})
	_, err = session.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("r2.txt"), Body: strings.NewReader("r")})
	apiErr(t, err, "InvalidAccessKeyId", 403)
}

// TestIAMConditions gives a user the classic home-directory policy of
// AWS's documentation (a policy variable in the resource, s3:prefix in a
// condition) and a condition on the caller's address, and checks each
// is evaluated against real requests.
func TestIAMConditions(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	if _, err := root.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("homes")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"alice/notes.txt", "bob/notes.txt"} {
		root.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("homes"), Key: aws.String(k), Body: strings.NewReader(k)})
	}
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")})
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("home"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::homes/${aws:username}/*"},
			{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::homes","Condition":{"StringLike":{"s3:prefix":"${aws:username}/*"}}},
			{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	alice := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	if _, err := alice.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("homes"), Key: aws.String("alice/notes.txt")}); err != nil {
		t.Errorf("reading her own home: %v", err)
	}
	_, err = alice.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("homes"), Key: aws.String("bob/notes.txt")})
	apiErr(t, err, "AccessDenied", 403)
	if _, err := alice.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("homes"), Prefix: aws.String("alice/")}); err != nil {
		t.Errorf("listing her own prefix: %v", err)
	}
	_, err = alice.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("homes"), Prefix: aws.String("bob/")})
	apiErr(t, err, "AccessDenied", 403)
	_, err = alice.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("homes")})
	apiErr(t, err, "AccessDenied", 403)
	// From the loopback address, the deny on deleting applies.
	_, err = alice.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("homes"), Key: aws.String("alice/notes.txt")})
	apiErr(t, err, "AccessDenied", 403)
}

// TestFunctionResourcePolicy grants a user the right to invoke one
// function through the function's own policy (AddPermission), as SAM
// templates and AWS's tutorials do, and takes it back.
func TestFunctionResourcePolicy(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	rc := runtimeCases()[1]
	create(t, root.lambda, "shared", rc, rc.code(t, "v1"))
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("guest")})
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("guest")})
	if err != nil {
		t.Fatal(err)
	}
	guest := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	_, err = guest.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("shared")})
	apiErr(t, err, "AccessDeniedException", 403)
	_, err = root.lambda.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("shared")})
	apiErr(t, err, "ResourceNotFoundException", 404)

	add, err := root.lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("shared"), StatementId: aws.String("guest-invoke"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("arn:aws:iam::000000000000:user/guest")})
	if err != nil || !strings.Contains(aws.ToString(add.Statement), `"Sid":"guest-invoke"`) {
		t.Fatalf("AddPermission: %v %v", add, err)
	}
	_, err = root.lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("shared"), StatementId: aws.String("guest-invoke"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
	apiErr(t, err, "ResourceConflictException", 409)
	if _, err := root.lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("shared"), StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"), SourceArn: aws.String("arn:aws:s3:::uploads")}); err != nil {
		t.Fatal(err)
	}
	pol, err := root.lambda.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("shared")})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), `"guest-invoke"`) || !strings.Contains(aws.ToString(pol.Policy), `"AWS:SourceArn":"arn:aws:s3:::uploads"`) {
		t.Fatalf("GetPolicy: %v %v", pol, err)
	}

	if _, err := guest.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("shared")}); err != nil {
		t.Errorf("Invoke granted by the function's policy: %v", err)
	}
	_, err = guest.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("shared")})
	apiErr(t, err, "AccessDeniedException", 403)

	if _, err := root.lambda.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("shared"), StatementId: aws.String("guest-invoke")}); err != nil {
		t.Fatal(err)
	}
	_, err = root.lambda.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("shared"), StatementId: aws.String("guest-invoke")})
	apiErr(t, err, "ResourceNotFoundException", 404)
	_, err = guest.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("shared")})
	apiErr(t, err, "AccessDeniedException", 403)
}

// TestBucketPolicy sets bucket policies with S3's own API: one makes a
// bucket's objects public to anonymous readers, as the static-site
// tutorial does; another grants a user without policies of its own the
// right to write one prefix, and denies everyone deleting.
func TestBucketPolicy(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	for _, b := range []string{"site", "drop"} {
		if _, err := root.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
		root.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("index.html"), Body: strings.NewReader("<h1>hi</h1>")})
	}
	anon := func(path string) int {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := anon("/site/index.html"); got != 403 {
		t.Fatalf("an anonymous read before any policy: %d", got)
	}
	_, err := root.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("site")})
	apiErr(t, err, "NoSuchBucketPolicy", 404)
	_, err = root.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(`{"Statement":{"Effect":"Allow","Action":"s3:GetObject"}}`)})
	apiErr(t, err, "MalformedPolicy", 400)
	public := `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}`
	if _, err := root.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(public)}); err != nil {
		t.Fatal(err)
	}
	got, err := root.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("site")})
	if err != nil || aws.ToString(got.Policy) != public {
		t.Fatalf("GetBucketPolicy: %v %v", got, err)
	}
	if got := anon("/site/index.html"); got != 200 {
		t.Errorf("an anonymous read of a public bucket: %d", got)
	}
	if got := anon("/site?list-type=2"); got != 403 {
		t.Errorf("an anonymous listing of a bucket whose policy allows reads only: %d", got)
	}
	if got := anon("/drop/index.html"); got != 403 {
		t.Errorf("an anonymous read of another bucket: %d", got)
	}

	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("uploader")})
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("uploader")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("drop"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/uploader"},"Action":["s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::drop/in/*"},
		{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::drop/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	up := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	if _, err := up.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("drop"), Key: aws.String("in/a.txt"), Body: strings.NewReader("a")}); err != nil {
		t.Errorf("a write the bucket policy grants: %v", err)
	}
	_, err = up.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("drop"), Key: aws.String("out/a.txt"), Body: strings.NewReader("a")})
	apiErr(t, err, "AccessDenied", 403)
	_, err = up.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("drop"), Key: aws.String("in/a.txt")})
	apiErr(t, err, "AccessDenied", 403)
	if _, err := root.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	if got := anon("/site/index.html"); got != 403 {
		t.Errorf("an anonymous read after the policy went: %d", got)
	}
}

// TestIAMGroups gives a user a group's permissions by membership, and
// takes them away.
func TestIAMGroups(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("member")})
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("member")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.iam.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("readers")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.iam.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("readers"), PolicyName: aws.String("list"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}}`)}); err != nil {
		t.Fatal(err)
	}
	member := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	_, err = member.lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	apiErr(t, err, "AccessDeniedException", 403)
	if _, err := root.iam.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("readers"), UserName: aws.String("member")}); err != nil {
		t.Fatal(err)
	}
	g, err := root.iam.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("readers")})
	if err != nil || len(g.Users) != 1 || aws.ToString(g.Users[0].UserName) != "member" {
		t.Fatalf("GetGroup: %+v %v", g, err)
	}
	if _, err := member.lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("ListFunctions as a member of the group: %v", err)
	}
	_, err = root.iam.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("readers")})
	apiErr(t, err, "DeleteConflict", 409)
	if _, err := root.iam.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("readers"), UserName: aws.String("member")}); err != nil {
		t.Fatal(err)
	}
	_, err = member.lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	apiErr(t, err, "AccessDeniedException", 403)
}
