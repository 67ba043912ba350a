package e2e

import (
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestConcurrencyControls reserves concurrency for a function and checks
// that invocations beyond it, or beyond the account's limit, get Lambda's
// 429 with the right reason.
func TestConcurrencyControls(t *testing.T) {
	srv := alofttest.Start(t, "--concurrency-limit", "103")
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	zip := goRC.code(t, "v1")
	create(t, c, "capped", goRC, zip)

	put, err := c.PutFunctionConcurrency(ctxT(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(1)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 1 {
		t.Fatalf("put concurrency got %+v, %v", put, err)
	}
	got, err := c.GetFunctionConcurrency(ctxT(t), &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("capped")})
	if err != nil || aws.ToInt32(got.ReservedConcurrentExecutions) != 1 {
		t.Fatalf("get concurrency got %+v, %v", got, err)
	}
	fn, err := c.GetFunction(ctxT(t), &lambda.GetFunctionInput{FunctionName: aws.String("capped")})
	if err != nil || fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != 1 {
		t.Fatalf("get function concurrency got %+v, %v", fn.Concurrency, err)
	}
	acct, err := c.GetAccountSettings(ctxT(t), &lambda.GetAccountSettingsInput{})
	if err != nil || acct.AccountLimit.ConcurrentExecutions != 103 || acct.AccountLimit.UnreservedConcurrentExecutions == nil || *acct.AccountLimit.UnreservedConcurrentExecutions != 102 {
		t.Fatalf("account limits got %+v, %v", acct.AccountLimit, err)
	}
	_, err = c.PutFunctionConcurrency(ctxT(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(4)})
	apiErr(t, err, "InvalidParameterValueException", 400)

	// One runs; a second at the same time is throttled.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for { // until it, rather than a probe below, holds the one slot
			_, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("capped"), Payload: []byte(`{"op":"sleep","ms":1500}`)})
			var tm *types.TooManyRequestsException
			if !errors.As(err, &tm) {
				if err != nil {
					t.Error(err)
				}
				return
			}
		}
	}()
	var tooMany *types.TooManyRequestsException
	var throttled error
	for range 1000 {
		_, throttled = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("capped"), Payload: []byte(`{"op":"noop"}`)})
		if throttled != nil {
			break
		}
	}
	wg.Wait()
	if !errors.As(throttled, &tooMany) || tooMany.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Fatalf("a second concurrent invocation got %v, want TooManyRequestsException with the reserved reason", throttled)
	}
	var re *smithyhttp.ResponseError
	if !errors.As(throttled, &re) || re.Response.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After: %v", throttled)
	}
	if _, err := c.DeleteFunctionConcurrency(ctxT(t), &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("capped")}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetFunctionConcurrency(ctxT(t), &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("capped")})
	if err != nil || got.ReservedConcurrentExecutions != nil {
		t.Fatalf("after delete got %+v, %v", got, err)
	}

	// A function reserved at 0 is switched off.
	create(t, c, "off", goRC, zip)
	if _, err := c.PutFunctionConcurrency(ctxT(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("off"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("off")})
	if !errors.As(err, &tooMany) {
		t.Fatalf("invoke of a function reserved at 0 got %v", err)
	}
}

// TestAccountConcurrencyLimit fills the account's concurrency.
func TestAccountConcurrencyLimit(t *testing.T) {
	srv := alofttest.Start(t, "--concurrency-limit", "2")
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	create(t, c, "busy", goRC, goRC.code(t, "v1"))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("busy"), Payload: []byte(`{"op":"sleep","ms":1500}`)})
		}()
	}
	wg.Wait()
	ok, throttled := 0, 0
	for _, err := range errs {
		var tm *types.TooManyRequestsException
		switch {
		case err == nil:
			ok++
		case errors.As(err, &tm) && tm.Reason == types.ThrottleReasonConcurrentInvocationLimitExceeded:
			throttled++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 2 || throttled != 2 {
		t.Fatalf("got %d served and %d throttled, want 2 and 2 with a limit of 2", ok, throttled)
	}
}
