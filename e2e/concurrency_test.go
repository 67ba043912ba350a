package e2e

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestProvisionedConcurrency keeps instances initialised ahead of traffic.
func TestProvisionedConcurrency(t *testing.T) {
	srv := alofttest.Start(t, "--keep-alive", "1s")
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	create(t, c, "ready", goRC, goRC.code(t, "v1"))
	put, err := c.PutProvisionedConcurrencyConfig(ctxT(t), &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("ready"), Qualifier: aws.String("$LATEST"), ProvisionedConcurrentExecutions: aws.Int32(2)})
	if err != nil || aws.ToInt32(put.RequestedProvisionedConcurrentExecutions) != 2 {
		t.Fatalf("put got %+v, %v", put, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := c.GetProvisionedConcurrencyConfig(ctxT(t), &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("ready"), Qualifier: aws.String("$LATEST")})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == types.ProvisionedConcurrencyStatusEnumReady && aws.ToInt32(got.AvailableProvisionedConcurrentExecutions) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("provisioned concurrency not ready: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // longer than the keep-alive: provisioned instances stay
	a, out := invoke(t, c, "ready", `{}`)
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if a.InitType != "provisioned-concurrency" || a.Calls != 1 || strings.Contains(string(tail), "Init Duration") {
		t.Fatalf("first invocation got %+v, tail:\n%s\nwant a warm provisioned instance", a, tail)
	}
	if _, err := c.DeleteProvisionedConcurrencyConfig(ctxT(t), &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String("ready"), Qualifier: aws.String("$LATEST")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetProvisionedConcurrencyConfig(ctxT(t), &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("ready"), Qualifier: aws.String("$LATEST")})
	var nf *types.ProvisionedConcurrencyConfigNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("get after delete got %v", err)
	}
}
