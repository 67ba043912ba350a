package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// waitUntil polls cond every 100 ms until it holds, failing the test
// after timeout.
func waitUntil(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// deployRecorder creates through s a Go function of the given code, with
// a role that may send SQS messages and write logs, and its queue sink as
// its asynchronous OnSuccess destination (with retries, when not nil, as
// its maximum retry attempts); it returns the sink's URL.
func deployRecorder(ctx context.Context, tb testing.TB, s *alofttest.Server, function, sink string, code []byte, timeout int32, retries *int32) string {
	tb.Helper()
	ic := iam.NewFromConfig(s.Config(), func(o *iam.Options) { o.BaseEndpoint = aws.String(s.URL) })
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(function + "-sender"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		tb.Fatalf("create the role: %v", err)
	}
	if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(function + "-sender"), PolicyName: aws.String("send"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","logs:*"],"Resource":"*"}]}`)}); err != nil {
		tb.Fatalf("grant the role: %v", err)
	}
	if _, err := s.Lambda().CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(function),
		Runtime:      ltypes.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         role.Role.Arn,
		Code:         &ltypes.FunctionCode{ZipFile: code},
		Timeout:      aws.Int32(timeout),
	}); err != nil {
		tb.Fatalf("create the function: %v", err)
	}
	q, err := s.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(sink)})
	if err != nil {
		tb.Fatalf("create the destination queue: %v", err)
	}
	attrs, err := s.SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Lambda().PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:         aws.String(function),
		MaximumRetryAttempts: retries,
		DestinationConfig:    &ltypes.DestinationConfig{OnSuccess: &ltypes.OnSuccess{Destination: aws.String(attrs.Attributes["QueueArn"])}},
	}); err != nil {
		tb.Fatalf("put the event invoke config: %v", err)
	}
	return aws.ToString(q.QueueUrl)
}
