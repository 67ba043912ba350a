package app

import (
	"context"
	"fmt"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/iam"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/aloft-dev/aloft/internal/notify"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/s3api"
	"github.com/aloft-dev/aloft/internal/sigv2"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// startObjects opens the object store under <dir>/objects, sweeping what
// an earlier run left half-written, and builds the S3 API over it. Bucket
// notifications go to the async queue, which must be open already.
func (s *Server) startObjects(dir string, v *sigv4.Verifier, log *slog.Logger) error {
	objects, err := objstore.Open(filepath.Join(dir, "objects"))
	if err != nil {
		return fmt.Errorf("app: object store: %w", err)
	}
	s.objects = objects
	notifier, err := notify.New(notify.Deps{Config: objects.Notification, Queue: s.queue, Logger: log.With("component", "notify")})
	if err != nil {
		return fmt.Errorf("app: notifications: %w", err)
	}
	s.s3 = s3api.New(s3api.Deps{
		Store:    objects,
		Verifier: v,
		VerifierV2: &sigv2.Verifier{Lookup: s.lookup, VirtualBucket: func(host string) (string, bool) {
			return s.s3.VirtualBucket(host)
		}},
		OnChange:       notifier.OnChange,
		FunctionExists: s.functionExists,
		Authorize:      s.authorizeS3,
		Logger:         log.With("component", "s3"),
	})
	return nil
}

// functionExists reports whether a Lambda function ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]) names a
// function in the registry.
func (s *Server) functionExists(_ context.Context, arn string) bool {
	name, _, ok := awsproto.LambdaFunction(arn)
	if !ok {
		return false
	}
	_, ok = s.reg.Get(name)
	return ok
}

// authorizeS3 decides whether the signer of an S3 request (nil for an
// anonymous one) may perform action on resource: the signer's policies
// and the bucket's, or for an anonymous request the bucket's alone.
func (s *Server) authorizeS3(r *http.Request, id *sigv4.Identity, action, resource string, keys map[string][]string, bucket *policy.Policy) *awsproto.Error {
	rc := &iam.Request{Keys: keys}
	if id == nil {
		edge.RequestContext(r, sigv4.Identity{}, rc)
		if bucket == nil || bucket.DecideFor(&policy.Caller{}, action, resource, rc) != policy.Allow {
			return &awsproto.Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied"}
		}
		return nil
	}
	p, err := s.resolve(*id)
	if err == nil && p.Kind != iam.RootPrincipal {
		edge.RequestContext(r, *id, rc)
		err = p.AuthorizeRequest(action, resource, rc, bucket)
	}
	if err != nil {
		return edge.Refusal(err, awsproto.RESTXML)
	}
	return nil
}
