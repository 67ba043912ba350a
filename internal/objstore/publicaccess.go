package objstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// PublicAccessStore keeps buckets' public access block configurations
// (S3's Block Public Access at bucket level). The store only keeps them;
// the caller enforces them.
type PublicAccessStore interface {
	// PutPublicAccessBlock replaces a bucket's public access block
	// configuration; nil removes it.
	PutPublicAccessBlock(ctx context.Context, bucket string, cfg *PublicAccessBlock) error
	// PublicAccessBlock returns a bucket's public access block
	// configuration, nil if it has none.
	PublicAccessBlock(ctx context.Context, bucket string) (*PublicAccessBlock, error)
}

// PublicAccessBlock is a bucket's public access block configuration:
// the four settings of S3's Block Public Access.
type PublicAccessBlock struct {
	// BlockPublicAcls refuses requests that set a public ACL.
	BlockPublicAcls bool `json:"blockPublicAcls"`
	// IgnorePublicAcls makes public ACLs grant nothing.
	IgnorePublicAcls bool `json:"ignorePublicAcls"`
	// BlockPublicPolicy refuses a public bucket policy.
	BlockPublicPolicy bool `json:"blockPublicPolicy"`
	// RestrictPublicBuckets limits access through a public bucket policy
	// to the bucket owner's account.
	RestrictPublicBuckets bool `json:"restrictPublicBuckets"`
}

// bucketPublicAccessPath is the file of a bucket's public access block
// configuration.
func (d *Disk) bucketPublicAccessPath(bucket string) string {
	return filepath.Join(d.bucketDir(bucket), "public-access-block.json")
}

// PutPublicAccessBlock replaces a bucket's public access block
// configuration; nil removes it. The file is replaced by a rename, so a
// reader sees the old configuration or the new one, never half of one.
func (d *Disk) PutPublicAccessBlock(ctx context.Context, bucket string, cfg *PublicAccessBlock) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	path := d.bucketPublicAccessPath(bucket)
	if cfg == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("objstore: remove public access block of %s: %w", bucket, err)
		}
		return nil
	}
	return writeJSONFile(d.tmp, path, cfg)
}

// PublicAccessBlock returns a bucket's public access block
// configuration, nil if it has none.
func (d *Disk) PublicAccessBlock(ctx context.Context, bucket string) (*PublicAccessBlock, error) {
	if err := d.checkBucket(bucket); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(d.bucketPublicAccessPath(bucket))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: public access block of %s: %w", bucket, err)
	}
	cfg := &PublicAccessBlock{}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("%w: public access block of %s: %v", ErrCorrupt, bucket, err)
	}
	return cfg, nil
}
