package objstore

import (
	"context"
)

// CORSStore keeps buckets' CORS configurations. The caller checks a
// configuration against S3's rules before it stores it.
type CORSStore interface {
	// PutCORS replaces a bucket's CORS configuration; nil removes it.
	PutCORS(ctx context.Context, bucket string, cfg *CORSConfig) error
	// CORS returns a bucket's CORS configuration, nil if it has none.
	// prev, if not nil, is a configuration an earlier call returned for
	// the same bucket: when the stored configuration is still the one
	// prev was read from, CORS returns prev itself without reading it
	// again, so that a caller can keep a cached copy current cheaply.
	CORS(ctx context.Context, bucket string, prev *CORSConfig) (*CORSConfig, error)
}

// CORSConfig is a bucket's CORS configuration: its rules, in order.
type CORSConfig struct {
	Rules []CORSRule `json:"rules"`

	fileStamp // the file it was read from, if any
}

// CORSRule is one rule of a CORS configuration.
type CORSRule struct {
	ID             string   `json:"id,omitempty"`
	AllowedMethods []string `json:"allowedMethods"`
	AllowedOrigins []string `json:"allowedOrigins"`
	AllowedHeaders []string `json:"allowedHeaders,omitempty"`
	ExposeHeaders  []string `json:"exposeHeaders,omitempty"`
	// MaxAgeSeconds is how long a browser may cache a preflight's
	// answer; nil sends no Access-Control-Max-Age.
	MaxAgeSeconds *int `json:"maxAgeSeconds,omitempty"`
}

// PutCORS replaces a bucket's CORS configuration; nil removes it.
func (d *Disk) PutCORS(ctx context.Context, bucket string, cfg *CORSConfig) error {
	return d.putBucketConfig(bucket, "cors.json", "CORS configuration", cfg, cfg == nil)
}

// CORS returns a bucket's CORS configuration, nil if it has none; prev,
// a configuration read before, is returned while it is current (see
// bucketconfig.go).
func (d *Disk) CORS(ctx context.Context, bucket string, prev *CORSConfig) (*CORSConfig, error) {
	return readBucketConfig(d, bucket, "cors.json", "CORS configuration", prev)
}
