// Command sdkfn is a test function that calls Aloft's APIs from inside a
// function with aws-sdk-go-v2 and no configuration of its own: the
// endpoint and credentials (its execution role's) come from the
// environment the platform sets. The event names one operation to try;
// the answer says whether it was allowed and, if not, the error code.
package main

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

type event struct {
	Op       string `json:"op"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	Function string `json:"function"`
}

type answer struct {
	OK        bool     `json:"ok"`
	Code      string   `json:"code,omitempty"`
	Functions []string `json:"functions,omitempty"`
	Body      string   `json:"body,omitempty"`
	Caller    string   `json:"caller,omitempty"`
}

func handle(ctx context.Context, ev event) (answer, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return answer{}, err
	}
	fns := lambdasvc.NewFromConfig(cfg)
	objs := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	var out answer
	switch ev.Op {
	case "", "list-functions":
		var l *lambdasvc.ListFunctionsOutput
		if l, err = fns.ListFunctions(ctx, &lambdasvc.ListFunctionsInput{}); err == nil {
			for _, f := range l.Functions {
				out.Functions = append(out.Functions, aws.ToString(f.FunctionName))
			}
		}
	case "whoami":
		var id *sts.GetCallerIdentityOutput
		if id, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
			out.Caller = aws.ToString(id.Arn)
		}
	case "get-object":
		var o *s3.GetObjectOutput
		if o, err = objs.GetObject(ctx, &s3.GetObjectInput{Bucket: &ev.Bucket, Key: &ev.Key}); err == nil {
			var b strings.Builder
			buf := make([]byte, 1024)
			n, _ := o.Body.Read(buf)
			b.Write(buf[:n])
			o.Body.Close()
			out.Body = b.String()
		}
	case "put-object":
		_, err = objs.PutObject(ctx, &s3.PutObjectInput{Bucket: &ev.Bucket, Key: &ev.Key, Body: strings.NewReader("written")})
	case "list-buckets":
		_, err = objs.ListBuckets(ctx, &s3.ListBucketsInput{})
	case "get-configuration":
		_, err = fns.GetFunctionConfiguration(ctx, &lambdasvc.GetFunctionConfigurationInput{FunctionName: &ev.Function})
	case "invoke":
		_, err = fns.Invoke(ctx, &lambdasvc.InvokeInput{FunctionName: &ev.Function})
	case "delete-function":
		_, err = fns.DeleteFunction(ctx, &lambdasvc.DeleteFunctionInput{FunctionName: &ev.Function})
	case "delete-object":
		_, err = objs.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &ev.Bucket, Key: &ev.Key})
	default:
		return answer{}, errors.New("unknown op " + ev.Op)
	}
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae):
		out.Code = ae.ErrorCode()
	case err != nil:
		return answer{}, err
	default:
		out.OK = true
	}
	return out, nil
}

func main() { lambda.Start(handle) }
