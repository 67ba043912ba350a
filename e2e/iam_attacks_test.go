package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// signedRaw sends a request signed with creds for service, as an
// attacker would craft it, and returns the status and body.
func signedRaw(t *testing.T, creds aws.Credentials, service, method, url, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	sum := sha256.Sum256([]byte(body))
	if service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuthorizationAttacks replays requests crafted to make the
// authorization and the handler disagree, and checks each is refused.
func TestAuthorizationAttacks(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mallory")})
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("mallory")})
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	if _, err := root.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("mallory"), PolicyName: aws.String("narrow"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:GetBucketLocation","s3:DeleteObject","lambda:CreateFunction","apigateway:*",
				"s3:PutBucketNotification","scheduler:CreateSchedule"],"Resource":"*"},
			{"Effect":"Allow","Action":"iam:PutUserPolicy","Resource":"arn:aws:iam::000000000000:user/mallory"},
			{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::loot/protected/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("loot")}); err != nil {
		t.Fatal(err)
	}
	root.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("loot"), Key: aws.String("protected/a.txt"), Body: strings.NewReader("keep")})
	form := "application/x-www-form-urlencoded"

	// The action in the body, another (empty) in the query.
	if st, body := signedRaw(t, creds, "iam", "POST", srv.URL+"/?Action=", form, "Action=CreateAccessKey&UserName=bob&Version=2010-05-08"); st < 400 || strings.Contains(body, "SecretAccessKey") {
		t.Errorf("CreateAccessKey through a query/body mismatch: %d %s", st, body)
	}
	// A parameter of another entity to pick the resource.
	if st, body := signedRaw(t, creds, "iam", "POST", srv.URL+"/", form,
		"Action=PutRolePolicy&RoleName=aloft&UserName=mallory&PolicyName=x&Version=2010-05-08&PolicyDocument="+
			`%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%7D`); st != 403 {
		t.Errorf("PutRolePolicy on a role while naming oneself: %d %s", st, body)
	}
	// A sub-resource the policy allows beside one it does not.
	policy := `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::loot/*"}}`
	if st, body := signedRaw(t, creds, "s3", "PUT", srv.URL+"/loot?location&policy", "application/json", policy); st != 403 {
		t.Errorf("PutBucketPolicy disguised with ?location: %d %s", st, body)
	}
	// S3 has no DELETE of ?location: it is refused as not implemented
	// (or, had it been taken for a bucket operation, as not allowed), and
	// the bucket stays.
	if st, body := signedRaw(t, creds, "s3", "DELETE", srv.URL+"/loot?location", "", ""); st != 403 && st != 501 {
		t.Errorf("DeleteBucket disguised with ?location: %d %s", st, body)
	}
	if _, err := root.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("loot")}); err != nil {
		t.Errorf("the bucket is gone after a DELETE disguised with ?location: %v", err)
	}
	// A batch delete reaches a key a Deny protects.
	up := clientsFor(srv, credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""))
	del, err := up.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("loot"),
		Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("protected/a.txt")}}}})
	if err != nil || len(del.Errors) != 1 || aws.ToString(del.Errors[0].Code) != "AccessDenied" {
		t.Errorf("a batch delete of a protected key: %+v %v", del, err)
	}
	if _, err := root.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("loot"), Key: aws.String("protected/a.txt")}); err != nil {
		t.Errorf("the protected object is gone: %v", err)
	}
	// Deputies: an API, a bucket notification and a schedule would invoke
	// a function, or serve a bucket, their maker may not.
	rc := runtimeCases()[1]
	create(t, root.lambda, "victim", rc, rc.code(t, "v1"))
	victim := "arn:aws:lambda:us-east-1:000000000000:function:victim"
	cfg := srv.Config()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")
	gw := apigatewayv2.NewFromConfig(cfg, func(o *apigatewayv2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, err = gw.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("steal"), ProtocolType: "HTTP", Target: aws.String(victim)})
	apiErr(t, err, "AccessDeniedException", 403)
	_, err = gw.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("plain"), ProtocolType: "HTTP"})
	if err != nil {
		t.Fatalf("an API naming nothing: %v", err)
	}
	_, err = up.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("loot"),
		NotificationConfiguration: &s3types.NotificationConfiguration{LambdaFunctionConfigurations: []s3types.LambdaFunctionConfiguration{
			{LambdaFunctionArn: aws.String(victim), Events: []s3types.Event{"s3:ObjectCreated:*"}}}}})
	apiErr(t, err, "AccessDenied", 403)
	sched := scheduler.NewFromConfig(cfg, func(o *scheduler.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, err = sched.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String("steal"), ScheduleExpression: aws.String("rate(1 minute)"),
		FlexibleTimeWindow: &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		Target:             &schedtypes.Target{Arn: aws.String(victim), RoleArn: aws.String("arn:aws:iam::000000000000:role/aloft")}})
	apiErr(t, err, "AccessDeniedException", 403)

	// A function given a role its creator may not pass.
	powerful := executionRole(t, srv, "powerful", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	_, err = up.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("escalate"), Runtime: "python3.11",
		Handler: aws.String("app.handler"), Role: aws.String(powerful),
		Code: &ltypes.FunctionCode{ZipFile: alofttest.ZipFiles(t, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"})}})
	if msg := apiErr(t, err, "AccessDeniedException", 403); !strings.Contains(msg, "iam:PassRole") {
		t.Errorf("CreateFunction with a role not passable: %q", msg)
	}
}
