package awsproto

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// answering starts a server that answers every request with e in
// protocol p, and returns an SDK configuration pointed at it.
func answering(t *testing.T, p Protocol, e *Error) (aws.Config, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-Requestid", "req-1")
		WriteError(w, r, p, e, "req-1")
	}))
	t.Cleanup(srv.Close)
	return aws.Config{
		Region:      DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		// No retries: a 5xx would be tried again.
		RetryMaxAttempts: 1,
	}, srv.URL
}

// checkAPIError checks that err is the API error code with message msg.
func checkAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%v is not an API error", err)
	}
	if ae.ErrorCode() != code || ae.ErrorMessage() != msg {
		t.Errorf("decoded %q %q, want %q %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

// TestErrorsDecodeInTheSDKs has each protocol's writer answer a client of
// the AWS SDK for Go that speaks it, which must decode the error into its
// own typed exception with the code and message.
func TestErrorsDecodeInTheSDKs(t *testing.T) {
	ctx := context.Background()
	t.Run("rest-json", func(t *testing.T) {
		cfg, url := answering(t, RESTJSON, Errorf(404, "ResourceNotFoundException", "Function not found: %s", "f"))
		_, err := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(url) }).
			GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("f")})
		var typed *lambdatypes.ResourceNotFoundException
		if !errors.As(err, &typed) {
			t.Fatalf("%v is not lambda's ResourceNotFoundException", err)
		}
		checkAPIError(t, err, "ResourceNotFoundException", "Function not found: f")
	})
	t.Run("json-1.1", func(t *testing.T) {
		cfg, url := answering(t, JSON11, Errorf(400, "ResourceNotFoundException", "The specified log group does not exist."))
		_, err := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(url) }).
			DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("g")})
		var typed *logstypes.ResourceNotFoundException
		if !errors.As(err, &typed) {
			t.Fatalf("%v is not CloudWatch Logs' ResourceNotFoundException", err)
		}
		checkAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	})
	t.Run("rest-xml", func(t *testing.T) {
		cfg, url := answering(t, RESTXML, Errorf(404, "NoSuchKey", "The specified key does not exist."))
		_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(url), true }).
			GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
		var typed *s3types.NoSuchKey
		if !errors.As(err, &typed) {
			t.Fatalf("%v is not S3's NoSuchKey", err)
		}
		checkAPIError(t, err, "NoSuchKey", "The specified key does not exist.")
	})
	t.Run("query-xml", func(t *testing.T) {
		cfg, url := answering(t, QueryXML, Errorf(400, "ExpiredTokenException", "The security token included in the request is expired"))
		_, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(url) }).
			AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/r"), RoleSessionName: aws.String("s")})
		var typed *ststypes.ExpiredTokenException
		if !errors.As(err, &typed) {
			t.Fatalf("%v is not STS's ExpiredTokenException", err)
		}
		checkAPIError(t, err, "ExpiredTokenException", "The security token included in the request is expired")
	})
	t.Run("json-1.0 query-compatible", func(t *testing.T) {
		// SQS's JSON 1.0 client: its typed error, and the code its query
		// protocol would give, from x-amzn-query-error.
		e := Errorf(400, "QueueDoesNotExist", "The specified queue does not exist.")
		e.QueryCode = "AWS.SimpleQueueService.NonExistentQueue"
		cfg, url := answering(t, JSON10Query, e)
		_, err := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(url) }).
			GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url + "/000000000000/q")})
		var typed *sqstypes.QueueDoesNotExist
		if !errors.As(err, &typed) {
			t.Fatalf("%v is not SQS's QueueDoesNotExist", err)
		}
		checkAPIError(t, err, "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
	})
	t.Run("lambda", func(t *testing.T) {
		e := Errorf(429, "TooManyRequestsException", "Rate Exceeded.")
		e.Reason = "ReservedFunctionConcurrentInvocationLimitExceeded"
		cfg, url := answering(t, Lambda, e)
		_, err := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(url) }).
			Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f")})
		var typed *lambdatypes.TooManyRequestsException
		if !errors.As(err, &typed) {
			t.Fatalf("%v is not lambda's TooManyRequestsException", err)
		}
		if typed.Reason != lambdatypes.ThrottleReason(e.Reason) || typed.RetryAfterSeconds == nil || *typed.RetryAfterSeconds != "1" {
			t.Errorf("reason %q, retry after %v", typed.Reason, typed.RetryAfterSeconds)
		}
		checkAPIError(t, err, "TooManyRequestsException", "Rate Exceeded.")
	})
	t.Run("rest-xml fields", func(t *testing.T) {
		w := httptest.NewRecorder()
		e := Errorf(404, "NoSuchBucket", "The specified bucket does not exist")
		e.Fields = []Field{{"BucketName", "a<b"}, {"HostId", "h"}}
		WriteError(w, httptest.NewRequest("GET", "/a", nil), RESTXML, e, "r1")
		var doc struct {
			Code, Message, BucketName, HostId, RequestId string
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Code != "NoSuchBucket" || doc.BucketName != "a<b" ||
			doc.HostId != "h" || doc.RequestId != "r1" {
			t.Errorf("document %s decodes to %+v (%v)", w.Body, doc, err)
		}
	})
	t.Run("head", func(t *testing.T) {
		w := httptest.NewRecorder()
		WriteError(w, httptest.NewRequest("HEAD", "/b/k", nil), RESTXML, Errorf(404, "NoSuchKey", "x"), "")
		if w.Code != 404 || w.Body.Len() != 0 {
			t.Errorf("HEAD: %d with %d bytes of body", w.Code, w.Body.Len())
		}
	})
}
