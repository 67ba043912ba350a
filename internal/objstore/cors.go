package objstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

	read fs.FileInfo // the file it was read from, if any
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

// bucketCORSPath is the file of a bucket's CORS configuration.
func (d *Disk) bucketCORSPath(bucket string) string {
	return filepath.Join(d.bucketDir(bucket), "cors.json")
}

// PutCORS replaces a bucket's CORS configuration; nil removes it.
func (d *Disk) PutCORS(ctx context.Context, bucket string, cfg *CORSConfig) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	path := d.bucketCORSPath(bucket)
	if cfg == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("objstore: remove CORS configuration of %s: %w", bucket, err)
		}
		return nil
	}
	return writeJSONFile(d.tmp, path, cfg)
}

// CORS returns a bucket's CORS configuration, nil if it has none. A
// configuration is replaced by renaming a new file over the old one, so
// the file's identity, size and modification time tell whether prev is
// still current: one stat, no read. Several nodes sharing the directory
// see each other's changes the same way.
func (d *Disk) CORS(ctx context.Context, bucket string, prev *CORSConfig) (*CORSConfig, error) {
	if !ValidBucketName(bucket) {
		return nil, ErrNoSuchBucket
	}
	path := d.bucketCORSPath(bucket)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := d.checkBucket(bucket); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: CORS configuration of %s: %w", bucket, err)
	}
	if prev != nil && sameFile(prev.read, st) {
		return prev, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) { // removed since the stat
		return d.CORS(ctx, bucket, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: CORS configuration of %s: %w", bucket, err)
	}
	defer f.Close()
	// The identity of what is read is the open file's, so a rename
	// between the stat and the open costs one more read, never a stale
	// configuration taken for current.
	if st, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("objstore: CORS configuration of %s: %w", bucket, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("objstore: CORS configuration of %s: %w", bucket, err)
	}
	cfg := &CORSConfig{read: st}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("%w: CORS configuration of %s: %v", ErrCorrupt, bucket, err)
	}
	return cfg, nil
}

// sameFile reports whether a and b describe the same, unchanged file.
func sameFile(a, b fs.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
