package objstore

import (
	"context"
	"errors"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"io"
	"time"
)

// Store holds buckets, objects, multipart uploads and bucket notification
// configurations. Implementations are safe for concurrent use. Errors that
// callers must tell apart match the Err values with errors.Is; an error
// returned by a body reader passed to PutObject or UploadPart is returned
// wrapped, so errors.As still finds it.
type Store interface {
	// CreateBucket creates a bucket in region ("" means us-east-1).
	CreateBucket(ctx context.Context, name, region string) error
	// DeleteBucket removes an empty bucket and aborts its uploads.
	DeleteBucket(ctx context.Context, name string) error
	// Bucket describes a bucket.
	Bucket(ctx context.Context, name string) (BucketInfo, error)
	// ListBuckets lists every bucket in name order.
	ListBuckets(ctx context.Context) ([]BucketInfo, error)

	// PutObject stores body under key, replacing any object there. Nothing
	// becomes visible unless body reads to io.EOF and every check passes.
	// If body has a method Checksums() map[string]string, what it returns
	// after io.EOF is stored with opts.Checksums; UploadPart does the same.
	PutObject(ctx context.Context, bucket, key string, body io.Reader, opts PutOptions) (ObjectInfo, error)
	// Open opens an object for reading. The caller closes it.
	Open(ctx context.Context, bucket, key string) (Object, error)
	// HeadObject describes an object.
	HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// DeleteObject removes an object; removing one that does not exist is
	// not an error.
	DeleteObject(ctx context.Context, bucket, key string) (Deleted, error)
	// CopyObject copies an object. A nil opts keeps the source's metadata;
	// otherwise opts replaces it.
	CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, opts *PutOptions) (ObjectInfo, error)
	// ListObjects lists keys in byte order.
	ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)

	// CreateUpload starts a multipart upload and returns its ID.
	CreateUpload(ctx context.Context, bucket, key string, opts PutOptions) (string, error)
	// UploadPart stores part n (1 to MaxParts) of an upload.
	UploadPart(ctx context.Context, bucket, key, uploadID string, n int, body io.Reader, opts PartOptions) (PartInfo, error)
	// ListParts lists the parts of an upload numbered above marker, at most
	// max (1 to 1,000) of them.
	ListParts(ctx context.Context, bucket, key, uploadID string, marker, max int) (PartList, error)
	// CompleteUpload joins the listed parts into the object and ends the
	// upload.
	CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletedPart) (ObjectInfo, error)
	// AbortUpload ends an upload and removes its parts.
	AbortUpload(ctx context.Context, bucket, key, uploadID string) error
	MultipartStore    // the rest of multipart uploads: multipart_more.go
	TagStore          // object and bucket tags: tags.go
	CORSStore         // bucket CORS configurations: cors.go
	LifecycleStore    // bucket lifecycle configurations: lifecycle.go
	PublicAccessStore // bucket public access blocks: publicaccess.go
	WebsiteStore      // bucket website configurations: website.go
	VersionStore      // versioning and the versions of objects: versions.go
	LockStore         // Object Lock: objectlock.go

	// PutNotification replaces a bucket's notification configuration.
	PutNotification(ctx context.Context, bucket string, cfg NotificationConfig) error
	// Notification returns a bucket's notification configuration, empty if
	// none was set.
	Notification(ctx context.Context, bucket string) (NotificationConfig, error)

	// PutPolicy replaces a bucket's policy document; nil removes it.
	PutPolicy(ctx context.Context, bucket string, doc []byte) error
	// Policy returns a bucket's policy document, nil if it has none.
	Policy(ctx context.Context, bucket string) ([]byte, error)
}

// Limits AWS applies and this package enforces.
const (
	MaxKeyLen      = 1024                     // bytes of a key
	MaxObjectSize  = 5 << 30                  // bytes of one PutObject or part
	MinPartSize    = 5 << 20                  // bytes of every part but the last
	MaxParts       = 10000                    // parts of one upload
	MaxListKeys    = 1000                     // keys and prefixes of one list page
	DefaultRegion  = awsproto.DefaultRegion   // region of a bucket created without one
	defaultContent = "binary/octet-stream"    // Content-Type of an object stored without one
	multipartLimit = MaxParts * MaxObjectSize // largest completed upload
)

// Errors callers tell apart with errors.Is.
var (
	ErrNoSuchBucket     = errors.New("objstore: no such bucket")
	ErrBucketExists     = errors.New("objstore: bucket already exists")
	ErrBucketNotEmpty   = errors.New("objstore: bucket not empty")
	ErrInvalidBucket    = errors.New("objstore: invalid bucket name")
	ErrNoSuchKey        = errors.New("objstore: no such key")
	ErrInvalidKey       = errors.New("objstore: invalid key")
	ErrKeyTooLong       = errors.New("objstore: key too long")
	ErrTooLarge         = errors.New("objstore: entity too large")
	ErrBadDigest        = errors.New("objstore: content MD5 does not match")
	ErrNoSuchUpload     = errors.New("objstore: no such upload")
	ErrInvalidPart      = errors.New("objstore: invalid part")
	ErrInvalidPartOrder = errors.New("objstore: parts not in ascending order")
	ErrTooSmall         = errors.New("objstore: part smaller than the minimum")
	ErrNoParts          = errors.New("objstore: no parts")
	ErrCorrupt          = errors.New("objstore: corrupt object file")
)

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name    string    `json:"name"`
	Region  string    `json:"region"`
	Created time.Time `json:"created"`
}

// PutOptions is what a writer says about an object besides its content.
type PutOptions struct {
	// ContentType defaults to binary/octet-stream.
	ContentType string
	// Metadata is the user metadata: x-amz-meta-* names, lower-case and
	// without the prefix.
	Metadata map[string]string
	// Headers are the other stored response headers (Cache-Control,
	// Content-Disposition, Content-Encoding, Content-Language, Expires),
	// keyed by canonical header name.
	Headers map[string]string
	// ContentMD5, if set, is the MD5 the content must have (ErrBadDigest).
	ContentMD5 []byte
	// Checksums are the checksums the content was verified against, by
	// algorithm name ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256") with
	// base64 values, kept and returned with the object.
	Checksums map[string]string
	// ChecksumAlgorithm and ChecksumType are a multipart upload's
	// object checksum; see CreateUpload.
	ChecksumAlgorithm string
	ChecksumType      string
	// Tags are the object's tags (see TagStore).
	Tags map[string]string
	// Retention and LegalHold are the new version's Object Lock, for a
	// bucket with it; a zero Retention takes the bucket's default.
	Retention Retention
	LegalHold bool
	// Encryption is how the content is to be encrypted at rest; with no
	// Mode, the bucket's default encryption applies (see sse.go).
	Encryption Encryption
}

// PartOptions is what a writer says about a part besides its content.
type PartOptions struct {
	ContentMD5 []byte            // see PutOptions
	Checksums  map[string]string // see PutOptions
}

// ObjectInfo describes an object.
type ObjectInfo struct {
	Bucket       string
	Key          string
	Size         int64
	ETag         string // hex MD5, or hex MD5 of part MD5s + "-N"; unquoted
	LastModified time.Time
	ContentType  string
	Metadata     map[string]string
	Headers      map[string]string
	Checksums    map[string]string
	Parts        int     // parts of a completed multipart upload, else 0
	PartSizes    []int64 // their sizes, in order
	// ChecksumType is FULL_OBJECT or COMPOSITE for a multipart object
	// with a checksum, and PartChecksums its parts' checksums.
	ChecksumType  string
	PartChecksums []string
	Tags          map[string]string // the object's tags
	Encryption    Encryption        // encryption at rest, without a key
	// Sequencer orders changes to one key; set by the calls that change
	// an object.
	Sequencer string
	// VersionID is the object's version ("" for the null version, which
	// every object of a bucket that never had versioning is);
	// DeleteMarker says it is a delete marker, and IsLatest that it is
	// the key's current version (set by ListVersions).
	VersionID    string
	DeleteMarker bool
	IsLatest     bool
	// Retention and LegalHold are the version's Object Lock.
	Retention Retention
	LegalHold bool
}

// Object is an open object. Range returns a reader of part of its content;
// readers from one Object must not be used at the same time.
type Object interface {
	Info() ObjectInfo
	// Range returns a reader of length bytes from offset; length < 0 means
	// to the end.
	Range(offset, length int64) (io.Reader, error)
	Close() error
}

// Deleted reports a deletion.
type Deleted struct {
	Existed   bool   // there was an object to delete
	Sequencer string // see ObjectInfo
	Time      time.Time
	// VersionID is the version removed, or the delete marker made (""
	// for the null version), and DeleteMarker says which: a delete
	// marker was made or removed.
	VersionID    string
	DeleteMarker bool
}

// ListOptions selects and pages keys.
type ListOptions struct {
	Prefix    string // only keys starting with Prefix
	Delimiter string // roll keys up to common prefixes at the first Delimiter after Prefix
	// After skips every key and common prefix up to and including it: a
	// V1 marker, V2 start-after, or the NextMarker of the previous page.
	After   string
	MaxKeys int // page size, at most MaxListKeys; 0 or less means MaxListKeys
}

// ListResult is one page of keys.
type ListResult struct {
	Objects        []ObjectInfo // without metadata
	CommonPrefixes []string
	IsTruncated    bool
	// NextMarker is the last key or common prefix on the page; passed as
	// ListOptions.After it continues the listing.
	NextMarker string
}

// PartInfo describes a stored part.
type PartInfo struct {
	Number       int
	Size         int64
	ETag         string // hex MD5, unquoted
	LastModified time.Time
	Checksums    map[string]string
	Encryption   Encryption // the upload's encryption at rest, without a key
}

// PartList is one page of an upload's parts.
type PartList struct {
	Bucket      string
	Key         string
	UploadID    string
	Initiated   time.Time
	Parts       []PartInfo
	IsTruncated bool
	NextMarker  int // number of the last part listed
	// ChecksumAlgorithm and ChecksumType are the upload's object
	// checksum, if it has one.
	ChecksumAlgorithm, ChecksumType string
}

// CompletedPart names a part to join: its number and the ETag the upload
// answered (quotes optional).
type CompletedPart struct {
	Number int
	ETag   string
	// Checksums, if any, are the part's checksums as the request gives
	// them, by algorithm; each must be the part's.
	Checksums map[string]string
}

// NotificationConfig is a bucket's notification configuration.
type NotificationConfig struct {
	Functions []Notification `json:"functions,omitempty"`
	Topics    []Notification `json:"topics,omitempty"`
	Queues    []Notification `json:"queues,omitempty"`
}

// Notification sends a bucket's events to one destination: a function,
// a topic or a queue, named by the ARN of its kind.
type Notification struct {
	ID          string   `json:"id"`
	FunctionARN string   `json:"functionArn,omitempty"`
	TopicARN    string   `json:"topicArn,omitempty"`
	QueueARN    string   `json:"queueArn,omitempty"`
	Events      []string `json:"events"`           // e.g. "s3:ObjectCreated:*"
	Prefix      string   `json:"prefix,omitempty"` // key filter rule "prefix"
	Suffix      string   `json:"suffix,omitempty"` // key filter rule "suffix"
}
