package s3api

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/fault"
)

// TestChangeUnavailable: a write whose notification cannot be saved
// because the cluster cannot take writes now answers 503
// ServiceUnavailable, which clients try again; any other failure of the
// notification stays a 500 InternalError.
func TestChangeUnavailable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bucket-one")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		fail   error
		status int
		code   string
	}{
		{fault.Errorf(fault.Unavailable, "no leader"), 503, "ServiceUnavailable"},
		{errors.New("disk on fire"), 500, "InternalError"},
	} {
		e.fail = c.fail
		_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-one"), Key: aws.String("k"), Body: strings.NewReader("x")})
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != c.status || !strings.Contains(err.Error(), c.code) {
			t.Errorf("notification failing with %v: %v; want %d %s", c.fail, err, c.status, c.code)
		}
	}
}
