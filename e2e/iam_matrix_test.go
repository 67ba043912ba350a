package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestAuthorizationMatrix calls operations of every service with a user
// whose policy allows the read operations only (each service's Get*,
// List* and Describe* actions), and checks that every read succeeds and
// every other operation is refused with the service's own error.
func TestAuthorizationMatrix(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	rc := runtimeCases()[1]
	create(t, root.lambda, "fn", rc, rc.code(t, "v1"))
	if _, err := root.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("matrix-bucket")}); err != nil {
		t.Fatal(err)
	}
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reader")})
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("reader"), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*","Action":[
			"lambda:Get*","lambda:List*","s3:ListAllMyBuckets","s3:ListBucket","s3:GetObject","logs:Describe*",
			"scheduler:List*","scheduler:Get*","apigateway:GET","iam:Get*","iam:List*"]}}`)}); err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")
	u := clientsFor(srv, creds)
	cfg := srv.Config()
	cfg.Credentials = creds
	sched := scheduler.NewFromConfig(cfg, func(o *scheduler.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	gw := apigatewayv2.NewFromConfig(cfg, func(o *apigatewayv2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	fn := aws.String("fn")

	type call struct {
		name    string
		allowed bool
		code    string // of a refusal
		do      func(context.Context) error
	}
	lambdaDenied, xmlDenied := "AccessDeniedException", "AccessDenied"
	calls := []call{
		{"lambda GetFunction", true, "", func(c context.Context) error {
			_, err := u.lambda.GetFunction(c, &lambda.GetFunctionInput{FunctionName: fn})
			return err
		}},
		{"lambda ListFunctions", true, "", func(c context.Context) error {
			_, err := u.lambda.ListFunctions(c, &lambda.ListFunctionsInput{})
			return err
		}},
		{"lambda GetAccountSettings", true, "", func(c context.Context) error {
			_, err := u.lambda.GetAccountSettings(c, &lambda.GetAccountSettingsInput{})
			return err
		}},
		{"lambda ListTags", true, "", func(c context.Context) error {
			_, err := u.lambda.ListTags(c, &lambda.ListTagsInput{Resource: aws.String("arn:aws:lambda:us-east-1:000000000000:function:fn")})
			return err
		}},
		{"lambda Invoke", false, lambdaDenied, func(c context.Context) error {
			_, err := u.lambda.Invoke(c, &lambda.InvokeInput{FunctionName: fn})
			return err
		}},
		{"lambda UpdateFunctionConfiguration", false, lambdaDenied, func(c context.Context) error {
			_, err := u.lambda.UpdateFunctionConfiguration(c, &lambda.UpdateFunctionConfigurationInput{FunctionName: fn, Timeout: aws.Int32(9)})
			return err
		}},
		{"lambda PutFunctionConcurrency", false, lambdaDenied, func(c context.Context) error {
			_, err := u.lambda.PutFunctionConcurrency(c, &lambda.PutFunctionConcurrencyInput{FunctionName: fn, ReservedConcurrentExecutions: aws.Int32(1)})
			return err
		}},
		{"lambda TagResource", false, lambdaDenied, func(c context.Context) error {
			_, err := u.lambda.TagResource(c, &lambda.TagResourceInput{Resource: aws.String("arn:aws:lambda:us-east-1:000000000000:function:fn"), Tags: map[string]string{"a": "b"}})
			return err
		}},
		{"lambda AddPermission", false, lambdaDenied, func(c context.Context) error {
			_, err := u.lambda.AddPermission(c, &lambda.AddPermissionInput{FunctionName: fn, StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
			return err
		}},
		{"lambda DeleteFunction", false, lambdaDenied, func(c context.Context) error {
			_, err := u.lambda.DeleteFunction(c, &lambda.DeleteFunctionInput{FunctionName: fn})
			return err
		}},
		{"s3 ListBuckets", true, "", func(c context.Context) error {
			_, err := u.s3.ListBuckets(c, &s3.ListBucketsInput{})
			return err
		}},
		{"s3 ListObjectsV2", true, "", func(c context.Context) error {
			_, err := u.s3.ListObjectsV2(c, &s3.ListObjectsV2Input{Bucket: aws.String("matrix-bucket")})
			return err
		}},
		{"s3 CreateBucket", false, xmlDenied, func(c context.Context) error {
			_, err := u.s3.CreateBucket(c, &s3.CreateBucketInput{Bucket: aws.String("other-bucket")})
			return err
		}},
		{"s3 DeleteBucket", false, xmlDenied, func(c context.Context) error {
			_, err := u.s3.DeleteBucket(c, &s3.DeleteBucketInput{Bucket: aws.String("matrix-bucket")})
			return err
		}},
		{"s3 PutBucketPolicy", false, xmlDenied, func(c context.Context) error {
			_, err := u.s3.PutBucketPolicy(c, &s3.PutBucketPolicyInput{Bucket: aws.String("matrix-bucket"), Policy: aws.String(`{"Statement":[]}`)})
			return err
		}},
		{"logs DescribeLogGroups", true, "", func(c context.Context) error {
			_, err := u.logs.DescribeLogGroups(c, &cloudwatchlogs.DescribeLogGroupsInput{})
			return err
		}},
		{"logs CreateLogGroup", false, lambdaDenied, func(c context.Context) error {
			_, err := u.logs.CreateLogGroup(c, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g")})
			return err
		}},
		{"scheduler ListSchedules", true, "", func(c context.Context) error {
			_, err := sched.ListSchedules(c, &scheduler.ListSchedulesInput{})
			return err
		}},
		{"scheduler CreateSchedule", false, lambdaDenied, func(c context.Context) error {
			_, err := sched.CreateSchedule(c, &scheduler.CreateScheduleInput{Name: aws.String("s"), ScheduleExpression: aws.String("rate(1 hour)"),
				FlexibleTimeWindow: &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
				Target:             &schedtypes.Target{Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:fn"), RoleArn: aws.String("arn:aws:iam::000000000000:role/aloft")}})
			return err
		}},
		{"apigateway GetApis", true, "", func(c context.Context) error {
			_, err := gw.GetApis(c, &apigatewayv2.GetApisInput{})
			return err
		}},
		{"apigateway CreateApi", false, lambdaDenied, func(c context.Context) error {
			_, err := gw.CreateApi(c, &apigatewayv2.CreateApiInput{Name: aws.String("a"), ProtocolType: "HTTP"})
			return err
		}},
		{"iam GetUser", true, "", func(c context.Context) error {
			_, err := u.iam.GetUser(c, &iam.GetUserInput{})
			return err
		}},
		{"iam ListRoles", true, "", func(c context.Context) error {
			_, err := u.iam.ListRoles(c, &iam.ListRolesInput{})
			return err
		}},
		{"iam CreateAccessKey", false, xmlDenied, func(c context.Context) error {
			_, err := u.iam.CreateAccessKey(c, &iam.CreateAccessKeyInput{})
			return err
		}},
		{"iam AttachUserPolicy", false, xmlDenied, func(c context.Context) error {
			_, err := u.iam.AttachUserPolicy(c, &iam.AttachUserPolicyInput{UserName: aws.String("reader"), PolicyArn: aws.String("arn:aws:iam::000000000000:policy/x")})
			return err
		}},
	}
	for _, c := range calls {
		err := c.do(ctx)
		switch {
		case c.allowed && err != nil:
			t.Errorf("%s: allowed by the policy, got %v", c.name, err)
		case !c.allowed:
			t.Run(c.name, func(t *testing.T) { apiErr(t, err, c.code, 403) })
		}
	}
}
