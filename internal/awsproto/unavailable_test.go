package awsproto

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/fault"
)

// errNoMajority is what a write on a node without a majority comes to,
// wrapped on its way up as the domain packages wrap it.
var errNoMajority = fmt.Errorf("queues: save: %w", fault.Errorf(fault.Unavailable, "no majority"))

// TestUnavailable: an error of kind fault.Unavailable is a 503 with each
// protocol's code; any other is none of Unavailable's.
func TestUnavailable(t *testing.T) {
	for p, code := range map[Protocol]string{JSON10Query: "ServiceUnavailable", QueryXML: "ServiceUnavailable", RESTXML: "ServiceUnavailable", Lambda: "ServiceException", RESTJSON: "ServiceUnavailableException"} {
		e := Unavailable(p, errNoMajority)
		if e == nil || e.Status != http.StatusServiceUnavailable || e.Code != code || !errors.Is(e, errNoMajority) {
			t.Errorf("Unavailable(%d, no majority) = %+v, want 503 %s wrapping the cause", p, e, code)
		}
	}
	for _, err := range []error{nil, errors.New("disk full"), fault.Errorf(fault.Throttled, "slow down")} {
		if e := Unavailable(JSON10, err); e != nil {
			t.Errorf("Unavailable(%v) = %+v, want nil", err, e)
		}
	}
	if s := Status(fault.Unavailable); s != http.StatusServiceUnavailable {
		t.Errorf("Status(unavailable) = %d, want 503", s)
	}
}

// TestUnavailableReachesTheSDK: an operation failing unavailable, with
// no entry in the API's table, answers SQS's and STS's own clients 503
// ServiceUnavailable, not 500 InternalFailure.
func TestUnavailableReachesTheSDK(t *testing.T) {
	ctx := context.Background()
	type in struct{ QueueName string }
	jsonAPI := &JSONAPI{Protocol: JSON10Query, Prefix: "AmazonSQS", Errors: func(error) *Error { return nil }}
	Handle(jsonAPI, "CreateQueue", func(context.Context, *in) (*struct{}, error) { return nil, errNoMajority })
	js := httptest.NewServer(jsonAPI)
	defer js.Close()
	_, err := sqs.NewFromConfig(sdkConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(js.URL) }).
		CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")})
	checkUnavailable(t, "SQS CreateQueue", err)

	queryAPI := &QueryAPI{Version: "2011-06-15", Namespace: "https://sts.amazonaws.com/doc/2011-06-15/"}
	queryAPI.HandleQuery("GetCallerIdentity", func(context.Context, url.Values) (any, error) { return nil, errNoMajority })
	qs := httptest.NewServer(queryAPI)
	defer qs.Close()
	_, err = sts.NewFromConfig(sdkConfig(), func(o *sts.Options) { o.BaseEndpoint = aws.String(qs.URL) }).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	checkUnavailable(t, "STS GetCallerIdentity", err)
}

func checkUnavailable(t *testing.T, op string, err error) {
	t.Helper()
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Errorf("%s: %v, want status 503", op, err)
		return
	}
	checkAPIError(t, err, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
}
