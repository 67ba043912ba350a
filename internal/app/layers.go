package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/bundle"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/layers"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/policy"
)

// openLayers opens the layer store, its content cached under
// <dir>/layers, and drops cached content no version uses.
func (s *Server) openLayers(ctx context.Context, js jetstream.JetStream, dir string, log *slog.Logger) error {
	st, err := layers.Open(ctx, js, filepath.Join(dir, "layers"), log)
	if err != nil {
		return err
	}
	s.layers = st
	if err := st.Sweep(); err != nil {
		log.Warn("could not remove unused layer content", "err", err)
	}
	return nil
}

// layersDir is the invoker's Layers: the merged content of a function's
// layers.
func (s *Server) layersDir(ctx context.Context, arns []string) (string, error) {
	return s.layers.Merged(ctx, arns)
}

// anyCodeZip serves code download links: a function's code, or a layer
// version's content (GetLayerVersion's Content.Location).
func (s *Server) anyCodeZip(ctx context.Context, codeHex string) ([]byte, error) {
	b, err := s.codeZip(ctx, codeHex)
	if fault.KindOf(err) != fault.NotFound || s.layers == nil {
		return b, err
	}
	return s.layers.Zip(ctx, codeHex)
}

// codeUnzipped is the Lambda API's CodeUnzipped: the unzipped size of a
// function's stored code.
func (s *Server) codeUnzipped(ctx context.Context, codeHex string) (int64, error) {
	b, err := s.reg.Zip(ctx, codeHex)
	if err != nil {
		return 0, err
	}
	info, err := bundle.InspectAny(b)
	if err != nil {
		return 0, err
	}
	return info.Unzipped, nil
}

// lambdaS3Code is the Lambda API's S3Code: it reads a code archive from
// Aloft's S3 as the request's caller would with GetObject (or
// GetObjectVersion for a version), the bucket's policy included, and
// turns S3's refusals into the errors Lambda gives.
func (s *Server) lambdaS3Code(r *http.Request, bucket, key, versionID string) ([]byte, error) {
	ctx := r.Context()
	if s.objects == nil {
		return nil, lambdaapi.S3CodeError("NoSuchBucket", "The specified bucket does not exist")
	}
	doc, err := s.objects.Policy(ctx, bucket)
	if errors.Is(err, objstore.ErrNoSuchBucket) {
		return nil, lambdaapi.S3CodeError("NoSuchBucket", "The specified bucket does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("app: read the policy of %s: %w", bucket, err)
	}
	var bp *policy.Policy
	if doc != nil {
		if bp, err = policy.ParseResource(doc); err != nil {
			return nil, fmt.Errorf("app: parse the policy of %s: %w", bucket, err)
		}
	}
	action := "s3:GetObject"
	if versionID != "" {
		action = "s3:GetObjectVersion"
	}
	_, id, ok := edge.Verified(ctx)
	if !ok {
		return nil, lambdaapi.S3CodeDenied(bucket, key)
	}
	if aerr := s.authorizeS3(r, &id, action, "arn:aws:s3:::"+bucket+"/"+key, nil, bp); aerr != nil {
		return nil, lambdaapi.S3CodeDenied(bucket, key)
	}
	obj, err := s.objects.OpenVersion(ctx, bucket, key, versionID)
	var marker *objstore.MarkerError
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return nil, lambdaapi.S3CodeError("NoSuchBucket", "The specified bucket does not exist")
	case errors.Is(err, objstore.ErrNoSuchVersion), errors.Is(err, objstore.ErrInvalidVersion):
		return nil, lambdaapi.S3CodeError("NoSuchVersion", "The specified version does not exist.")
	case errors.Is(err, objstore.ErrNoSuchKey), errors.As(err, &marker):
		return nil, lambdaapi.S3CodeError("NoSuchKey", "The specified key does not exist.")
	case errors.Is(err, objstore.ErrSSEKeyRequired):
		return nil, lambdaapi.S3CodeError("InvalidRequest", "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
	case err != nil:
		return nil, fmt.Errorf("app: open s3://%s/%s: %w", bucket, key, err)
	}
	defer obj.Close()
	if obj.Info().Size > lambdaapi.MaxS3CodeSize {
		return nil, function.InvalidParameter("Unzipped size must be smaller than %d bytes", function.MaxUnzippedSize)
	}
	rd, err := obj.Range(0, -1)
	if err != nil {
		return nil, fmt.Errorf("app: read s3://%s/%s: %w", bucket, key, err)
	}
	b, err := io.ReadAll(io.LimitReader(rd, lambdaapi.MaxS3CodeSize+1))
	if err != nil {
		return nil, fmt.Errorf("app: read s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
}
