package awsproto

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

func sdkConfig() aws.Config {
	return aws.Config{Region: DefaultRegion, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
}

var errNoQueue = errors.New("no such queue")

// TestJSONAPIServesTheSDK serves two operations of SQS's JSON protocol
// with the kit and calls them with SQS's own client: a result, a domain
// error mapped by the API's table, and an operation the API lacks.
func TestJSONAPIServesTheSDK(t *testing.T) {
	type getURLIn struct{ QueueName string }
	type getURLOut struct{ QueueUrl string }
	api := &JSONAPI{Protocol: JSON10Query, Prefix: "AmazonSQS", Errors: func(err error) *Error {
		if errors.Is(err, errNoQueue) {
			return &Error{Status: 400, Code: "QueueDoesNotExist", QueryCode: "AWS.SimpleQueueService.NonExistentQueue", Message: "The specified queue does not exist."}
		}
		return nil
	}}
	Handle(api, "GetQueueUrl", func(_ context.Context, in *getURLIn) (*getURLOut, error) {
		if in.QueueName != "jobs" {
			return nil, errNoQueue
		}
		return &getURLOut{QueueUrl: "http://localhost/000000000000/jobs"}, nil
	})
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := sqs.NewFromConfig(sdkConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := context.Background()
	out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("jobs")})
	if err != nil || aws.ToString(out.QueueUrl) != "http://localhost/000000000000/jobs" {
		t.Fatalf("GetQueueUrl: %v, %v", out, err)
	}
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("other")})
	var missing *sqstypes.QueueDoesNotExist
	if !errors.As(err, &missing) {
		t.Fatalf("GetQueueUrl of a missing queue: %v, want QueueDoesNotExist", err)
	}
	_, err = c.ListQueues(ctx, &sqs.ListQueuesInput{})
	checkAPIError(t, err, "UnknownOperationException", `The operation "AmazonSQS.ListQueues" is not supported by this service.`)

	// A body that is not JSON, and a server fault, in the protocol's shape.
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("{"))
	req.Header.Set("X-Amz-Target", "AmazonSQS.GetQueueUrl")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "SerializationException" || resp.Header.Get("X-Amzn-Requestid") == "" {
		t.Errorf("malformed body: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestQueryAPIServesTheSDK serves STS's GetCallerIdentity with the kit
// and calls it with STS's own client, then an action the API lacks.
func TestQueryAPIServesTheSDK(t *testing.T) {
	api := &QueryAPI{Version: "2011-06-15", Namespace: "https://sts.amazonaws.com/doc/2011-06-15/"}
	api.HandleQuery("GetCallerIdentity", func(context.Context, url.Values) (any, error) {
		return struct {
			Arn, UserId, Account string
		}{"arn:aws:iam::000000000000:user/alice", "AIDAALICE", AccountID}, nil
	})
	api.HandleQuery("AssumeRole", func(_ context.Context, p url.Values) (any, error) {
		if p.Get("RoleArn") == "" {
			return nil, errors.New("no role")
		}
		return nil, Errorf(400, "MalformedPolicyDocument", "The policy is not valid.")
	})
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := sts.NewFromConfig(sdkConfig(), func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := context.Background()
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Arn) != "arn:aws:iam::000000000000:user/alice" || aws.ToString(out.Account) != AccountID {
		t.Fatalf("GetCallerIdentity: %+v, %v", out, err)
	}
	_, err = c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/r"), RoleSessionName: aws.String("s")})
	var malformed *ststypes.MalformedPolicyDocumentException
	if !errors.As(err, &malformed) {
		t.Fatalf("AssumeRole: %v, want MalformedPolicyDocument", err)
	}
	_, err = c.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	checkAPIError(t, err, "InvalidAction", "Could not find operation GetSessionToken for version 2011-06-15")
}
