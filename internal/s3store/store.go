package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// Docs keeps small per-bucket documents that every node must read alike.
type Docs interface {
	// Get returns the document of kind for bucket, nil if there is none.
	Get(ctx context.Context, bucket, kind string) ([]byte, error)
	// Put replaces it; a nil doc removes it.
	Put(ctx context.Context, bucket, kind string, doc []byte) error
}

// Options configure New.
type Options struct {
	// Endpoint is the store's URL, e.g. http://127.0.0.1:9000; the store
	// is addressed path-style.
	Endpoint string
	// Region signs the requests; "" is us-east-1.
	Region string
	// AccessKeyID and SecretAccessKey are the store's credentials.
	AccessKeyID, SecretAccessKey string
	// Docs keeps the bucket configurations Aloft acts on.
	Docs Docs
	// HTTPClient, if set, sends the requests.
	HTTPClient *http.Client
	// TempDir is where a body of unknown length (a browser's form
	// upload) is spooled to learn its length before it is sent; "" is
	// the system's.
	TempDir string
}

// Store is an objstore.Store over an external S3-compatible store.
type Store struct {
	c    *s3.Client
	docs Docs
	tmp  string        // Options.TempDir
	seq  atomic.Uint64 // last sequencer given

	mu      sync.Mutex
	buckets map[string]cachedBucket // recently described buckets
}

// cachedBucket is a bucket described less than bucketTTL ago.
type cachedBucket struct {
	info objstore.BucketInfo
	at   time.Time
}

// bucketTTL is how long a bucket's description is reused. A bucket's
// name, region and creation time never change; a deletion through
// another node is seen by the next request after this long at most, and
// at once by any request that reaches the store.
const bucketTTL = 2 * time.Second

var _ objstore.Store = (*Store)(nil)
var _ objstore.EncryptionStore = (*Store)(nil)

// New returns a Store that sends its requests to o.Endpoint.
func New(o Options) (*Store, error) {
	if o.Endpoint == "" || !(strings.HasPrefix(o.Endpoint, "http://") || strings.HasPrefix(o.Endpoint, "https://")) {
		return nil, fmt.Errorf("s3store: endpoint %q: want an http:// or https:// URL", o.Endpoint)
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, errors.New("s3store: the store's access key id and secret access key are required")
	}
	if o.Docs == nil {
		return nil, errors.New("s3store: no document store for bucket configurations")
	}
	if o.Region == "" {
		o.Region = objstore.DefaultRegion
	}
	hc := o.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		t.DisableCompression = true // objects pass as stored
		hc = &http.Client{Transport: t}
	}
	s := &Store{docs: o.Docs, tmp: o.TempDir, buckets: make(map[string]cachedBucket)}
	s.seq.Store(uint64(time.Now().UnixNano()))
	s.c = s3.New(s3.Options{
		Region:       o.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, ""),
		BaseEndpoint: aws.String(o.Endpoint),
		UsePathStyle: true,
		HTTPClient:   hc,
		// Checksums are sent only when the caller gave them, so that the
		// store keeps the ones the client asked for and no others; the
		// S3 handler has verified every body already.
		RequestChecksumCalculation:                aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation:                aws.ResponseChecksumValidationWhenRequired,
		DisableLogOutputChecksumValidationSkipped: true,
		// Bodies are streams the S3 handler reads from its client, which
		// cannot be hashed ahead of sending: they are sent unsigned, their
		// integrity resting on the MD5 and checksums passed on.
		APIOptions: []func(*middleware.Stack) error{v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware},
	})
	return s, nil
}

// nextSequencer returns a sequencer larger than every one given before.
func (s *Store) nextSequencer() string {
	return fmt.Sprintf("%016X", s.seq.Add(1))
}

// fail turns an error of the store's client into objstore's: the errors
// objstore names where the store's code is one of theirs, otherwise an
// objstore.ServiceError with the store's own code, status and message.
func fail(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fmt.Errorf("s3store: %w", err)
	}
	status := http.StatusInternalServerError
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		status = re.Response.StatusCode
	}
	code := api.ErrorCode()
	if known, ok := codes[code]; ok {
		return fmt.Errorf("%w (%s)", known, api.ErrorMessage())
	}
	if status == http.StatusPreconditionFailed {
		return objstore.ErrPreconditionFailed
	}
	return &objstore.ServiceError{Status: status, Code: code, Message: api.ErrorMessage()}
}

// codes are the store's error codes objstore has errors for.
var codes = map[string]error{
	"NoSuchBucket":            objstore.ErrNoSuchBucket,
	"NoSuchKey":               objstore.ErrNoSuchKey,
	"NoSuchVersion":           objstore.ErrNoSuchVersion,
	"BucketAlreadyOwnedByYou": objstore.ErrBucketExists,
	"BucketAlreadyExists":     objstore.ErrBucketExists,
	"BucketNotEmpty":          objstore.ErrBucketNotEmpty,
	"InvalidBucketName":       objstore.ErrInvalidBucket,
	"KeyTooLongError":         objstore.ErrKeyTooLong,
	"EntityTooLarge":          objstore.ErrTooLarge,
	"BadDigest":               objstore.ErrBadDigest,
	"NoSuchUpload":            objstore.ErrNoSuchUpload,
	"InvalidPart":             objstore.ErrInvalidPart,
	"InvalidPartOrder":        objstore.ErrInvalidPartOrder,
	"EntityTooSmall":          objstore.ErrTooSmall,
	"PreconditionFailed":      objstore.ErrPreconditionFailed,
	"InvalidBucketState":      objstore.ErrNeedsVersioning,
}

// notFound reports whether err is a 404 without a body (the answer to a
// HEAD), and for which header values.
func notFound(err error) (*http.Response, bool) {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && (re.Response.StatusCode == http.StatusNotFound || re.Response.StatusCode == http.StatusMethodNotAllowed) {
		return re.Response.Response, true
	}
	return nil, false
}

// CreateBucket creates a bucket in region.
func (s *Store) CreateBucket(ctx context.Context, name, region string) error {
	in := &s3.CreateBucketInput{Bucket: &name}
	if region != "" && region != objstore.DefaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	_, err := s.c.CreateBucket(ctx, in)
	return fail(err)
}

// DeleteBucket removes an empty bucket and the configurations kept for it.
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	if _, err := s.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name}); err != nil {
		return fail(err)
	}
	s.mu.Lock()
	delete(s.buckets, name)
	s.mu.Unlock()
	for _, kind := range docKinds {
		if err := s.docs.Put(ctx, name, kind, nil); err != nil {
			return fmt.Errorf("s3store: remove %s of %s: %w", kind, name, err)
		}
	}
	return nil
}

// Bucket describes a bucket.
func (s *Store) Bucket(ctx context.Context, name string) (objstore.BucketInfo, error) {
	if !objstore.ValidBucketName(name) {
		return objstore.BucketInfo{}, objstore.ErrNoSuchBucket
	}
	s.mu.Lock()
	c, ok := s.buckets[name]
	s.mu.Unlock()
	if ok && time.Since(c.at) < bucketTTL {
		return c.info, nil
	}
	out, err := s.c.ListBuckets(ctx, &s3.ListBucketsInput{Prefix: &name, MaxBuckets: aws.Int32(1)})
	if err != nil {
		return objstore.BucketInfo{}, fail(err)
	}
	for _, b := range out.Buckets {
		if aws.ToString(b.Name) != name {
			continue
		}
		info, err := s.bucketInfo(ctx, b)
		if err != nil {
			return objstore.BucketInfo{}, err
		}
		s.mu.Lock()
		s.buckets[name] = cachedBucket{info: info, at: time.Now()}
		s.mu.Unlock()
		return info, nil
	}
	return objstore.BucketInfo{}, objstore.ErrNoSuchBucket
}

// bucketInfo describes a bucket ListBuckets returned, asking its region
// if the store did not say.
func (s *Store) bucketInfo(ctx context.Context, b types.Bucket) (objstore.BucketInfo, error) {
	info := objstore.BucketInfo{Name: aws.ToString(b.Name), Region: aws.ToString(b.BucketRegion), Created: aws.ToTime(b.CreationDate)}
	if info.Region == "" {
		out, err := s.c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: b.Name})
		if err != nil {
			return objstore.BucketInfo{}, fail(err)
		}
		info.Region = string(out.LocationConstraint)
		if info.Region == "" {
			info.Region = objstore.DefaultRegion
		}
	}
	return info, nil
}

// ListBuckets lists every bucket in name order.
func (s *Store) ListBuckets(ctx context.Context) ([]objstore.BucketInfo, error) {
	var list []objstore.BucketInfo
	in := &s3.ListBucketsInput{}
	for {
		out, err := s.c.ListBuckets(ctx, in)
		if err != nil {
			return nil, fail(err)
		}
		for _, b := range out.Buckets {
			info, err := s.bucketInfo(ctx, b)
			if err != nil {
				return nil, err
			}
			list = append(list, info)
		}
		if aws.ToString(out.ContinuationToken) == "" {
			return list, nil
		}
		in.ContinuationToken = out.ContinuationToken
	}
}

// checkBucket returns ErrNoSuchBucket unless bucket exists.
func (s *Store) checkBucket(ctx context.Context, bucket string) error {
	_, err := s.Bucket(ctx, bucket)
	return err
}
