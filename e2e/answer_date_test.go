package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestInvokeAnswerDate checks that an invocation's answer is dated when
// it is written, not when the request came: an SDK corrects its clock by
// the Date of the answers it gets, and a long invocation dated at its
// start would make it sign its next requests in the past.
func TestInvokeAnswerDate(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	rc := runtimeCases()[0]
	create(t, c, "dated", rc, rc.code(t, "v1"))
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("dated"), Payload: []byte(`{"op":"noop"}`)}); err != nil {
		t.Fatal(err) // a cold start, not timed
	}
	t0 := time.Now()
	out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("dated"), Payload: []byte(`{"op":"sleep","ms":2100}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke: %v, %v", out, err)
	}
	raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw response")
	}
	date, err := http.ParseTime(raw.Header.Get("Date"))
	if earliest := t0.Truncate(time.Second).Add(2 * time.Second); err != nil || date.Before(earliest) || date.After(time.Now()) {
		t.Errorf("the answer of an invocation of 2.1 s begun at %v is dated %q (%v), want from %v on", t0, raw.Header.Get("Date"), err, earliest)
	}
}
