package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
)

// PartSize is the size of the parts of a multipart upload. PutObject
// sends a body of at least this size as a multipart upload, as the AWS CLI
// does.
const PartSize = 8 << 20

// S3 returns an S3 client for the server's object store. It addresses
// buckets path-style (ENDPOINT/BUCKET/KEY), which works with any endpoint
// host, and adds checksums only where the API requires them.
func (c *Client) S3() *s3.Client {
	cfg := c.cfg.Copy()
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// CreateBucket creates a bucket.
func (c *Client) CreateBucket(ctx context.Context, name string) error {
	if _, err := c.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// ListBuckets lists every bucket in name order.
func (c *Client) ListBuckets(ctx context.Context) ([]types.Bucket, error) {
	out := []types.Bucket{}
	pages := s3.NewListBucketsPaginator(c.S3(), &s3.ListBucketsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list buckets: %w", err)
		}
		out = append(out, page.Buckets...)
	}
	return out, nil
}

// DeleteBucket deletes a bucket. With force it first deletes the bucket's
// objects; otherwise a bucket that holds objects is not deleted.
func (c *Client) DeleteBucket(ctx context.Context, name string, force bool) error {
	s := c.S3()
	if force {
		objs, err := c.ListObjects(ctx, name, "")
		if err != nil {
			return err
		}
		for batch := range chunks(objs, 1000) {
			del := &types.Delete{Quiet: aws.Bool(true)}
			for _, o := range batch {
				del.Objects = append(del.Objects, types.ObjectIdentifier{Key: o.Key})
			}
			out, err := s.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(name), Delete: del})
			if err != nil {
				return fmt.Errorf("empty bucket %s: %w", name, err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return fmt.Errorf("empty bucket %s: %s: %s: %s", name, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
		}
	}
	if _, err := s.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	return nil
}

// chunks yields s in pieces of at most n.
func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// ListObjects lists the objects of a bucket whose keys start with prefix,
// in key order, following every page.
func (c *Client) ListObjects(ctx context.Context, bucket, prefix string) ([]types.Object, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	out := []types.Object{}
	pages := s3.NewListObjectsV2Paginator(c.S3(), in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list objects of %s: %w", bucket, err)
		}
		out = append(out, page.Contents...)
	}
	return out, nil
}

// PutOptions are the optional settings of PutObject.
type PutOptions struct {
	// ContentType of the object; "" guesses it from the key's extension.
	ContentType string
	// Progress, if set, is told how many more bytes of the body the server
	// has been sent, as they go.
	Progress func(n int64)
}

// PutResult describes an uploaded object.
type PutResult struct {
	ETag  string // unquoted
	Size  int64
	Parts int // 0 for a single PutObject
}

// PutObject uploads body under bucket/key. A body shorter than PartSize
// goes in one PutObject; a longer one as a multipart upload of PartSize
// parts, one after the other, aborted if any step fails. Each request is
// signed with the SHA-256 of what it carries, so the server checks every
// byte. Only one part is held in memory, so body may be a pipe.
func (c *Client) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts PutOptions) (PutResult, error) {
	if opts.ContentType == "" {
		opts.ContentType = mime.TypeByExtension(path.Ext(key))
	}
	s := c.S3()
	buf := make([]byte, PartSize)
	n, err := io.ReadFull(body, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return PutResult{}, fmt.Errorf("put %s/%s: read: %w", bucket, key, err)
	}
	if n < PartSize {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: part(buf[:n], opts.Progress)}
		if opts.ContentType != "" {
			in.ContentType = aws.String(opts.ContentType)
		}
		out, err := s.PutObject(ctx, in, signedWith(buf[:n]))
		if err != nil {
			return PutResult{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
		}
		return PutResult{ETag: strings.Trim(aws.ToString(out.ETag), `"`), Size: int64(n)}, nil
	}
	return c.putMultipart(ctx, s, bucket, key, body, buf, opts)
}

// putMultipart uploads first (a full part already read) and the rest of
// body as a multipart upload.
func (c *Client) putMultipart(ctx context.Context, s *s3.Client, bucket, key string, body io.Reader, first []byte, opts PutOptions) (res PutResult, err error) {
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	up, err := s.CreateMultipartUpload(ctx, in)
	if err != nil {
		return res, fmt.Errorf("put %s/%s: start multipart upload: %w", bucket, key, err)
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			s.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId})
		}
	}()
	var done []types.CompletedPart
	buf, n := first, len(first)
	for num := int32(1); n > 0; num++ {
		out, err := s.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(num), Body: part(buf[:n], opts.Progress)}, signedWith(buf[:n]))
		if err != nil {
			return res, fmt.Errorf("put %s/%s: part %d: %w", bucket, key, num, err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag})
		res.Size += int64(n)
		if n < len(buf) {
			break // the body ended inside this part
		}
		n, err = io.ReadFull(body, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return res, fmt.Errorf("put %s/%s: read: %w", bucket, key, err)
		}
	}
	out, err := s.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		return res, fmt.Errorf("put %s/%s: complete multipart upload: %w", bucket, key, err)
	}
	res.ETag, res.Parts = strings.Trim(aws.ToString(out.ETag), `"`), len(done)
	return res, nil
}

// signedWith makes a request sign data's SHA-256 as its payload hash,
// computed here in one pass rather than by the SDK reading the body a
// second time (which would count twice in the progress).
func signedWith(data []byte) func(*s3.Options) {
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("AloftPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, hash), in)
				}), "ComputePayloadHash", middleware.Before)
		})
	}
}

// progressReader is a part's body that reports bytes read past the
// furthest point reached before, so a request sent again after a retry
// (which seeks back) is not counted twice.
type progressReader struct {
	*bytes.Reader
	size     int64
	furthest int64
	report   func(int64)
}

// part returns data as a seekable request body that reports progress.
func part(data []byte, report func(int64)) io.ReadSeeker {
	if report == nil {
		return bytes.NewReader(data)
	}
	return &progressReader{Reader: bytes.NewReader(data), size: int64(len(data)), report: report}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.Reader.Read(b)
	if pos := p.size - int64(p.Reader.Len()); pos > p.furthest {
		p.report(pos - p.furthest)
		p.furthest = pos
	}
	return n, err
}

// GetObject opens an object for reading and returns its size. The caller
// closes the body.
func (c *Client) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, int64, error) {
	out, err := c.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, 0, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	return out.Body, aws.ToInt64(out.ContentLength), nil
}

// DeleteObject deletes an object; deleting one that does not exist is not
// an error, as in S3.
func (c *Client) DeleteObject(ctx context.Context, bucket, key string) error {
	if _, err := c.S3().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// SplitName splits "BUCKET/KEY" (optionally written s3://BUCKET/KEY) into
// bucket and key. The key may be empty.
func SplitName(name string) (bucket, key string) {
	name = strings.TrimPrefix(name, "s3://")
	bucket, key, _ = strings.Cut(name, "/")
	return bucket, key
}
